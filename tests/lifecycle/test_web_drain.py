"""SIGTERM drains a real `clientcompass web`: /readyz turns 503 "draining" while it still
listens, an in-flight request finishes with 200 after the listener has closed, an SSE stream
ends cleanly with a `retry:` hint instead of holding shutdown open (or being cut), and the
process exits within its grace period, which bounds a request that would never finish."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator

import httpx

from clientcompass.config import Settings
from tests.conftest import LiveServer
from tests.support.accounts import sign_up
from tests.support.factories import register_app
from tests.support.forms import api_headers
from tests.support.processes import WebProcess
from tests.support.waiting import wait_for

NOTICE_SECONDS = 3
GRACE_SECONDS = 6


class RawStream:
    """An SSE response read on a thread, every line kept, and how it ended: "clean" when the
    server finished the body, or the client's error when the connection was cut."""

    def __init__(self, url: str, cookies: httpx.Cookies, path: str = "/api/v1/events") -> None:
        self.url, self.cookies, self.path = url, cookies, path
        self.lines: list[str] = []
        self.ended = ""
        self.connected = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            with (
                httpx.Client(base_url=self.url, cookies=self.cookies, timeout=30) as http,
                http.stream("GET", self.path) as response,
            ):
                assert response.status_code == 200
                for line in response.iter_lines():
                    self.lines.append(line)
                    if line == ": connected":
                        self.connected.set()
            self.ended = "clean"
        except httpx.HTTPError as exc:
            self.ended = f"{type(exc).__name__}: {exc}"
        finally:
            self.connected.set()

    def finished(self, timeout: float) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()


class SlowBody:
    """A request body sent in two halves: the second only once `release` is set, so the
    request is in flight for as long as the test wants."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.first_sent = threading.Event()
        self.release = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        half = len(self.body) // 2
        yield self.body[:half]
        self.first_sent.set()
        self.release.wait(30)
        yield self.body[half:]


def in_background(
    call: Callable[[], httpx.Response],
) -> tuple[threading.Thread, dict[str, object]]:
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["response"] = call()
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def readyz(url: str) -> httpx.Response | None:
    try:
        return httpx.get(f"{url}/readyz", timeout=2)
    except httpx.HTTPError:
        return None


def refuses_connections(url: str) -> bool:
    try:
        httpx.get(f"{url}/healthz", timeout=1)
    except httpx.ConnectError:
        return True
    return False


def test_sigterm_finishes_requests_ends_streams_with_retry_and_exits_in_its_grace(
    live_server: LiveServer, settings: Settings
) -> None:
    web = WebProcess(
        settings,
        SHUTDOWN_NOTICE_SECONDS=str(NOTICE_SECONDS),
        SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS),
    ).start()
    register_app(web.settings)
    assert web.process is not None
    try:
        with httpx.Client(base_url=web.url, timeout=30) as client:
            sign_up(client)
            headers = api_headers(client) | {"content-type": "application/json"}
            stream = RawStream(web.url, client.cookies)
            assert stream.connected.wait(10) and stream.ended == "", stream.ended
            body = SlowBody(
                b'{"trading_name": "Drained Plumbing", "timezone": "Africa/Johannesburg"}'
            )
            slow, outcome = in_background(
                lambda: client.put("/api/v1/business/profile", content=body, headers=headers)
            )
            assert body.first_sent.wait(10), "the slow request never started"

            web.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()

            # While it still listens, readiness says why it is leaving, and what is down.
            draining = wait_for(
                lambda: (r := readyz(web.url)) is not None and r.status_code == 503 and r,
                NOTICE_SECONDS,
                "/readyz to say draining",
                every=0.05,
            )
            assert draining.json() == {"status": "draining", "down": [], "errors": {}}

            # The open stream ends at once, cleanly, telling the browser when to reconnect.
            assert stream.finished(10), "the SSE stream held the shutdown open"
            assert stream.ended == "clean", stream.ended
            assert stream.lines[0].startswith("retry: ")
            tail = [line for line in stream.lines if line][-2:]
            assert tail[0].startswith("retry: ") and int(tail[0].removeprefix("retry: ")) > 0
            assert tail[1] == ": draining"

            # Past the notice the listener closes; the request in flight is still served.
            wait_for(lambda: refuses_connections(web.url), GRACE_SECONDS, "the listener to close")
            assert slow.is_alive() and web.process.poll() is None
            body.release.set()
            slow.join(10)
            response = outcome.get("response")
            assert isinstance(response, httpx.Response), outcome
            assert response.status_code == 200, response.text
            assert response.json()["trading_name"] == "Drained Plumbing"

            code = web.process.wait(timeout=NOTICE_SECONDS + GRACE_SECONDS)
            assert time.monotonic() - signalled < NOTICE_SECONDS + GRACE_SECONDS
            # uvicorn re-raises the SIGTERM it handled once it has shut down.
            assert code in (0, -signal.SIGTERM)
            # It was committed: another process reads it back.
            saved = httpx.get(
                f"{live_server.url}/api/v1/business/profile", cookies=client.cookies
            ).json()
            assert saved["trading_name"] == "Drained Plumbing"
    finally:
        web.stop()


def test_the_grace_period_bounds_a_request_that_never_finishes(settings: Settings) -> None:
    notice, grace = 0.5, 2
    web = WebProcess(
        settings, SHUTDOWN_NOTICE_SECONDS=str(notice), SHUTDOWN_GRACE_SECONDS=str(grace)
    ).start()
    register_app(web.settings)
    assert web.process is not None
    try:
        with httpx.Client(base_url=web.url, timeout=30) as client:
            sign_up(client)
            headers = api_headers(client) | {"content-type": "application/json"}
            body = SlowBody(b'{"trading_name": "Never Finished"}')
            slow, outcome = in_background(
                lambda: client.put("/api/v1/business/profile", content=body, headers=headers)
            )
            assert body.first_sent.wait(10)
            # The notice leaves uvicorn time to read the request's head: it is then in flight.
            web.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            web.process.wait(timeout=notice + grace + 5)
            waited = time.monotonic() - signalled
            body.release.set()
            slow.join(10)
        assert notice + grace - 0.5 < waited < notice + grace + 5, f"exited after {waited:.1f} s"
        response = outcome.get("response")
        assert "error" in outcome or (
            isinstance(response, httpx.Response) and response.status_code >= 500
        ), outcome
    finally:
        web.stop()
