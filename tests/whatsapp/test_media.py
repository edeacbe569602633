"""Inbound media: fetched in a job with the channel's credentials from Twilio's API host,
following Twilio's redirect without them; anything pointing elsewhere is refused."""

from __future__ import annotations

import base64
import http.server
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from clientcompass.whatsapp import media
from tests.conftest import LiveServer, StandinServer, free_port
from tests.support import factories
from tests.support.accounts import sign_up
from tests.support.aio import run_async
from tests.support.jobs import run_jobs_until
from tests.support.whatsapp import (
    connect_channel,
    conversation_with,
    customer_says,
    sa_mobile,
    signed_post,
)
from tests.support.worker import run_queued_jobs

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
        live_server.run_jobs()  # the first fetch meets the 404 and is retried (2 s later)
        run_jobs_until(
            live_server,
            lambda: media_rows(owner_conn, account.tenant_id) == [("stored", "image/png", "")],
            message="the retried fetch",
        )
        # The 404 was met and retried: the fetch job ran twice (not "stored at once").
        (attempts,) = owner_conn.execute(
            "select max(attempts) from procrastinate_jobs where task_name = 'whatsapp.fetch_media' "
            "and args->>'tenant_id' = %s",
            (str(account.tenant_id),),
        ).fetchone()  # type: ignore[misc]
        assert attempts == 2
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


class TwilioProxy(http.server.BaseHTTPRequestHandler):
    """Forwards to the Twilio stand-in and records every path asked for: what the worker
    actually fetched, with the channel's credentials."""

    upstream = ""
    paths: list[str] = []

    def do_GET(self) -> None:
        TwilioProxy.paths.append(self.path)
        answer = httpx.get(
            TwilioProxy.upstream + self.path,
            headers={"authorization": self.headers.get("authorization", "")},
            follow_redirects=False,
        )
        self.send_response(answer.status_code)
        for name in ("content-type", "location"):
            if name in answer.headers:
                self.send_header(name, answer.headers[name])
        self.send_header("content-length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def twilio_proxy(standin: StandinServer) -> Iterator[str]:
    TwilioProxy.upstream, TwilioProxy.paths = standin.url, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), TwilioProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def test_media_urls_are_normalised_and_only_this_accounts_media_paths_are_fetched(
    live_server: LiveServer,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
    twilio_proxy: str,
) -> None:
    """Issue 10 item 8: `<base>/../metrics` passed a prefix check and the worker fetched
    /metrics with the channel's credentials. The Twilio API base is the proxy here."""
    with httpx.Client(base_url=live_server.url) as client:
        account = sign_up(client)
        channel = connect_channel(client, standin)
        other_account = standin.control("POST", "accounts", json={}).json()["account_sid"]
        message, media_sid, base = sid("MM"), sid("ME"), twilio_proxy
        own = f"/2010-04-01/Accounts/{channel['account_sid']}/Messages/{message}/Media/{media_sid}"
        port = twilio_proxy.rsplit(":", 1)[1]
        targets = [
            f"{base}{own}",  # Twilio's media of this message: fetched
            f"{base}/2010-04-01/Accounts/{channel['account_sid']}/Messages/{message}/Media/x/..",
            f"{base}/../metrics",
            f"{base}/%2e%2e/metrics",
            f"{base}{own}/../../../../../../../metrics",
            f"{base}/2010-04-01/Accounts/{other_account}/Messages/{message}/Media/{media_sid}",
            f"{base}/2010-04-01/Accounts/{channel['account_sid']}/Messages/{sid('MM')}/Media/{media_sid}",
            f"http://localhost:{port}{own}",  # another host name
            f"{standin.url}{own}",  # another host
            f"{base}{own}?redirect=/metrics",
        ]
        params = {
            "MessageSid": message,
            "AccountSid": channel["account_sid"],
            "From": f"whatsapp:{sa_mobile()}",
            "To": channel["whatsapp_from"],
            "Body": "",
            "NumMedia": str(len(targets)),
            **{f"MediaUrl{i}": url for i, url in enumerate(targets)},
            **{f"MediaContentType{i}": "image/png" for i in range(len(targets))},
        }
        response = signed_post(channel["inbound_webhook_url"], params, channel["auth_token"])
        assert response.status_code == 200
        settings = live_server.settings.model_copy(update={"twilio_api_base_url": twilio_proxy})
        run_async(lambda: run_queued_jobs(settings))  # the worker, with Twilio behind the proxy

        rows = media_rows(owner_conn, account.tenant_id)
        assert len(rows) == len(targets)
        # Only the real media address was asked for (the stand-in has no such file: 404,
        # retried later), and only in its canonical form.
        assert TwilioProxy.paths == [own]
        assert rows[0] == ("pending", "image/png", "")
        assert [state for state, _, _ in rows[1:]] == ["failed"] * (len(targets) - 1)
        assert all(
            "not on the Twilio API host" in error or "Twilio media address" in error
            for _, _, error in rows[1:]
        )
        stored = owner_conn.execute(
            "select count(*) from files where tenant_id = %s", (account.tenant_id,)
        ).fetchone()
        assert stored == (0,), "nothing was stored as the tenant's media"


def test_media_stuck_pending_is_fetched_again_by_the_sweep_or_given_up(
    live_server: LiveServer, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        account = sign_up(client)
        channel = connect_channel(client, standin)
        photo = {"content_type": "image/png", "data_base64": base64.b64encode(PNG).decode()}
        customer_says(standin, channel, sa_mobile(), "", media=[photo], media_not_found_first=1)
        live_server.run_jobs()  # the first try meets Twilio's 404; its retry is then lost
        [(media_id, attempts)] = owner_conn.execute(
            "select id, attempts from message_media where tenant_id = %s", (account.tenant_id,)
        ).fetchall()
        assert attempts == 1
        owner_conn.execute(
            "delete from procrastinate_jobs where task_name = %s and args->>'media_id' = %s",
            (media.FETCH_TASK, str(media_id)),
        )
        assert media_rows(owner_conn, account.tenant_id) == [("pending", "image/png", "")]

        def sweep_at(when: datetime) -> None:
            factories.run(
                live_server.settings,
                lambda services: services.job_app.configure_task(media.SWEEP_TASK).defer_async(
                    timestamp=int(when.timestamp())
                ),
            )
            live_server.run_jobs()

        sweep_at(datetime.now(UTC))  # not past the deadline yet: left alone
        assert media_rows(owner_conn, account.tenant_id) == [("pending", "image/png", "")]
        later = datetime.now(UTC) + timedelta(
            seconds=live_server.settings.media_fetch_deadline_seconds + 60
        )
        sweep_at(later)  # fetched again, and this time it arrives
        assert media_rows(owner_conn, account.tenant_id) == [("stored", "image/png", "")]

        # One that keeps failing is given up after enough tries: "couldn't download".
        phone = sa_mobile()
        customer_says(standin, channel, phone, "", media=[photo], media_not_found_first=50)
        run_jobs_until(
            live_server,
            lambda: (
                owner_conn.execute(
                    "select count(*) from message_media where tenant_id = %s and attempts > 0 "
                    "and state = 'pending'",
                    (account.tenant_id,),
                ).fetchone()
                == (1,)
            ),
            message="a first failed try",
        )
        owner_conn.execute(
            "update message_media set attempts = %s where tenant_id = %s and state = 'pending'",
            (media.MAX_FETCH_ATTEMPTS, account.tenant_id),
        )
        sweep_at(later)
        conversation = conversation_with(client, phone)
        page = client.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
        [item] = page["messages"][0]["media"]
        assert item["state"] == "failed"
        error = owner_conn.execute(
            "select error from message_media where tenant_id = %s and state = 'failed'",
            (account.tenant_id,),
        ).fetchone()
        assert error == (media.COULD_NOT_DOWNLOAD,)
