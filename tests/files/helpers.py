"""What the files tests share: a multi-chunk upload and the HTTP checks every download route
must pass (ETag, Content-Length, a single Range, 304/206/416)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import httpx

from clientcompass.files import CHUNK_SIZE
from tests.support.forms import api_headers

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def big_png(size: int = 2 * CHUNK_SIZE + 12_345) -> bytes:
    """Random bytes behind a PNG signature: the upload accepts it, and it spans three chunks."""
    return PNG_MAGIC + os.urandom(size - len(PNG_MAGIC))


def upload(client: httpx.Client, data: bytes, name: str = "site.png") -> dict[str, Any]:
    response = client.post(
        "/api/v1/media", files={"file": (name, data, "image/png")}, headers=api_headers(client)
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def assert_serves(http: httpx.Client, path: str, expected: bytes) -> None:
    """The route serves exactly `expected`, with a strong ETag (its SHA-256), a length, any
    single byte range (206), 416 past the end, and 304 when the client has it already."""
    size = len(expected)
    etag = f'"{hashlib.sha256(expected).hexdigest()}"'
    full = http.get(path)
    assert full.status_code == 200, (path, full.status_code, full.text[:200])
    assert full.content == expected
    assert full.headers["etag"] == etag
    assert full.headers["content-length"] == str(size)
    assert full.headers["accept-ranges"] == "bytes"

    middle = (size // 3, size // 3 + CHUNK_SIZE + 99)  # crosses a chunk boundary when large
    for header, (start, end) in {
        "bytes=0-0": (0, 0),
        "bytes=10-99": (10, 99),
        f"bytes={middle[0]}-{middle[1]}": (middle[0], min(middle[1], size - 1)),
        "bytes=-37": (size - 37, size - 1),
        f"bytes={size - 5}-": (size - 5, size - 1),
        f"bytes=5-{size + 1000}": (5, size - 1),
    }.items():
        part = http.get(path, headers={"range": header})
        assert part.status_code == 206, (path, header, part.status_code)
        assert part.content == expected[start : end + 1], (path, header)
        assert part.headers["content-range"] == f"bytes {start}-{end}/{size}"
        assert part.headers["content-length"] == str(end - start + 1)
        assert part.headers["etag"] == etag

    beyond = http.get(path, headers={"range": f"bytes={size}-"})
    assert beyond.status_code == 416 and beyond.content == b""
    assert beyond.headers["content-range"] == f"bytes */{size}"

    cached = http.get(path, headers={"if-none-match": etag})
    assert cached.status_code == 304 and cached.content == b""
    assert cached.headers["etag"] == etag
    assert http.get(path, headers={"if-none-match": '"something-else"'}).status_code == 200
    # A Range for another version of the file gets the whole current one.
    stale = http.get(path, headers={"range": "bytes=0-9", "if-range": '"old"'})
    assert stale.status_code == 200 and stale.content == expected
    # Several ranges at once: the whole file (a single range is what is served).
    many = http.get(path, headers={"range": "bytes=0-1,5-6"})
    assert many.status_code == 200 and many.content == expected
