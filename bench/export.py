"""A whole-business export (lifecycle/export.py) of a big business, in bounded memory.

Set-up, straight into the database as its owner (COPY and INSERT … SELECT, seconds not
hours): EXPORT_BENCH_CONVERSATIONS conversations (default 10,000) with a contact each and
EXPORT_BENCH_MESSAGES messages in each (default 5), and EXPORT_BENCH_MB megabytes of stored
media (default 1024) as EXPORT_BENCH_FILE_MB-megabyte files of random bytes (incompressible,
like photos), each a media row of a message.

Then the export is started through the page (POST /settings/export, as an owner) and run by
a real `clientcompass worker --once` in its own process, whose resident memory is sampled
every few milliseconds. Reported: `export_peak_rss` (the worker's peak, MB),
`export_seconds` (the worker's run, start to exit), `export_zip_mb`, and the download's
throughput; the ZIP is downloaded over HTTP and its central directory checked.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile

import httpx
import psycopg

from bench.authenticated_request import sign_up
from bench.files import RssSampler
from bench.harness import stack
from clientcompass.files import CHUNK_SIZE

CONVERSATIONS = int(os.environ.get("EXPORT_BENCH_CONVERSATIONS", "10000"))
MESSAGES = int(os.environ.get("EXPORT_BENCH_MESSAGES", "5"))
MEGABYTES = int(os.environ.get("EXPORT_BENCH_MB", "1024"))
FILE_MB = int(os.environ.get("EXPORT_BENCH_FILE_MB", "4"))
DOWNLOAD = re.compile(r'href="(/exports/download\?token=[^"]+)"')


def populate(owner_url: str, tenant: uuid.UUID) -> None:
    """Contacts, conversations, messages and media files, as the database owner."""
    started = time.perf_counter()
    with psycopg.connect(owner_url) as conn:
        with conn.transaction():
            conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant),))
            channel = uuid.uuid4()
            conn.execute(
                "insert into channels (tenant_id, id, provider, name, account_sid, "
                "auth_token_sealed, whatsapp_from, messaging_service_sid, webhook_key, "
                "sends_per_second) values (%s, %s, 'twilio', 'Bench', 'AC0', 'sealed', "
                "'whatsapp:+27210000000', '', %s, 1)",
                (tenant, channel, uuid.uuid4().hex),
            )
            conn.execute(
                "insert into contacts (tenant_id, id, phone_e164, wa_id, profile_name, name, "
                "email) select %s, gen_random_uuid(), '+2782' || lpad(i::text, 7, '0'), "
                "'2782' || lpad(i::text, 7, '0'), 'Customer ' || i, 'Customer ' || i, '' "
                "from generate_series(1, %s) i",
                (tenant, CONVERSATIONS),
            )
            conn.execute(
                "insert into conversations (tenant_id, id, channel_id, contact_id, status, "
                "last_message_preview, unread_count) select tenant_id, gen_random_uuid(), %s, "
                "id, 'open', 'Hello', 0 from contacts where tenant_id = %s",
                (channel, tenant),
            )
            conn.execute(
                "insert into messages (tenant_id, id, conversation_id, channel_id, direction, "
                "body, media, content_sid, content_variables, details, status, status_times, "
                "error_message, send_attempts, handled_at, created_at) select c.tenant_id, "
                "gen_random_uuid(), c.id, %s, 'inbound', 'Hi, the geyser is leaking again, "
                "message ' || n, '[]', '', '{}', '{}', 'received', '{}', '', 0, now(), "
                "now() - make_interval(mins => n) from conversations c, "
                "generate_series(1, %s) n where c.tenant_id = %s",
                (channel, MESSAGES, tenant),
            )
            messages = [
                row[0]
                for row in conn.execute(
                    "select id from messages where tenant_id = %s limit %s",
                    (tenant, max(MEGABYTES // FILE_MB, 1)),
                )
            ]
        rows = time.perf_counter() - started
        size = FILE_MB * 1024 * 1024
        for message_id in messages[: MEGABYTES // FILE_MB]:
            with conn.transaction():
                conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant),))
                file_id = uuid.uuid4()
                digest = hashlib.sha256()
                conn.execute(
                    "insert into files (tenant_id, id, retention, content_type, size, sha256, "
                    "chunk_size) values (%s, %s, 'temporary', 'image/jpeg', %s, '', %s)",
                    (tenant, file_id, size, CHUNK_SIZE),
                )
                with conn.cursor().copy(
                    "copy file_chunks (tenant_id, file_id, seq, data) from stdin (format binary)"
                ) as copy:
                    copy.set_types(["uuid", "uuid", "int4", "bytea"])
                    for seq in range(size // CHUNK_SIZE):
                        chunk = os.urandom(CHUNK_SIZE)
                        digest.update(chunk)
                        copy.write_row((tenant, file_id, seq, chunk))
                conn.execute(
                    "update files set sha256 = %s where tenant_id = %s and id = %s",
                    (digest.hexdigest(), tenant, file_id),
                )
                conn.execute(
                    "insert into message_media (tenant_id, id, message_id, position, "
                    "content_type, size, filename, source_url, storage_key, file_id, state, "
                    "error) values (%s, %s, %s, 0, 'image/jpeg', %s, 'photo.jpg', '', '', %s, "
                    "'stored', '')",
                    (tenant, uuid.uuid4(), message_id, size, file_id),
                )
        # Stored rows as the webhook would leave them queue their follow-up jobs (a trigger):
        # this benchmark measures the export alone, so the scratch queue is emptied.
        conn.execute("delete from procrastinate_jobs where status = 'todo'")
        conn.commit()
    total = time.perf_counter() - started
    print(
        f"set-up: {CONVERSATIONS} conversations, {CONVERSATIONS * MESSAGES} messages in "
        f"{rows:.1f} s; {len(messages[: MEGABYTES // FILE_MB]) * FILE_MB} MB of files, "
        f"{total:.1f} s in all",
        flush=True,
    )


def main() -> None:
    with stack() as app:
        cookies = sign_up(app.url)
        with httpx.Client(base_url=app.url, cookies=cookies, timeout=120) as client:
            tenant = uuid.UUID(client.get("/api/v1/me").json()["tenant_id"])
            populate(app.owner_url, tenant)
            page = client.get("/settings/export").text
            token = re.search(r'name="csrf-token" content="([^"]+)"', page)
            assert token, "no CSRF token on the page"
            started = client.post("/settings/export", data={"csrf_token": token.group(1)})
            assert started.status_code == 303, started.text[:300]

            began = time.perf_counter()
            worker = subprocess.Popen(
                [sys.executable, "-m", "clientcompass", "worker", "--once"],
                env={**app.env, "LOG_LEVEL": os.environ.get("EXPORT_BENCH_LOG_LEVEL", "WARNING")},
            )
            with RssSampler(worker.pid) as sampler:
                worker.wait(timeout=3600)
            seconds = time.perf_counter() - began
            assert worker.returncode == 0, worker.returncode
            with psycopg.connect(app.owner_url) as conn:
                conn.execute("select set_config('app.tenant_id', %s, false)", (str(tenant),))
                row = conn.execute(
                    "select extract(epoch from finished_at - created_at) from exports"
                ).fetchone()
                job_seconds = float(row[0]) if row and row[0] is not None else float("nan")

            status = client.get("/settings/export/status").text
            link = DOWNLOAD.search(status)
            assert link, "the export is not ready:\n" + status[:2000]
            with tempfile.TemporaryFile() as out:
                fetched = time.perf_counter()
                with client.stream("GET", link.group(1).replace("&amp;", "&")) as response:
                    assert response.status_code == 200, response.status_code
                    for piece in response.iter_bytes(1024 * 1024):
                        out.write(piece)
                fetch_seconds = time.perf_counter() - fetched
                size = out.tell()
                out.seek(0)
                with zipfile.ZipFile(out) as archive:
                    names = archive.namelist()
                    media = [n for n in names if n.startswith("media/")]
                    assert "data/messages.json" in names
                    assert len(media) == MEGABYTES // FILE_MB, len(media)
    print(f"BENCH export_peak_rss {sampler.peak / 1024:.1f} MB")
    print(f"BENCH export_seconds {seconds:.1f} s")
    print(f"(the export job itself: {job_seconds:.1f} s from the request to ready)")
    print(f"BENCH export_zip_mb {size / 1_000_000:.1f} MB")
    print(f"BENCH export_download_throughput {size / 1_000_000 / fetch_seconds:.1f} MB/s")
    print(f"(ZIP entries: {len(names)}, media files: {len(media)})", flush=True)
