"""A send with a client_key is stored once, however often it arrives: the inbox composer
retrying on reconnect, two tabs, an API client retrying after a timeout, or all at once.
Keys are per business: another business may use the same one."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg

from tests.conftest import LiveServer, StandinServer
from tests.support.forms import page_csrf
from tests.support.shop import Shop, shop_with_customer, thread
from tests.support.whatsapp import conversation_with, customer_says, sa_mobile


def stored_with(owner_conn: psycopg.Connection, key: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    """(tenant, body) of every message stored under this key, in any business."""
    rows = owner_conn.execute(
        "SELECT tenant_id, body FROM messages WHERE client_key = %s ORDER BY tenant_id", (key,)
    ).fetchall()
    return [(row[0], row[1]) for row in rows]


def outbound_bodies(client: httpx.Client, conversation_id: str) -> list[str]:
    return [m["body"] for m in thread(client, conversation_id) if m["direction"] == "outbound"]


def api_send(shop: Shop, conversation_id: str, text: str, key: uuid.UUID) -> httpx.Response:
    return shop.client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": text, "client_key": str(key)},
        headers=shop.headers,
    )


def test_the_composer_sending_one_draft_twice_stores_one_message(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    shop = shop_with_customer(client, standin)
    conversation_id = conversation_with(client, shop.phone)["id"]
    token = page_csrf(client, f"/inbox/{conversation_id}")
    key = uuid.uuid4()
    form = {"body": "Be there at 3", "client_key": str(key), "csrf_token": token}
    for _ in range(2):
        answer = client.post(f"/inbox/{conversation_id}/messages", data=form)
        assert answer.status_code == 303, answer.text[:300]
        assert answer.headers["location"] == f"/inbox/{conversation_id}"
    assert outbound_bodies(client, conversation_id).count("Be there at 3") == 1
    assert [body for _, body in stored_with(owner_conn, key)] == ["Be there at 3"]
    # A new draft (a new key) is a new message, even with the same words.
    again = client.post(
        f"/inbox/{conversation_id}/messages", data={**form, "client_key": str(uuid.uuid4())}
    )
    assert again.status_code == 303
    assert outbound_bodies(client, conversation_id).count("Be there at 3") == 2


def test_the_api_answers_a_repeated_key_with_the_message_it_stored(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    shop = shop_with_customer(client, standin)
    conversation_id = conversation_with(client, shop.phone)["id"]
    key = uuid.uuid4()
    first = api_send(shop, conversation_id, "Your geyser is fixed", key)
    assert first.status_code == 202, first.text
    second = api_send(shop, conversation_id, "Your geyser is fixed", key)
    assert second.status_code == 202, second.text
    assert second.json()["id"] == first.json()["id"]
    assert outbound_bodies(client, conversation_id).count("Your geyser is fixed") == 1
    assert len(stored_with(owner_conn, key)) == 1
    # The schema tells integrators what the key is for.
    schema = client.get("/api/v1/openapi.json").json()
    described = schema["components"]["schemas"]["MessageIn"]["properties"]["client_key"]
    assert "Idempotency" in described["description"]


def test_concurrent_sends_with_one_key_store_one_message(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    shop = shop_with_customer(client, standin)
    conversation_id = conversation_with(client, shop.phone)["id"]
    key = uuid.uuid4()
    token = page_csrf(client, f"/inbox/{conversation_id}")

    def by_api(_: int) -> str:
        answer = api_send(shop, conversation_id, "Quote attached", key)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def by_form(_: int) -> str:
        answer = client.post(
            f"/inbox/{conversation_id}/messages",
            data={"body": "Quote attached", "client_key": str(key), "csrf_token": token},
        )
        assert answer.status_code == 303, answer.text[:300]
        return "form"

    with ThreadPoolExecutor(max_workers=12) as pool:
        api_ids = list(pool.map(by_api, range(8)))
        forms = [pool.submit(by_form, n) for n in range(4)]
        assert [f.result() for f in forms] == ["form"] * 4
    assert len(set(api_ids)) == 1
    assert stored_with(owner_conn, key) == [(stored_with(owner_conn, key)[0][0], "Quote attached")]
    assert outbound_bodies(client, conversation_id).count("Quote attached") == 1


def test_two_businesses_may_use_the_same_key(
    live_server: LiveServer, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    key = uuid.uuid4()
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as first,
        httpx.Client(base_url=live_server.url, timeout=20) as second,
    ):
        shops = [shop_with_customer(first, standin), shop_with_customer(second, standin)]
        conversations = [conversation_with(s.client, s.phone)["id"] for s in shops]
        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(
                pool.map(
                    lambda pair: api_send(pair[0], pair[1], "Same key, other business", key),
                    zip(shops, conversations, strict=True),
                )
            )
        assert [a.status_code for a in answers] == [202, 202], [a.text for a in answers]
        assert answers[0].json()["id"] != answers[1].json()["id"]
        stored = stored_with(owner_conn, key)
        assert len(stored) == 2 and stored[0][0] != stored[1][0]
        for shop, conversation_id in zip(shops, conversations, strict=True):
            bodies = outbound_bodies(shop.client, conversation_id)
            assert bodies.count("Same key, other business") == 1


def test_a_key_used_in_one_conversation_is_refused_in_another(
    client: httpx.Client, standin: StandinServer
) -> None:
    shop = shop_with_customer(client, standin)
    conversation_id = conversation_with(client, shop.phone)["id"]
    other_phone = sa_mobile()
    customer_says(standin, shop.channel, other_phone, "Are you open Saturday?")
    other_conversation = conversation_with(client, other_phone)["id"]
    key = uuid.uuid4()
    assert api_send(shop, conversation_id, "First", key).status_code == 202
    refused = api_send(shop, other_conversation, "First", key)
    assert refused.status_code == 409, refused.text
    assert "another conversation" in refused.json()["error"]["message"]
    assert outbound_bodies(client, other_conversation) == []
