"""Inbound WhatsApp: signatures, tenant routing, idempotency, contacts and conversations."""

from __future__ import annotations

import concurrent.futures
import uuid

import httpx
import psycopg
from twilio.request_validator import RequestValidator

from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import invite_and_join, sign_up
from tests.support.forms import api_headers
from tests.support.whatsapp import (
    connect_channel,
    connect_channel_through_the_api,
    conversation_with,
    customer_says,
    sa_mobile,
    signed_post,
)


def inbound_params(
    channel: dict[str, str], phone: str, sid: str | None = None, body: str = "Hello"
) -> dict[str, str]:
    return {
        "MessageSid": sid or f"SM{uuid.uuid4().hex}",
        "SmsMessageSid": sid or f"SM{uuid.uuid4().hex}",
        "AccountSid": channel["account_sid"],
        "From": f"whatsapp:{phone}",
        "To": channel["whatsapp_from"],
        "Body": body,
        "NumMedia": "0",
        "WaId": phone.lstrip("+"),
        "ProfileName": "Nomvula",
        "ApiVersion": "2010-04-01",
    }


def test_connecting_checks_credentials_and_seals_the_token(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    account = sign_up(client)
    real = standin.control("POST", "accounts", json={}).json()
    bad = client.post(
        "/api/v1/channels",
        json={
            "account_sid": real["account_sid"],
            "auth_token": "0" * 32,
            "whatsapp_from": "whatsapp:+27821234567",
        },
        headers=api_headers(client),
    )
    assert bad.status_code == 422
    assert "did not accept" in bad.json()["error"]["message"]
    assert client.get("/api/v1/channels").json() == []
    channel = connect_channel_through_the_api(client, standin)
    assert channel["inbound_webhook_url"].endswith("/inbound")
    key = channel["inbound_webhook_url"].split("/webhooks/twilio/")[1].split("/")[0]
    assert len(key) > 60 and account.tenant_id.hex in key
    sealed = owner_conn.execute(
        "select auth_token_sealed from channels where tenant_id = %s", (account.tenant_id,)
    ).fetchone()[0]  # type: ignore[index]
    assert channel["auth_token"] not in sealed and sealed.startswith("v1:")


def test_agents_cannot_connect_channels(live_server: LiveServer, standin: StandinServer) -> None:
    with (
        httpx.Client(base_url=live_server.url) as owner,
        httpx.Client(base_url=live_server.url) as agent,
    ):
        sign_up(owner)
        invite_and_join(owner, agent)
        real = standin.control("POST", "accounts", json={}).json()
        response = agent.post(
            "/api/v1/channels",
            json={
                **{k: real[k] for k in ("account_sid", "auth_token")},
                "whatsapp_from": "whatsapp:+27821234567",
            },
            headers=api_headers(agent),
        )
        assert response.status_code == 403


def test_a_customer_message_creates_contact_and_conversation(
    client: httpx.Client, standin: StandinServer
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    delivered = customer_says(
        standin,
        channel,
        phone,
        "Can you fix a geyser on Saturday?",
        button_payload="BOOK",
        button_text="Book",
    )
    assert delivered["status_code"] == 200
    conversation = conversation_with(client, phone)
    assert conversation["contact"]["profile_name"] == "Sipho"
    assert conversation["window"]["is_open"] and conversation["window"]["seconds_left"] > 23 * 3600
    assert conversation["unread_count"] == 1
    page = client.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
    [message] = page["messages"]
    assert (
        message["direction"] == "inbound" and message["body"] == "Can you fix a geyser on Saturday?"
    )
    assert message["details"]["button"] == {"payload": "BOOK", "text": "Book"}
    contact = client.get(f"/api/v1/contacts/{conversation['contact']['id']}").json()
    assert contact["phone"] == phone


def test_unsigned_forged_and_wrong_url_webhooks_get_403_and_store_nothing(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    url = channel["inbound_webhook_url"]
    phone = sa_mobile()
    params = inbound_params(channel, phone)
    attempts = {
        "unsigned": httpx.post(url, data=params),
        "forged": signed_post(url, params, "f" * 32),
        "wrong url": signed_post(
            url, params, channel["auth_token"], sign_url=url.replace("/inbound", "/other")
        ),
        "tampered": httpx.post(
            url,
            data={**params, "Body": "changed"},
            headers={
                "X-Twilio-Signature": RequestValidator(channel["auth_token"]).compute_signature(
                    url, params
                )
            },
        ),
    }
    for name, response in attempts.items():
        assert response.status_code == 403, name
    assert client.get("/api/v1/conversations").json() == []
    good = signed_post(url, params, channel["auth_token"])
    assert good.status_code == 200
    assert good.headers["content-type"].startswith("text/xml") and "<Response/>" in good.text
    assert conversation_with(client, phone)


def test_a_webhook_lands_only_in_its_own_tenant(
    live_server: LiveServer, standin: StandinServer
) -> None:
    with httpx.Client(base_url=live_server.url) as a, httpx.Client(base_url=live_server.url) as b:
        sign_up(a)
        tenant_b = sign_up(b)
        channel_a = connect_channel(a, standin)
        phone = sa_mobile()
        customer_says(standin, channel_a, phone)
        assert conversation_with(a, phone)
        assert b.get("/api/v1/conversations").json() == []
        # A's URL with B's tenant in the key: unknown channel, refused.
        key_a = channel_a["inbound_webhook_url"].split("/webhooks/twilio/")[1].split("/")[0]
        prefix, _tenant, random_part = key_a.split("_", 2)
        crossed = channel_a["inbound_webhook_url"].replace(
            key_a, f"{prefix}_{tenant_b.tenant_id.hex}_{random_part}"
        )
        response = signed_post(
            crossed, inbound_params(channel_a, sa_mobile()), channel_a["auth_token"]
        )
        assert response.status_code == 403
        assert b.get("/api/v1/conversations").json() == []


def test_ten_concurrent_redeliveries_store_one_message(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    account = sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    params = inbound_params(channel, phone, sid=f"SM{uuid.uuid4().hex}")
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(
            pool.map(
                lambda _: signed_post(
                    channel["inbound_webhook_url"], params, channel["auth_token"]
                ),
                range(10),
            )
        )
    assert [r.status_code for r in responses] == [200] * 10
    count = owner_conn.execute(
        "select count(*) from messages where tenant_id = %s and provider_sid = %s",
        (account.tenant_id, params["MessageSid"]),
    ).fetchone()
    assert count == (1,)
    assert conversation_with(client, phone)["unread_count"] == 1


def test_a_new_customers_first_messages_at_once_make_one_contact_and_conversation(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    account = sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    batch = [inbound_params(channel, phone, sid=f"SM{uuid.uuid4().hex}") for _ in range(10)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(
            pool.map(
                lambda params: signed_post(
                    channel["inbound_webhook_url"], params, channel["auth_token"]
                ),
                batch,
            )
        )
    assert [r.status_code for r in responses] == [200] * 10
    counts = owner_conn.execute(
        "select (select count(*) from contacts where tenant_id = %(t)s),"
        " (select count(*) from conversations where tenant_id = %(t)s),"
        " (select count(*) from messages where tenant_id = %(t)s)",
        {"t": account.tenant_id},
    ).fetchone()
    assert counts == (1, 1, 10)
    assert conversation_with(client, phone)["unread_count"] == 10


def test_a_new_message_reopens_a_resolved_conversation(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "first")
    conversation = conversation_with(client, phone)
    owner_conn.execute(
        "update conversations set status = 'resolved' where id = %s", (conversation["id"],)
    )
    customer_says(standin, channel, phone, "second")
    again = conversation_with(client, phone)
    assert (
        again["id"] == conversation["id"]
        and again["status"] == "open"
        and again["unread_count"] == 2
    )
    assert again["last_message_preview"] == "second"
    events = owner_conn.execute(
        "select kind, data->>'reason', data->>'was' from conversation_events"
        " where conversation_id = %s",
        (conversation["id"],),
    ).fetchall()
    assert events == [("reopened", "message", "resolved")]
    assert "Reopened: the customer wrote again" in client.get(f"/inbox/{conversation['id']}").text


def test_the_inbound_fast_lane_keeps_the_common_request_handling(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    account = sign_up(client)
    channel = connect_channel(client, standin)
    response = signed_post(
        channel["inbound_webhook_url"], inbound_params(channel, sa_mobile()), channel["auth_token"]
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.headers["x-request-id"] and response.headers["x-content-type-options"]
    assert 'route="/webhooks/twilio/{key}/inbound"' in client.get("/metrics").text

    huge = inbound_params(channel, sa_mobile(), body="x" * 300_000)
    response = signed_post(channel["inbound_webhook_url"], huge, channel["auth_token"])
    assert response.status_code == 413
    stored = owner_conn.execute(
        "select count(*) from messages where tenant_id = %s", (account.tenant_id,)
    ).fetchone()
    assert stored == (1,)
