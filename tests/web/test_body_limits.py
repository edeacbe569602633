"""Request bodies are bounded at the door, as they stream in (web/limits.py): a body over its
route's limit gets 413 with a message before the server has read it, with or without a
Content-Length, and a file within its documented maximum still goes through."""

from __future__ import annotations

import random
import socket
import uuid
from urllib.parse import urlsplit

import httpx
import psycopg

from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import sign_up
from tests.support.forms import api_headers
from tests.support.whatsapp import connect_channel_through_the_api, sa_mobile, signed_post

MB = 1024 * 1024
# Long enough for the server to answer, far shorter than it would take to send 200 MB.
ANSWER_WITHIN_SECONDS = 10


def _connect(server: LiveServer) -> socket.socket:
    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=ANSWER_WITHIN_SECONDS)
    return sock


def _send_chunks(sock: socket.socket, piece: bytes, total: int) -> None:
    """Chunks of a chunked body until just past `total` bytes, never the last chunk. Then we
    stop and wait: whatever we send after the server has cut us off, it answers with a reset
    that can destroy its 413 before we read it."""
    sent = 0
    while sent <= total:
        sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        sent += len(piece)


def _read_answer(sock: socket.socket) -> bytes:
    """What the server sends until it closes or goes quiet. A server that waits for the rest
    of the body sends nothing: recv times out and the test fails."""
    received = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
            if b"\r\n\r\n" in received and received.rstrip().endswith((b"}", b"</html>")):
                break
    except TimeoutError as exc:
        raise AssertionError(
            f"no answer within {ANSWER_WITHIN_SECONDS} s: the server is waiting for the body "
            f"(got {received[:200]!r})"
        ) from exc
    return received


def test_a_declared_200_mb_json_body_is_refused_before_any_of_it_is_sent(
    live_server: LiveServer,
) -> None:
    with _connect(live_server) as sock:
        sock.sendall(
            b"POST /api/v1/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {200 * MB}\r\n\r\n".encode()
            + b'{"name": "'
        )
        answer = _read_answer(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"connection: close" in head.lower()
    assert b'"code":"too_large"' in body and b"1 MB" in body


def test_a_chunked_json_body_is_cut_off_as_it_passes_the_limit(live_server: LiveServer) -> None:
    """No Content-Length: just over 1 MB in chunks and then nothing more (no last chunk). The
    server must answer from what it counted; one that buffers first would wait for the end."""
    with _connect(live_server) as sock:
        sock.sendall(
            b"POST /api/v1/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        _send_chunks(sock, b'{"notes": "' + b"x" * (64 * 1024), MB)
        answer = _read_answer(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"too_large" in body


def test_a_small_declared_length_does_not_hide_a_long_chunked_body(
    live_server: LiveServer,
) -> None:
    """Only a body with a Content-Length within the limit goes uncounted (the server reads no
    more than it declares). With Transfer-Encoding as well the length would not hold: such a
    request is refused outright."""
    with _connect(live_server) as sock:
        sock.sendall(
            b"POST /api/v1/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Length: 10\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        )
        answer = _read_answer(sock)
    assert answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 413")), answer[:200]


def test_a_streamed_body_of_another_type_is_counted_too(live_server: LiveServer) -> None:
    """Not a form or JSON, so not read whole at the door: counted as the route reads it."""
    with _connect(live_server) as sock:
        sock.sendall(
            b"POST /api/v1/contacts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        _send_chunks(sock, b"z" * (64 * 1024), MB)
        answer = _read_answer(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"too_large" in body


def test_an_oversized_page_form_gets_a_page_saying_so(client: httpx.Client) -> None:
    response = client.post(
        "/login",
        content=b"email=a%40b.co&password=" + b"x" * (MB + 10),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "more than we accept in one request (1 MB)" in response.text
    assert response.headers["x-request-id"]  # answered inside the request middleware


def test_a_file_within_its_documented_limit_still_uploads(client: httpx.Client) -> None:
    """A CSV of 1.5 MB is over the 1 MB of a form but within the import's 5 MB."""
    sign_up(client)
    prefix = random.randint(100, 999)
    notes = "n" * 4000
    rows = [f"Row {i},+2783{prefix}{i:04d},{notes}" for i in range(400)]
    data = ("name,phone,notes\n" + "\n".join(rows) + "\n").encode()
    assert 1.5 * MB < len(data) < 5 * MB
    response = client.post(
        "/api/v1/contacts/import",
        files={"file": ("contacts.csv", data, "text/csv")},
        headers=api_headers(client),
    )
    assert response.status_code == 200, response.text[:300]
    assert response.json()["created"] == 400


def test_a_file_over_the_upload_limit_is_refused_as_it_streams(client: httpx.Client) -> None:
    sign_up(client)

    def body() -> object:  # a generator: sent chunked, no Content-Length
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
        for _ in range(7 * 4):
            yield b"x" * (256 * 1024)

    response = client.post(
        "/api/v1/contacts/import",
        content=body(),  # type: ignore[arg-type]
        headers={**api_headers(client), "content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["message"] == "That file is too large: the limit is 5 MB."


def test_a_webhook_over_64_kb_is_refused_and_nothing_is_stored(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
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
        "Body": "x" * (65 * 1024),
        "NumMedia": "0",
        "WaId": phone.lstrip("+"),
    }
    response = signed_post(channel["inbound_webhook_url"], params, channel["auth_token"])
    assert response.status_code == 413
    assert "64 KB" in response.text
    stored = owner_conn.execute("select count(*) from messages where provider_sid = %s", (sid,))
    assert stored.fetchone() == (0,)
    # Just under the limit is a message like any other.
    params["Body"] = "y" * (60 * 1024)
    assert signed_post(channel["inbound_webhook_url"], params, channel["auth_token"]).is_success
    stored = owner_conn.execute("select count(*) from messages where provider_sid = %s", (sid,))
    assert stored.fetchone() == (1,)
