"""Files in PostgreSQL against files on disk, in the same run on the same process.

- Serving a stored 1-page invoice PDF: the real route `GET /api/v1/invoices/{id}/pdf`
  (document lookup, then the file's metadata and its one chunk in the same query) against a
  baseline kept only here: the route as it was before migration 0015 (the same document
  lookup, then the bytes read from a file under the data folder and hashed). p50/p95 each,
  and the ratio (the target: the database path within 2x of the disk path).
- A 16 MB file downloaded through `GET /media/{id}`: throughput, and how much the server's
  resident memory grows while four downloads of it run at once (streamed a chunk at a time,
  it stays far below one 16 MB copy per download).
- The database size per GB stored (file_chunks + files, measured after storing 64 MB).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import uvicorn
from fastapi import Response

from bench.authenticated_request import sign_up
from bench.harness import LoadResult, drive, free_port, stack, wait_ready
from clientcompass.app import create_app
from clientcompass.config import Settings
from clientcompass.documents import pdf, service
from clientcompass.files import CHUNK_SIZE
from clientcompass.logs import configure_logging
from clientcompass.web.auth import CurrentPrincipal, State

TOTAL = 500
ROUNDS = 3
CONCURRENCY = 8
SIXTEEN_MB = 16 * 1024 * 1024
BASELINE_DIR = "BENCH_FILES_DISK_DIR"


def serve() -> None:
    """The app plus the old file-on-disk PDF route, for this benchmark's process only."""
    settings = Settings()  # type: ignore[call-arg]
    configure_logging(settings.log_level)
    app = create_app(settings)
    folder = Path(os.environ[BASELINE_DIR])

    @app.get("/bench/disk/invoices/{document_id}/pdf")
    async def disk_pdf(
        document_id: uuid.UUID, state: State, principal: CurrentPrincipal
    ) -> Response:
        async with state.unit_of_work(principal.tenant_id) as uow:
            loaded = await service.load(uow, document_id, service.Kind.INVOICE)
            document = loaded.document
            path = folder / f"{document.tenant_id}/documents/{document.id}.pdf"
            if not path.is_file():
                raise RuntimeError("missing")
            content = path.read_bytes()
            if pdf.content_hash(content) != document.pdf_sha256:
                raise RuntimeError("corrupted")
        return Response(
            content,
            media_type="application/pdf",
            headers={
                "content-disposition": f'inline; filename="{service.pdf_filename(document)}"',
                "cache-control": "private, no-store",
            },
        )

    uvicorn.run(app, host="127.0.0.1", port=settings.port, log_config=None, log_level="warning")


def csrf(client: httpx.Client) -> dict[str, str]:
    page = client.get("/settings/account").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token, "no CSRF token on the page"
    return {"x-csrf-token": token.group(1)}


def invoice(client: httpx.Client, headers: dict[str, str]) -> dict[str, str]:
    body = {
        "new_contact": {"name": "Bench Customer", "phone": "+27825550199"},
        "lines": [{"description": "Geyser element", "quantity": "1", "unit_price": "389.99"}],
    }
    draft = client.post("/api/v1/invoices", json=body, headers=headers)
    assert draft.status_code == 201, draft.text
    done = client.post(f"/api/v1/invoices/{draft.json()['id']}/finalise", headers=headers)
    assert done.status_code == 200, done.text
    result: dict[str, str] = done.json()
    return result


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


class RssSampler:
    """The server's resident memory, sampled every few milliseconds while a load runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.done = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.005)

    def __enter__(self) -> RssSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


def store_directly(owner_url: str, tenant_id: uuid.UUID, data: bytes) -> str:
    """A stored media file (as an upload leaves it), written straight into the database."""
    file_id, media_id = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(owner_url) as conn, conn.transaction():
        conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant_id),))
        conn.execute(
            "insert into files (tenant_id, id, retention, content_type, size, sha256, chunk_size) "
            "values (%s, %s, 'temporary', 'image/png', %s, %s, %s)",
            (tenant_id, file_id, len(data), hashlib.sha256(data).hexdigest(), CHUNK_SIZE),
        )
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into file_chunks (tenant_id, file_id, seq, data) values (%s, %s, %s, %s)",
                [
                    (tenant_id, file_id, seq, data[at : at + CHUNK_SIZE])
                    for seq, at in enumerate(range(0, len(data), CHUNK_SIZE))
                ],
            )
        conn.execute(
            "insert into message_media (tenant_id, id, position, content_type, size, filename, "
            "source_url, storage_key, file_id, state, error) values "
            "(%s, %s, 0, 'image/png', %s, 'big.png', '', '', %s, 'stored', '')",
            (tenant_id, media_id, len(data), file_id),
        )
    return str(media_id)


def report(name: str, result: LoadResult) -> None:
    print(f"BENCH files_{name}_p50 {result.p50:.2f} ms")
    print(f"BENCH files_{name}_p95 {result.percentile(95):.2f} ms")
    print(f"BENCH files_{name}_throughput {result.throughput:.1f} req/s", flush=True)


def main() -> None:
    with stack() as app:
        scratch = Path(app.env["CLIENTCOMPASS_DATA_DIR"]) / "bench-disk"
        port = free_port()
        env = {**app.env, "PORT": str(port), BASELINE_DIR: str(scratch)}
        env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-c", "from bench.files import serve; serve()"], env=env
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url)
            measure(url, server.pid, scratch, app.owner_url)
        finally:
            server.terminate()
            server.wait(timeout=15)


def measure(url: str, pid: int, scratch: Path, owner_url: str) -> None:
    cookies = sign_up(url)
    with httpx.Client(base_url=url, cookies=cookies, timeout=60) as client:
        headers = csrf(client)
        issued = invoice(client, headers)
        pdf = client.get(f"/api/v1/invoices/{issued['id']}/pdf").content
        assert hashlib.sha256(pdf).hexdigest() == issued["pdf_sha256"]
        tenant = client.get("/api/v1/me").json()["tenant_id"]
        on_disk = scratch / tenant / "documents" / f"{issued['id']}.pdf"
        on_disk.parent.mkdir(parents=True, exist_ok=True)
        on_disk.write_bytes(pdf)
        disk_path = f"/bench/disk/invoices/{issued['id']}/pdf"
        db_path = f"/api/v1/invoices/{issued['id']}/pdf"
        baseline = client.get(disk_path)
        assert baseline.content == pdf, (baseline.status_code, baseline.text[:300])

    async def get(path: str) -> LoadResult:
        async def one(http: httpx.AsyncClient, _: int) -> httpx.Response:
            return await http.get(path, cookies=cookies)

        return await drive(TOTAL, CONCURRENCY, one, url)

    asyncio.run(get(disk_path))  # warm-up, both paths
    asyncio.run(get(db_path))
    # Alternating rounds, so a busy moment on the machine falls on both paths alike.
    disk, database = LoadResult(0, 0.0, []), LoadResult(0, 0.0, [])
    for _ in range(ROUNDS):
        for path, into in ((disk_path, disk), (db_path, database)):
            result = asyncio.run(get(path))
            into.requests += result.requests
            into.seconds += result.seconds
            into.latencies_ms.extend(result.latencies_ms)
    print(f"BENCH files_pdf_bytes {len(pdf)} bytes")
    report("disk_pdf", disk)
    report("db_pdf", database)
    print(f"BENCH files_db_over_disk_p50 {database.p50 / disk.p50:.2f} ratio")
    print(f"BENCH files_db_over_disk_p95 {database.percentile(95) / disk.percentile(95):.2f} ratio")

    with psycopg.connect(owner_url) as conn:
        before = conn.execute(
            "select pg_total_relation_size('file_chunks') + pg_total_relation_size('files')"
        ).fetchone()
    big = b"\x89PNG\r\n\x1a\n" + os.urandom(SIXTEEN_MB - 8)
    # Stored from here, not uploaded through the server: its memory then shows what the
    # downloads alone cost (an upload is read whole, and Python keeps what it freed).
    ids = [store_directly(owner_url, uuid.UUID(tenant), big) for _ in range(4)]
    baseline = rss_kb(pid)
    sampler = RssSampler(pid).__enter__()
    with httpx.Client(base_url=url, cookies=cookies, timeout=120) as client:
        started = time.perf_counter()
        rounds = 5
        for _ in range(rounds):
            received = 0
            with client.stream("GET", f"/media/{ids[0]}") as response:
                for piece in response.iter_bytes():
                    received += len(piece)
            assert received == len(big)
        elapsed = time.perf_counter() - started
    print(f"BENCH files_16mb_download {rounds * len(big) / elapsed / 1e6:.1f} MB/s")
    print(f"BENCH files_16mb_download_time {elapsed / rounds * 1000:.1f} ms")

    async def four_at_once() -> None:
        async with httpx.AsyncClient(base_url=url, cookies=cookies, timeout=120) as http:

            async def drain(media_id: str) -> int:
                total = 0
                async with http.stream("GET", f"/media/{media_id}") as response:
                    async for piece in response.aiter_bytes():
                        total += len(piece)
                return total

            sizes = await asyncio.gather(*(drain(media_id) for media_id in ids))
            assert sizes == [len(big)] * 4

    asyncio.run(four_at_once())
    sampler.__exit__()
    grew = (sampler.peak - baseline) / 1024
    print(f"BENCH files_server_rss_before_16mb_downloads {baseline / 1024:.1f} MB")
    print(f"BENCH files_16mb_downloads_rss_growth {grew:.1f} MB")

    with psycopg.connect(owner_url) as conn:
        after = conn.execute(
            "select pg_total_relation_size('file_chunks') + pg_total_relation_size('files')"
        ).fetchone()
    assert before is not None and after is not None
    stored = 4 * len(big)
    per_gb = (after[0] - before[0]) / stored
    print(f"BENCH files_db_bytes_per_gb_stored {per_gb:.3f} GB/GB", flush=True)


if __name__ == "__main__":
    main()
