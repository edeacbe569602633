"""Control characters (a NUL above all, which PostgreSQL text cannot hold) are taken out of
what comes in, in one place (web/limits.py with web/forms.py's cleaners), so no endpoint
answers 500 and a customer's WhatsApp message with odd bytes is stored, cleaned, not lost."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

import httpx
import psycopg
from twilio.request_validator import RequestValidator

from clientcompass.web.forms import clean_form_bytes, clean_json_bytes, clean_text
from tests.conftest import LiveServer, MailSink, StandinServer
from tests.support.accounts import PASSWORD, sign_up, unique_email
from tests.support.forms import api_headers, page_csrf, post_form
from tests.support.whatsapp import connect_channel_through_the_api, sa_mobile, signed_post


def test_sign_up_with_a_nul_in_every_field_signs_up_without_it(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    email = unique_email("nul")
    response = post_form(
        client,
        "/signup",
        {
            "business_name": "Nul\x00 Plumbing\x1b",
            "owner_name": "Thandi\x00 Mokoena",
            "email": email + "\x00",
            "password": PASSWORD + "\x00",
        },
        csrf_page="/signup",
    )
    assert response.status_code == 303, response.text[:500]
    row = owner_conn.execute(
        "select u.name, t.name from users u join tenants t on t.id = u.tenant_id "
        "where u.email = %s",
        (email,),
    ).fetchone()
    assert row == ("Thandi Mokoena", "Nul Plumbing")
    # The password was cleaned the same way at sign-up and at sign-in.
    other = httpx.Client(base_url=str(client.base_url))
    signed_in = post_form(
        other, "/login", {"email": email, "password": PASSWORD}, csrf_page="/login"
    )
    assert signed_in.status_code == 303


def test_forgot_password_with_a_nul_sends_the_reset_link(
    client: httpx.Client, live_server: LiveServer, mail_sink: MailSink
) -> None:
    account = sign_up(client)
    anonymous = httpx.Client(base_url=str(client.base_url))
    response = post_form(
        anonymous,
        "/forgot-password",
        {"email": account.email + "\x00\x07"},
        csrf_page="/forgot-password",
    )
    assert response.status_code == 200
    assert "a reset link is on its way" in response.text
    live_server.run_jobs()
    assert "/reset-password?token=" in mail_sink.wait_for(account.email)


def test_the_json_api_stores_text_without_control_characters(client: httpx.Client) -> None:
    sign_up(client)
    response = client.post(
        "/api/v1/contacts",
        content=(
            f'{{"phone": "{sa_mobile()}", "name": "Lerato\\u0000 M\\u0008",'
            ' "notes": "a\\tb\\nc\\ud800", "address": "12 Main Rd\\u001f"}'
        ).encode(),
        headers={**api_headers(client), "content-type": "application/json"},
    )
    assert response.status_code == 201, response.text
    contact = client.get(f"/api/v1/contacts/{response.json()['id']}").json()
    assert contact["name"] == "Lerato M"
    assert contact["notes"] == "a\tb\nc\ufffd"  # tab and newline kept; a lone surrogate replaced
    assert contact["address"] == "12 Main Rd"
    # In a query string too (search).
    search = client.get("/api/v1/contacts", params={"q": "Lerato\x00"})
    assert search.status_code == 200
    assert [c["id"] for c in search.json()] == [contact["id"]]


def test_a_signed_whatsapp_message_with_odd_bytes_is_stored_cleaned(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    channel = connect_channel_through_the_api(client, standin)
    phone = sa_mobile()
    sid = f"SM{uuid.uuid4().hex}"
    params = {
        "MessageSid": sid,
        "AccountSid": channel["account_sid"],
        "From": f"whatsapp:{phone}",
        "To": channel["whatsapp_from"],
        "Body": "Hi\x00 there\x01, line\nnext",
        "NumMedia": "0",
        "WaId": phone.lstrip("+"),
        "ProfileName": "Sipho\x00",
    }
    # Twilio signs the values as sent, NUL and all: the signature must still check out.
    response = signed_post(channel["inbound_webhook_url"], params, channel["auth_token"])
    assert response.status_code == 200, response.text
    row = owner_conn.execute(
        "select m.body, m.details->'twilio'->>'Body', c.profile_name from messages m "
        "join conversations v on v.tenant_id = m.tenant_id and v.id = m.conversation_id "
        "join contacts c on c.tenant_id = v.tenant_id and c.id = v.contact_id "
        "where m.provider_sid = %s",
        (sid,),
    ).fetchone()
    assert row == ("Hi there, line\nnext", "Hi there, line\nnext", "Sipho")
    # Invalid UTF-8 in the form's escapes: stored with U+FFFD where the bad byte was.
    sid2 = f"SM{uuid.uuid4().hex}"
    fields = {**params, "MessageSid": sid2, "Body": "caf\ufffd ok"}
    signature = RequestValidator(channel["auth_token"]).compute_signature(
        channel["inbound_webhook_url"], fields
    )
    others = urlencode({k: v for k, v in fields.items() if k != "Body"})
    sent = httpx.post(
        channel["inbound_webhook_url"],
        content=f"{others}&Body=caf%C3+ok".encode(),
        headers={
            "X-Twilio-Signature": signature,
            "content-type": "application/x-www-form-urlencoded",
        },
    )
    assert sent.status_code == 200, sent.text
    body = owner_conn.execute("select body from messages where provider_sid = %s", (sid2,))
    assert body.fetchone() == ("caf\ufffd ok",)


def test_the_cleaners_leave_everything_else_byte_for_byte() -> None:
    assert clean_text("a\x00b\x7fc\td\r\ne\u200bf") == "abc\td\r\ne\u200bf"
    assert (
        clean_form_bytes(b"a=%00x%0A%0d%09%25%30%30%7f%1Fy&b=\x01z")
        == b"a=x%0A%0d%09%25%30%30y&b=z"
    )
    assert clean_form_bytes(b"a=%2500") == b"a=%2500"  # a literal "%00", not a NUL
    untouched = b'{"a": "\\\\u0000 is text", "b": 1.10}'
    assert clean_json_bytes(b'{"a": "x"}') == b'{"a": "x"}'
    assert clean_json_bytes(untouched).decode() in (
        untouched.decode(),
        '{"a": "\\\\u0000 is text", "b": 1.1}',
    )
    assert clean_json_bytes(b"not json \\u0000") == b"not json \\u0000"


def test_every_anonymous_form_survives_a_nul(client: httpx.Client) -> None:
    """The sign-in, sign-up, reset and forgot forms, with a NUL in each field: never a 500."""
    anonymous = httpx.Client(base_url=str(client.base_url))
    for path, fields in (
        ("/login", {"email": "a\x00@b.co", "password": "x\x00"}),
        (
            "/signup",
            {"business_name": "\x00", "owner_name": "\x00", "email": "\x00", "password": "\x00"},
        ),
        ("/forgot-password", {"email": "\x00"}),
        ("/reset-password", {"token": "\x00", "password": "\x00"}),
    ):
        token = page_csrf(anonymous, path if path != "/reset-password" else "/forgot-password")
        response = anonymous.post(path, data={**fields, "csrf_token": token})
        assert response.status_code < 500, f"{path}: {response.status_code}"
