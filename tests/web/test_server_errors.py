"""An unhandled error is a 500 the person can read (a page, or JSON under /api) on a
connection that stays open: the client's next request on it must work."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import Request

from clientcompass.config import Settings
from tests.conftest import LiveServer, free_port


@pytest.fixture
def failing_server(settings: Settings) -> Iterator[LiveServer]:
    """The real app with two routes only this test has: one that fails, one that says which
    client port (so which connection) a request came on."""
    port = free_port()
    server = LiveServer(
        settings.model_copy(update={"port": port, "public_base_url": f"http://127.0.0.1:{port}"})
    )

    async def boom() -> None:
        raise RuntimeError("a bug nobody caught")

    async def peer(request: Request) -> dict[str, int]:
        assert request.client is not None
        return {"port": request.client.port}

    for path in ("/test-only/boom", "/api/v1/test-only/boom"):
        server.app.add_api_route(path, boom, include_in_schema=False)
    server.app.add_api_route("/test-only/peer", peer, include_in_schema=False)
    server.start()
    yield server
    server.stop()


def test_after_a_500_the_same_connection_serves_the_next_request(
    failing_server: LiveServer,
) -> None:
    with httpx.Client(base_url=failing_server.url, timeout=10) as http:
        before = http.get("/test-only/peer").json()["port"]

        page = http.get("/test-only/boom")
        assert page.status_code == 500
        assert page.headers["content-type"].startswith("text/html")
        assert "Something went wrong on our side" in page.text
        assert page.headers["x-request-id"] in page.text  # the reference to quote to support

        api = http.get("/api/v1/test-only/boom")
        assert api.status_code == 500
        assert api.json()["error"]["code"] == "server_error"

        after = http.get("/test-only/peer")
        assert after.status_code == 200
        assert after.json()["port"] == before, "the connection was dropped after the 500"
