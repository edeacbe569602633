"""Inbound media: fetched in a job with the channel's credentials from Twilio's API host,
following Twilio's redirect without them; anything pointing elsewhere is refused."""

from __future__ import annotations

import base64
import http.server
import threading
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from tests.conftest import LiveServer, StandinServer, free_port
from tests.support.accounts import sign_up
from tests.support.jobs import run_jobs_until
from tests.support.whatsapp import (
    connect_channel,
    conversation_with,
    customer_says,
    sa_mobile,
    signed_post,
)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def media_rows(conn: psycopg.Connection, tenant_id: uuid.UUID) -> list[tuple[str, str, str]]:
    return conn.execute(
        "select state::text, content_type, error from message_media where tenant_id = %s order by position",
        (tenant_id,),
    ).fetchall()


def test_inbound_image_is_fetched_stored_and_served_to_members_only(
    live_server: LiveServer, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    with (
        httpx.Client(base_url=live_server.url) as client,
        httpx.Client(base_url=live_server.url) as other,
    ):
        account = sign_up(client)
        sign_up(other)
        channel = connect_channel(client, standin)
        phone = sa_mobile()
        standin.control("POST", "media", json={"not_found_first": 1})  # Twilio's "just arrived" 404
        customer_says(
            standin,
            channel,
            phone,
            "",
            media=[
                {
                    "content_type": "image/png",
                    "data_base64": base64.b64encode(PNG).decode(),
                    "filename": "leak.png",
                }
            ],
        )
        conversation = conversation_with(client, phone)
        assert conversation["last_message_preview"] == "📷 Photo"
        live_server.run_jobs()  # first fetch meets the 404 and is retried
        assert media_rows(owner_conn, account.tenant_id) != [("stored", "image/png", "")]
        run_jobs_until(
            live_server,
            lambda: media_rows(owner_conn, account.tenant_id) == [("stored", "image/png", "")],
            message="the retried fetch",
        )
        page = client.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
        [item] = page["messages"][0]["media"]
        assert item["state"] == "stored" and item["size"] == len(PNG)
        served = client.get(item["url"])
        assert served.status_code == 200 and served.content == PNG
        assert served.headers["content-type"] == "image/png"
        assert other.get(item["url"]).status_code == 404, "another business cannot fetch it"
        with httpx.Client(base_url=live_server.url) as anonymous:
            assert anonymous.get(item["url"]).status_code in (303, 401)


class CountingHandler(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        CountingHandler.hits += 1
        self.send_response(200)
        self.send_header("content-type", "image/png")
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def bystander() -> Iterator[str]:
    """An HTTP server the app must never be tricked into calling."""
    CountingHandler.hits = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_media_urls_off_the_twilio_host_are_refused(
    live_server: LiveServer, standin: StandinServer, owner_conn: psycopg.Connection, bystander: str
) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        account = sign_up(client)
        channel = connect_channel(client, standin)
        phone = sa_mobile()
        sid = f"MM{uuid.uuid4().hex}"
        targets = [
            f"{bystander}/steal.png",
            "http://127.0.0.1:5432/",
            "http://169.254.169.254/latest/meta-data/",
        ]
        params = {
            "MessageSid": sid,
            "AccountSid": channel["account_sid"],
            "From": f"whatsapp:{phone}",
            "To": channel["whatsapp_from"],
            "Body": "",
            "WaId": phone.lstrip("+"),
            "NumMedia": str(len(targets)),
            **{f"MediaUrl{i}": url for i, url in enumerate(targets)},
            **{f"MediaContentType{i}": "image/png" for i in range(len(targets))},
        }
        assert (
            signed_post(channel["inbound_webhook_url"], params, channel["auth_token"]).status_code
            == 200
        )
        live_server.run_jobs()
        rows = media_rows(owner_conn, account.tenant_id)
        assert [state for state, _, _ in rows] == ["failed", "failed", "failed"]
        assert all("not on the Twilio API host" in error for _, _, error in rows)
        assert CountingHandler.hits == 0, "the app made a request it should have refused"
