"""Outbound WhatsApp: the outbox, the 24-hour window, forward-only statuses, retries and
reconciling a send whose answer never came."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import psycopg

from clientcompass.whatsapp import outbound_media
from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import sign_up
from tests.support.forms import api_headers
from tests.support.jobs import jobs_left, run_jobs_until
from tests.support.waiting import wait_for
from tests.support.whatsapp import (
    connect_channel,
    conversation_with,
    customer_says,
    sa_mobile,
    signed_post,
)


def open_conversation(
    client: httpx.Client, standin: StandinServer
) -> tuple[dict[str, Any], dict[str, Any], str]:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "Hello, are you open?")
    return channel, conversation_with(client, phone), phone


def send_text(client: httpx.Client, conversation_id: str, text: str) -> httpx.Response:
    return client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": text},
        headers=api_headers(client),
    )


def message(client: httpx.Client, conversation_id: str, message_id: str) -> dict[str, Any]:
    page = client.get(f"/api/v1/conversations/{conversation_id}/messages").json()
    return next(m for m in page["messages"] if m["id"] == message_id)


def creates_to(standin: StandinServer, phone: str) -> list[dict[str, Any]]:
    return standin.control("GET", "messages", params={"to": f"whatsapp:{phone}"}).json()  # type: ignore[no-any-return]


def test_reply_is_queued_sent_by_the_worker_and_ticks_to_read(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    _channel, conversation, phone = open_conversation(client, standin)
    response = send_text(client, conversation["id"], "Yes! We open at 8.")
    assert response.status_code == 202
    sent = response.json()
    assert sent["status"] == "queued" and sent["direction"] == "outbound"
    live_server.run_jobs()
    [twilio_copy] = creates_to(standin, phone)
    assert twilio_copy["body"] == "Yes! We open at 8."
    final = wait_for(
        lambda: (m := message(client, conversation["id"], sent["id"]))["status"] == "read" and m,
        message="the read tick",
    )
    assert {"queued", "accepted", "sent", "delivered", "read"} <= set(final["status_times"])


def test_closed_window_refuses_free_text_and_allows_a_template(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    channel, conversation, phone = open_conversation(client, standin)
    owner_conn.execute(
        "update conversations set last_inbound_at = now() - interval '25 hours' where id = %s",
        (conversation["id"],),
    )
    standin.control(
        "POST",
        "window",
        json={
            "sender": channel["whatsapp_from"],
            "customer": f"whatsapp:{phone}",
            "last_inbound_at": "2020-01-01T00:00:00Z",
        },
    )
    assert conversation_with(client, phone)["window"]["is_open"] is False
    refused = send_text(client, conversation["id"], "Are you still there?")
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "window_closed"
    assert "24-hour window closed at" in error["message"] and "template" in error["message"]
    page = client.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
    assert [m["direction"] for m in page["messages"]] == ["inbound"], "nothing was stored"

    content = httpx.post(
        f"{standin.url}/v1/Content",
        auth=(channel["account_sid"], channel["auth_token"]),
        json={
            "friendly_name": f"follow_up_{random.randint(1000, 9999)}",
            "language": "en",
            "variables": {"1": "Sipho"},
            "types": {"twilio/text": {"body": "Hi {{1}}, just following up on your enquiry."}},
        },
    ).json()
    standin.control("POST", f"content/{content['sid']}/approval", json={"status": "approved"})
    response = client.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        json={
            "template": {
                "content_sid": content["sid"],
                "variables": {"1": "Sipho"},
                "preview": "Hi Sipho, just following up on your enquiry.",
            }
        },
        headers=api_headers(client),
    )
    assert response.status_code == 202, response.text
    live_server.run_jobs()
    [twilio_copy] = creates_to(standin, phone)
    assert twilio_copy["content_sid"] == content["sid"] and twilio_copy["content_variables"] == {
        "1": "Sipho"
    }
    wait_for(
        lambda: message(client, conversation["id"], response.json()["id"])["status"] == "read",
        message="template read",
    )


def test_shuffled_and_duplicated_status_callbacks_end_in_the_right_state(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    channel, conversation, _phone = open_conversation(client, standin)
    ok = send_text(client, conversation["id"], "Quote coming").json()
    doomed = send_text(client, conversation["id"], "Will fail").json()
    live_server.run_jobs()
    sid_ok = wait_for(
        lambda: message(client, conversation["id"], ok["id"])["status"] == "read" and True,
        message="ok read",
    )
    assert sid_ok

    def callback(sid: str, status: str, **extra: str) -> None:
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "AccountSid": channel["account_sid"],
            "From": channel["whatsapp_from"],
            "To": "whatsapp:+27820000000",
            "ApiVersion": "2010-04-01",
            **extra,
        }
        assert (
            signed_post(channel["status_callback_url"], params, channel["auth_token"]).status_code
            == 204
        )

    sids = {
        m["body"]: m["sid"]
        for m in standin.control("GET", "messages").json()
        if m["body"] in ("Quote coming", "Will fail")
    }
    for status in ["delivered", "sent", "queued", "read", "sent", "delivered", "queued"]:
        callback(sids["Quote coming"], status)
    assert message(client, conversation["id"], ok["id"])["status"] == "read"
    for status, extra in [
        ("sent", {}),
        ("failed", {"ErrorCode": "63024"}),
        ("delivered", {}),
        ("read", {}),
        ("failed", {"ErrorCode": "63024"}),
    ]:
        callback(sids["Will fail"], status, **extra)
    failed = message(client, conversation["id"], doomed["id"])
    assert failed["status"] == "failed" and failed["error_code"] == 63024
    assert "cannot receive WhatsApp" in failed["error"]
    assert "failed" in failed["status_times"] and "sent" in failed["status_times"]


def test_rate_limited_send_is_retried_and_sent_once(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    _channel, conversation, phone = open_conversation(client, standin)
    standin.control("POST", "faults", json={"mode": "http_429", "count": 1})
    sent = send_text(client, conversation["id"], "Retry me").json()
    live_server.run_jobs()
    assert creates_to(standin, phone) == []
    assert message(client, conversation["id"], sent["id"])["status"] == "queued"
    # The second try comes due after its back-off.
    run_jobs_until(live_server, lambda: creates_to(standin, phone), message="the second try")
    assert [m["body"] for m in creates_to(standin, phone)] == ["Retry me"]
    metrics = client.get("/metrics").text
    assert 'clientcompass_twilio_send_errors_total{code="20429"}' in metrics, (
        "the worker's error is exported"
    )


def test_a_retried_send_keeps_its_place_ahead_of_the_next_one(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    """Twilio refuses the first of two replies for now: the second waits for it, so the
    customer reads them in the order they were written (a flow's greeting, then its question)."""
    _channel, conversation, phone = open_conversation(client, standin)
    standin.control("POST", "faults", json={"mode": "http_429", "count": 1})
    first = send_text(client, conversation["id"], "Hello from the plumber").json()
    send_text(client, conversation["id"], "What is the address?")
    live_server.run_jobs()
    assert creates_to(standin, phone) == [], "the second did not overtake the first"
    assert message(client, conversation["id"], first["id"])["status"] == "queued"
    run_jobs_until(
        live_server, lambda: len(creates_to(standin, phone)) == 2, message="both replies"
    )
    assert [m["body"] for m in creates_to(standin, phone)] == [
        "Hello from the plumber",
        "What is the address?",
    ]


def test_unknown_outcome_is_reconciled_not_resent(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    _channel, conversation, phone = open_conversation(client, standin)
    standin.control(
        "POST", "faults", json={"mode": "timeout_after_accept", "count": 1, "delay_seconds": 5}
    )
    sent = send_text(client, conversation["id"], "Did this arrive?").json()
    live_server.run_jobs()  # times out after 2 s; Twilio has it, we do not know
    assert [m["body"] for m in creates_to(standin, phone)] == ["Did this arrive?"]

    def reconciled() -> tuple[str, str] | None:
        row = owner_conn.execute(
            "select status, provider_sid from messages where id = %s", (sent["id"],)
        ).fetchone()
        return row if row is not None and row[1] is not None else None

    # The reconcile job, due a moment later, finds it in Twilio's list.
    row = run_jobs_until(live_server, reconciled, message="the reconcile")
    assert row[0] != "queued" and row[1] == creates_to(standin, phone)[0]["sid"]
    # Whatever is still queued for the message runs too, and sends nothing again.
    run_jobs_until(live_server, lambda: jobs_left(owner_conn, message_id=sent["id"]) == 0)
    assert len(creates_to(standin, phone)) == 1, "sent exactly once"


def test_another_tenants_conversation_cannot_be_read_or_written(
    live_server: LiveServer, standin: StandinServer
) -> None:
    with httpx.Client(base_url=live_server.url) as a, httpx.Client(base_url=live_server.url) as b:
        _channel, conversation, _phone = open_conversation(a, standin)
        sign_up(b)
        assert b.get(f"/api/v1/conversations/{conversation['id']}/messages").status_code == 404
        assert send_text(b, conversation["id"], "hijack").status_code == 404
        assert b.get(f"/api/v1/contacts/{conversation['contact']['id']}").status_code == 404


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a0e2b3a90000000049454e44ae426082"
)


def test_a_photo_goes_out_as_a_signed_url_that_twilio_fetches(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    _channel, conversation, phone = open_conversation(client, standin)
    headers = api_headers(client)
    fake = client.post(
        "/api/v1/media", files={"file": ("x.png", b"<html>", "image/png")}, headers=headers
    )
    assert fake.status_code == 422 and "not a real image/png" in fake.json()["error"]["message"]
    uploaded = client.post(
        "/api/v1/media", files={"file": ("Geyser quote.png", PNG, "image/png")}, headers=headers
    )
    assert uploaded.status_code == 201, uploaded.text
    media_id = uploaded.json()["id"]
    response = client.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        json={"text": "Here is the photo", "media_ids": [media_id]},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    again = client.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        json={"media_ids": [media_id]},
        headers=headers,
    )
    assert again.status_code == 422 and "sent already" in again.json()["error"]["message"]
    live_server.run_jobs()
    [sent] = creates_to(standin, phone)
    assert sent["body"] == "Here is the photo"
    [attached] = sent["media"]
    assert attached["source_url"].startswith(f"{live_server.url}/m/")
    assert (
        attached["error"] is None
        and attached["content_type"] == "image/png"
        and attached["size"] == len(PNG)
    )
    url = attached["source_url"]
    assert httpx.get(url).content == PNG, "Twilio fetches it without a login"
    token = url.split("/m/")[1].split("/")[0]
    forged = url.replace(token, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    assert httpx.get(forged).status_code == 404


def test_uploads_are_tenant_scoped(live_server: LiveServer, standin: StandinServer) -> None:
    with httpx.Client(base_url=live_server.url) as a, httpx.Client(base_url=live_server.url) as b:
        sign_up(a)
        uploaded = a.post(
            "/api/v1/media", files={"file": ("a.png", PNG, "image/png")}, headers=api_headers(a)
        ).json()
        _channel, conversation, _phone = open_conversation(b, standin)
        stolen = b.post(
            f"/api/v1/conversations/{conversation['id']}/messages",
            json={"media_ids": [uploaded["id"]]},
            headers=api_headers(b),
        )
        assert stolen.status_code == 422


def test_signed_media_links_expire_and_bind_their_file() -> None:
    tenant, media = uuid.uuid4(), uuid.uuid4()
    live = outbound_media.signed_token("secret-a", tenant, media)
    assert outbound_media.read_token("secret-a", live) == (tenant, media)
    assert outbound_media.read_token("secret-b", live) is None, "another key cannot have signed it"
    expired = outbound_media.signed_token("secret-a", tenant, media, lifetime=-1)
    assert outbound_media.read_token("secret-a", expired) is None
    assert outbound_media.read_token("secret-a", "not-a-token") is None
