"""Marketing consent (POPIA s69): STOP and START in English, Afrikaans, isiZulu and isiXhosa
through real signed webhooks and the inbound job, confirmed once; MARKETING templates refused
for an opted-out contact (API and inbox page) with nothing stored; the history on the contact
page, kept by a merge, and walled from other businesses."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import redis as sync_redis

from clientcompass.contacts.consent import Keyword, confirmation, parse
from clientcompass.realtime.bus import stream_name
from tests.conftest import LiveServer, StandinServer
from tests.support import factories
from tests.support.documents import vat_business
from tests.support.forms import post_form
from tests.support.reminders import approved_template
from tests.support.shop import Shop, shop_with_customer, thread
from tests.support.waiting import wait_for
from tests.support.whatsapp import (
    conversation_with,
    customer_says,
    sa_mobile,
    sent_to,
    signed_post,
)


def contact_of(client: httpx.Client, phone: str) -> dict[str, Any]:
    match = [c for c in client.get("/api/v1/contacts").json() if c["phone"] == phone]
    assert match, f"no contact {phone}"
    return match[0]  # type: ignore[no-any-return]


def replies(standin: StandinServer, phone: str) -> list[str]:
    return [m["body"] for m in sent_to(standin, phone)]


def test_only_a_whole_message_that_is_a_keyword_counts() -> None:
    for text in (
        "STOP",
        "Stop.",
        " stop ",
        "Unsubscribe!",
        "Opt-out",
        "STOP 🛑",
        "stop promotions",
    ):
        found = parse(text)
        assert found is not None and not found.opts_in and found.languages == ("en",), text
    assert parse(" yeka ") == parse("Yéka") == keyword("YEKA")
    assert keyword("YEKA").languages == ("zu", "xh") and keyword("Nqumama").languages == ("xh",)
    assert keyword("Staak").languages == ("af",) == keyword("Hou op!").languages
    assert keyword("Hou op!").word == "HOU OP" and not keyword("Hou op!").opts_in
    for text in ("please don't stop the work", "Cancel", "Kanselleer", "no", "stop stop", ""):
        assert parse(text) is None, text
    start = keyword("Qala")
    assert start.opts_in and start.word == "QALA" and keyword("START").opts_in
    assert keyword("Begin").languages == ("af",)
    both = confirmation(keyword("misa"), "Karoo Plumbing")
    assert "ngeke isakuthumelela" in both and "ayisayi kuphinda" in both
    assert both.endswith("Reply START to opt back in.") and "Karoo Plumbing" in both


def keyword(text: str) -> Keyword:
    found = parse(text)
    assert found is not None, text
    return found


LANGUAGES = [
    # (opt-out word, its confirmation, opt-in word, its confirmation)
    ("STOP", "You have opted out", "start", "You have opted back in"),
    ("Unsubscribe", "You have opted out", "START", "You have opted back in"),
    ("Staak!", "Jy is afgemeld", "Begin", "Jy is weer ingeteken"),
    (" yeka ", "ngeke isakuthumelela", "Qala", "Usubuyile"),
    ("Nqumama.", "ayisayi kuphinda", "QALA", "Ubuyile"),
]


def test_stop_and_start_in_each_language_opt_out_and_back_in_with_a_confirmation(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    shop = shop_with_customer(client, standin)
    customers = [sa_mobile() for _ in LANGUAGES]
    for phone, (stop, _, _, _) in zip(customers, LANGUAGES, strict=True):
        customer_says(standin, shop.channel, phone, "Hi, is the geyser quote ready?")
        customer_says(standin, shop.channel, phone, stop)
    ignored = sa_mobile()
    customer_says(standin, shop.channel, ignored, "please don't stop the work")
    customer_says(standin, shop.channel, ignored, "Start")  # never opted out: nothing to do
    live_server.run_jobs()
    for phone, (stop, said, _, _) in zip(customers, LANGUAGES, strict=True):
        contact = contact_of(client, phone)
        assert contact["marketing"]["opted_in"] is False, stop
        assert contact["marketing"]["how"] == f"replied {stop.strip(' .!').upper()}"
        assert [body for body in replies(standin, phone) if said in body], (stop, replies)
    assert contact_of(client, ignored)["marketing"]["opted_in"] is True
    assert replies(standin, ignored) == []

    for phone, (_, _, start, _said) in zip(customers, LANGUAGES, strict=True):
        customer_says(standin, shop.channel, phone, start)
    live_server.run_jobs()
    for phone, (_, _, start, said) in zip(customers, LANGUAGES, strict=True):
        assert contact_of(client, phone)["marketing"] == {
            "opted_in": True,
            "opted_out_at": None,
            "how": "",
        }
        assert len([body for body in replies(standin, phone) if said in body]) == 1, start


def inbound_form(shop: Shop, phone: str, body: str, sid: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": shop.channel["account_sid"],
        "From": f"whatsapp:{phone}",
        "To": shop.channel["whatsapp_from"],
        "Body": body,
        "NumMedia": "0",
        "WaId": phone.lstrip("+"),
        "ProfileName": "Sipho",
        "ApiVersion": "2010-04-01",
    }


def test_a_redelivered_stop_is_confirmed_once_and_recorded_once(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    form = inbound_form(shop, shop.phone, "Stop", f"SM{uuid.uuid4().hex}")
    for _ in range(2):
        delivered = signed_post(
            shop.channel["inbound_webhook_url"], form, shop.channel["auth_token"]
        )
        assert delivered.status_code == 200, delivered.text
    live_server.run_jobs()
    live_server.run_jobs()
    assert len([b for b in replies(standin, shop.phone) if "You have opted out" in b]) == 1
    contact = contact_of(client, shop.phone)
    rows = owner_conn.execute(
        "select opted_in, via, keyword, language from marketing_consent_events "
        "where contact_id = %s",
        (contact["id"],),
    ).fetchall()
    assert rows == [(False, "keyword", "STOP", "en")]


def marketing_template(
    client: httpx.Client, headers: dict[str, str], standin: StandinServer
) -> dict[str, Any]:
    created = client.post(
        "/api/v1/templates",
        json={
            "name": f"winter_special_{uuid.uuid4().hex[:6]}",
            "category": "MARKETING",
            "body": "Hi {{1}}, geyser services are 20% off this winter.",
            "variables": {"1": "Sipho"},
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    submitted = client.post(f"/api/v1/templates/{created.json()['id']}/submit", headers=headers)
    sid = submitted.json()["content_sid"]
    standin.control("POST", f"content/{sid}/approval", json={"status": "approved"})
    synced = client.post(f"/api/v1/templates/{created.json()['id']}/sync", headers=headers).json()
    assert synced["status"] == "approved" and synced["category"] == "MARKETING"
    return synced  # type: ignore[no-any-return]


def test_a_marketing_template_is_refused_for_an_opted_out_contact_and_utility_still_goes(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    offer = marketing_template(client, shop.headers, standin)
    utility = approved_template(client, shop.headers, standin, body="Hi {{1}}, we are on our way.")
    conversation = conversation_with(client, shop.phone)
    url = f"/api/v1/conversations/{conversation['id']}/messages"
    offer_json = {"template": {"id": offer["id"], "variables": {"1": "Sipho"}}}
    assert client.post(url, json=offer_json, headers=shop.headers).status_code == 202

    customer_says(standin, shop.channel, shop.phone, "STOP")
    live_server.run_jobs()
    stored = len(thread(client, conversation["id"]))

    refused = client.post(url, json=offer_json, headers=shop.headers)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "opted_out_of_marketing"
    assert error["message"].startswith("Sipho opted out of marketing messages on ")
    assert "(replied STOP). You can still send utility templates and replies." in error["message"]
    page = post_form(
        client,
        f"/inbox/{conversation['id']}/template",
        {"template_id": offer["id"], "var_1": "Sipho"},
        csrf_page=f"/inbox/{conversation['id']}",
    )
    assert page.status_code == 422 and "Sipho opted out of marketing messages" in page.text
    raw = client.post(
        url, json={"template": {"content_sid": offer["content_sid"]}}, headers=shop.headers
    )
    assert raw.status_code == 422, "a raw ContentSid is the same template"
    assert len(thread(client, conversation["id"])) == stored, "nothing stored when refused"
    assert owner_conn.execute(
        "select count(*) from messages where conversation_id = %s and content_sid = %s",
        (conversation["id"], offer["content_sid"]),
    ).fetchone() == (1,)

    allowed = client.post(
        url,
        json={"template": {"id": utility["id"], "variables": {"1": "Sipho"}}},
        headers=shop.headers,
    )
    assert allowed.status_code == 202, allowed.text
    reply = client.post(url, json={"text": "Noted, no more offers."}, headers=shop.headers)
    assert reply.status_code == 202, reply.text


def test_the_contact_page_shows_the_history_a_member_records_by_hand_and_a_merge_keeps_it(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    app_conn: psycopg.Connection,
    redis_client: sync_redis.Redis,
) -> None:
    shop = shop_with_customer(client, standin)
    customer_says(standin, shop.channel, shop.phone, "yeka")
    live_server.run_jobs()
    kept = contact_of(client, shop.phone)
    page = client.get(f"/contacts/{kept['id']}").text
    assert "Opted out" in page and "Replied YEKA" in page

    other = client.post(
        "/api/v1/contacts", json={"name": "Sipho Work", "phone": sa_mobile()}, headers=shop.headers
    ).json()
    action = f"/contacts/{other['id']}/marketing-consent"
    blank = post_form(
        client, action, {"choice": "out", "reason": " "}, csrf_page=f"/contacts/{other['id']}"
    )
    assert blank.status_code == 422 and "Say why" in blank.text
    recorded = post_form(
        client,
        action,
        {"choice": "out", "reason": "Asked on the phone"},
        csrf_page=f"/contacts/{other['id']}",
    )
    assert recorded.status_code == 303, recorded.text
    tenant_id, _ = factories.signed_in_as(client)
    wait_for(
        lambda: any(
            b"contact.consent" in fields[b"event"] and other["id"].encode() in fields[b"event"]
            for _, fields in redis_client.xrange(stream_name(tenant_id))
        ),
        message="the change announced to open pages",
    )
    again = client.get(f"/api/v1/contacts/{other['id']}").json()["marketing"]
    assert again["opted_in"] is False and again["how"].endswith("Asked on the phone")

    # Customer opts back in on the kept number; the merge keeps both histories.
    customer_says(standin, shop.channel, shop.phone, "START")
    live_server.run_jobs()
    merged = client.post(
        f"/api/v1/contacts/{kept['id']}/merge",
        json={"duplicate_id": other["id"]},
        headers=shop.headers,
    )
    assert merged.status_code == 200, merged.text
    history = client.get(f"/contacts/{kept['id']}").text
    for line in ("Replied YEKA", "Replied START", "Asked on the phone"):
        assert line in history, line
    assert merged.json()["marketing"]["opted_in"] is True, "the latest choice decides"

    with httpx.Client(base_url=live_server.url, timeout=20) as stranger:
        vat_business(stranger)
        assert stranger.get(f"/contacts/{kept['id']}").status_code == 404
        theirs = post_form(
            stranger,
            f"/contacts/{kept['id']}/marketing-consent",
            {"choice": "out", "reason": "Hijack"},
            csrf_page="/contacts",
        )
        assert theirs.status_code == 404
        assert stranger.get(f"/api/v1/contacts/{kept['id']}").status_code == 404
    assert client.get(f"/api/v1/contacts/{kept['id']}").json()["marketing"]["opted_in"] is True
    with app_conn.cursor() as cursor:
        cursor.execute(
            "select count(*) from marketing_consent_events where contact_id = %s", (kept["id"],)
        )
        assert cursor.fetchone() == (0,), "no tenant set: the wall shows nothing"
        cursor.execute("select set_config('app.tenant_id', %s, true)", (str(uuid.uuid4()),))
        cursor.execute(
            "update marketing_consent_events set opted_in = true where contact_id = %s",
            (kept["id"],),
        )
        assert cursor.rowcount == 0
    app_conn.rollback()
