"""A tiny HTTP/1.1 load generator on raw asyncio sockets.

Requests are built before the clock starts, so the driver spends its time on the wire, not
on signing or encoding (a Python HTTP client would be the bottleneck on 2 cores).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from bench.harness import LoadResult


@dataclass(frozen=True)
class Prepared:
    host: str
    port: int
    payloads: list[bytes]


def prepare_posts(
    url: str, forms: list[dict[str, str]], headers_for: list[dict[str, str]]
) -> Prepared:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    payloads = []
    for form, extra in zip(forms, headers_for, strict=True):
        body = urlencode(form).encode()
        head = [
            f"POST {path} HTTP/1.1",
            f"Host: {parts.netloc}",
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in extra.items()),
            "",
            "",
        ]
        payloads.append("\r\n".join(head).encode() + body)
    return Prepared(parts.hostname or "127.0.0.1", parts.port or 80, payloads)


async def _read_response(reader: asyncio.StreamReader) -> int:
    status_line = await reader.readline()
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def blast(prepared: Prepared, concurrency: int) -> tuple[LoadResult, list[int]]:
    """Send every payload once over `concurrency` keep-alive connections."""
    latencies: list[float] = []
    statuses: list[int] = []
    next_index = iter(range(len(prepared.payloads)))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(prepared.host, prepared.port)
        try:
            for index in next_index:
                started = time.perf_counter()
                writer.write(prepared.payloads[index])
                await writer.drain()
                statuses.append(await _read_response(reader))
                latencies.append((time.perf_counter() - started) * 1000)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return LoadResult(len(latencies), time.perf_counter() - started, latencies), statuses
