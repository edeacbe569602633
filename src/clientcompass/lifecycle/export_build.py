"""Building an export's ZIP (lifecycle/export.py says why it is a job and a file row).

The job reads in one REPEATABLE READ, READ ONLY transaction (one consistent snapshot): rows
through server-side cursors a batch at a time, stored files a chunk at a time. `stream_zip`
turns them into ZIP bytes as they come, and those are cut into `files.CHUNK_SIZE` pieces,
each written as a chunk of a temporary file in its own short transaction. At no point is
more than a row batch, one file chunk and one output chunk in memory (`make bench
NAME=export`: a 1 GB business exports with the worker's memory flat).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import stat
import time
import uuid
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from datetime import time as clock
from decimal import Decimal
from typing import Any

import structlog
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from sqlalchemy import text
from stream_zip import ZIP_64, async_stream_zip

from clientcompass.db import SNAPSHOT, Database, driver_of
from clientcompass.files import CHUNK_SIZE
from clientcompass.lifecycle.export import (
    EXPIRE_TASK,
    LIFETIME,
    download_path,
    download_token,
    drop_file,
)
from clientcompass.lifecycle.export_sources import (
    COUNT_FILES,
    CUSTOMER_FILES,
    DATASETS,
    EXCLUDED,
    FILES,
    README,
    member_name,
)
from clientcompass.models import User
from clientcompass.models.exports import Export, ExportKind, ExportStatus
from clientcompass.models.files import Retention
from clientcompass.work import UnitsOfWork

log = structlog.get_logger(__name__)

ROW_BATCH = 500

# Media and PDFs are compressed already; level 1 keeps a gigabyte of them to seconds of CPU
# while JSON and CSV still shrink several-fold.
COMPRESSION_LEVEL = 1

PROGRESS_EVERY_SECONDS = 1.0

FILE_PAGE = 200


def plain(value: Any) -> Any:
    """A value as JSON can carry it."""
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date | clock):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return None
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def _cell(value: Any) -> str:
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


class Progress:
    """What the page shows while the job runs, written at most once a second."""

    def __init__(self, units: UnitsOfWork, tenant_id: uuid.UUID, export_id: uuid.UUID) -> None:
        self.units = units
        self.tenant_id = tenant_id
        self.export_id = export_id
        self.stage = ""
        self.done = 0
        self.total = 0
        self._written = 0.0

    async def set(self, stage: str, done: int = 0, total: int = 0, *, force: bool = False) -> None:
        changed = stage != self.stage
        self.stage, self.done, self.total = stage, done, total
        if not (force or changed) and time.monotonic() - self._written < PROGRESS_EVERY_SECONDS:
            return
        self._written = time.monotonic()
        async with self.units(self.tenant_id) as uow:
            await uow.session.execute(
                text(
                    "UPDATE exports SET stage = :stage, done = :done, total = :total "
                    "WHERE tenant_id = :t AND id = :id"
                ),
                {
                    "stage": stage,
                    "done": done,
                    "total": total,
                    "t": self.tenant_id,
                    "id": self.export_id,
                },
            )


class ChunkWriter:
    """The ZIP's bytes as the chunks of a file row, one short transaction per chunk."""

    def __init__(self, units: UnitsOfWork, tenant_id: uuid.UUID, file_id: uuid.UUID) -> None:
        self.units = units
        self.tenant_id = tenant_id
        self.file_id = file_id
        self.buffer = bytearray()
        self.seq = 0
        self.size = 0
        self.digest = hashlib.sha256()

    async def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= CHUNK_SIZE:
            await self._flush(bytes(self.buffer[:CHUNK_SIZE]))
            del self.buffer[:CHUNK_SIZE]

    async def close(self) -> None:
        if self.buffer or self.seq == 0:
            await self._flush(bytes(self.buffer))
            self.buffer.clear()

    async def _flush(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.size += len(chunk)
        async with self.units(self.tenant_id) as uow:
            await uow.session.execute(
                text(
                    "INSERT INTO file_chunks (tenant_id, file_id, seq, data) "
                    "VALUES (:t, :f, :seq, :data)"
                ),
                {"t": self.tenant_id, "f": self.file_id, "seq": self.seq, "data": chunk},
            )
        self.seq += 1


class Snapshot:
    """The job's one read-only, repeatable-read transaction, as the raw psycopg connection
    (server-side cursors and binary bytea, which SQLAlchemy's text() does not give)."""

    def __init__(self, conn: AsyncConnection[Any], params: dict[str, Any]) -> None:
        self.conn = conn
        self.params = params
        self.cursors = 0

    async def rows(self, sql: str) -> AsyncIterator[tuple[list[str], dict[str, Any]]]:
        self.cursors += 1
        async with self.conn.cursor(name=f"export_{self.cursors}", row_factory=dict_row) as cur:
            cur.itersize = ROW_BATCH
            await cur.execute(sql, self.params)
            columns = [c.name for c in cur.description or [] if c.name not in EXCLUDED]
            yield columns, {}
            async for row in cur:
                yield columns, row

    async def one(self, sql: str, extra: dict[str, Any] | None = None) -> Any:
        cur = await self.conn.execute(sql, {**self.params, **(extra or {})})
        found = await cur.fetchone()
        return None if found is None else found[0]

    async def page(self, sql: str, extra: dict[str, Any]) -> list[dict[str, Any]]:
        async with self.conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, {**self.params, **extra})
            return await cur.fetchall()

    async def chunks(self, file_id: uuid.UUID) -> AsyncIterator[bytes]:
        """A stored file's bytes, one chunk per round trip."""
        seq = 0
        while True:
            cur = await self.conn.execute(
                "SELECT data FROM file_chunks WHERE tenant_id = %s AND file_id = %s AND seq = %s",
                (self.params["t"], file_id, seq),
                binary=True,
            )
            row = await cur.fetchone()
            if row is None:
                return
            yield bytes(row[0])
            seq += 1


def _json_member(
    snapshot: Snapshot, sql: str, stage: str, progress: Progress
) -> AsyncIterator[bytes]:
    async def body() -> AsyncIterator[bytes]:
        out = bytearray(b"[")
        count = 0
        await progress.set(stage, 0)
        async for columns, row in snapshot.rows(sql):
            if not row:
                continue
            record = {name: plain(row[name]) for name in columns}
            out += b"\n" if count == 0 else b",\n"
            out += json.dumps(record, ensure_ascii=False).encode()
            count += 1
            if len(out) >= 64 * 1024:
                yield bytes(out)
                out.clear()
                await progress.set(stage, count)
        out += b"\n]\n"
        yield bytes(out)

    return body()


def _csv_member(snapshot: Snapshot, sql: str) -> AsyncIterator[bytes]:
    async def body() -> AsyncIterator[bytes]:
        text_out = io.StringIO()
        writer = csv.writer(text_out)
        header = False
        async for columns, row in snapshot.rows(sql):
            if not header:
                writer.writerow(columns)
                header = True
            if row:
                writer.writerow([_cell(row[name]) for name in columns])
            if text_out.tell() >= 64 * 1024:
                yield text_out.getvalue().encode()
                text_out.seek(0)
                text_out.truncate()
        yield text_out.getvalue().encode()

    return body()


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


Member = tuple[str, datetime, int, Any, AsyncIterator[bytes]]

MODE = stat.S_IFREG | 0o600


def members(
    snapshot: Snapshot, export: Export, progress: Progress, made: datetime
) -> AsyncIterator[Member]:
    """Every entry of the ZIP, each produced only when the ZIP asks for it."""
    customer = export.kind == ExportKind.CUSTOMER.value

    async def entries() -> AsyncIterator[Member]:
        what = (
            f"Everything held about the customer {export.subject_label}"
            if customer
            else "Everything held about the business"
        )
        readme = README.format(what=what, made=made.strftime("%Y-%m-%d %H:%M")).encode()
        yield ("README.txt", made, MODE, ZIP_64, _one(readme))
        for dataset in DATASETS:
            sql = dataset.customer if customer else dataset.business
            if sql is None:
                continue
            stage = dataset.name.replace("_", " ")
            yield (
                f"data/{dataset.name}.json",
                made,
                MODE,
                ZIP_64,
                _json_member(snapshot, sql, stage, progress),
            )
            yield (f"data/{dataset.name}.csv", made, MODE, ZIP_64, _csv_member(snapshot, sql))
        where = CUSTOMER_FILES if customer else ""
        total = int(await snapshot.one(COUNT_FILES.format(customer=where)) or 0)
        done = 0
        await progress.set("files", 0, total, force=True)
        after = uuid.UUID(int=0)
        while True:
            page = await snapshot.page(
                FILES.format(customer=where), {"after": after, "limit": FILE_PAGE}
            )
            if not page:
                break
            for row in page:
                if row["id"] == after:  # one file shared by two media rows: once is enough
                    continue
                after = row["id"]
                yield (member_name(row), made, MODE, ZIP_64, snapshot.chunks(row["id"]))
                done += 1
                await progress.set("files", done, total)

    return entries()


def _compressor() -> Any:
    return zlib.compressobj(wbits=-zlib.MAX_WBITS, level=COMPRESSION_LEVEL)


@asynccontextmanager
async def open_snapshot(db: Database, tenant_id: uuid.UUID) -> AsyncIterator[AsyncConnection[Any]]:
    """The tenant's data as of one moment (a read-only repeatable-read transaction), on the
    driver's connection: the export streams rows and chunks without the ORM."""
    async with db.transaction(tenant_id, begin=SNAPSHOT) as session:
        connection = await session.connection()
        yield driver_of(await connection.get_raw_connection())


async def build(
    db: Database,
    units: UnitsOfWork,
    tenant_id: uuid.UUID,
    export_id: uuid.UUID,
    *,
    secret: str,
    base_url: str,
) -> Export | None:
    """Build an export's ZIP into a file row, then mark it ready and email its link.

    Idempotent: a finished export is left alone, and a run that died half-way is started
    again from scratch (its partial file is dropped)."""
    async with units(tenant_id) as uow:
        export = await uow.session.get(Export, (tenant_id, export_id), with_for_update=True)
        if export is None or export.status in (ExportStatus.READY, ExportStatus.EXPIRED):
            return export
        if export.file_id is not None:
            await drop_file(uow, export.file_id)
        file_id = uuid.uuid4()
        await uow.session.execute(
            text(
                "INSERT INTO files (tenant_id, id, retention, content_type, size, sha256, "
                "chunk_size, created_at) VALUES (:t, :id, :r, 'application/zip', 0, '', "
                ":chunk, :now)"
            ),
            {
                "t": tenant_id,
                "id": file_id,
                "r": Retention.TEMPORARY.value,
                "chunk": CHUNK_SIZE,
                "now": uow.now,
            },
        )
        export.file_id = file_id
        export.status = ExportStatus.RUNNING.value
        export.stage, export.done, export.total, export.error = "starting", 0, 0, ""
        made = uow.now
    progress = Progress(units, tenant_id, export_id)
    writer = ChunkWriter(units, tenant_id, file_id)
    params: dict[str, Any] = {"t": tenant_id, "c": export.subject_id}
    try:
        async with open_snapshot(db, tenant_id) as connection:
            snapshot = Snapshot(connection, params)
            zipped = async_stream_zip(
                members(snapshot, export, progress, made), get_compressobj=_compressor
            )
            async for piece in zipped:
                await writer.write(piece)
        await writer.close()
    except Exception as exc:
        log.exception("export failed", export_id=str(export_id))
        async with units(tenant_id) as uow:
            failed = await uow.session.get(Export, (tenant_id, export_id), with_for_update=True)
            if failed is not None:
                await drop_file(uow, file_id)
                failed.file_id = None
                failed.status = ExportStatus.FAILED.value
                failed.error = f"The export could not be built ({type(exc).__name__}). Try again."
        return failed
    async with units(tenant_id) as uow:
        await uow.session.execute(
            text("UPDATE files SET size = :size, sha256 = :sha WHERE tenant_id = :t AND id = :id"),
            {"size": writer.size, "sha": writer.digest.hexdigest(), "t": tenant_id, "id": file_id},
        )
        ready = await uow.session.get(Export, (tenant_id, export_id), with_for_update=True)
        assert ready is not None
        ready.status = ExportStatus.READY.value
        ready.size = writer.size
        ready.stage, ready.done = "done", ready.total
        ready.finished_at = uow.now
        ready.expires_at = uow.now + LIFETIME
        owner = await uow.session.get(User, (tenant_id, ready.requested_by))
        if owner is not None and owner.is_active:
            link = base_url + download_path(download_token(secret, ready, uow.now))
            what = f"{ready.subject_label}'s data" if ready.subject_id else "your business's data"
            uow.defer_job(
                "send_email",
                to=owner.email,
                subject="Your Client Compass data export is ready",
                body=(
                    f"Hi {owner.name},\n\nThe export of {what} you asked for is ready "
                    f"({ready.size / 1_000_000:.1f} MB). Download it within 24 hours, signed in "
                    f"as an owner:\n{link}\n\nAfter that the file is deleted; you can start a "
                    "new export in Settings → Data export at any time."
                ),
            )
        uow.defer_job(
            EXPIRE_TASK,
            schedule_in=LIFETIME.total_seconds(),
            tenant_id=str(tenant_id),
            export_id=str(export_id),
        )
    log.info("export ready", export_id=str(export_id), size=writer.size)
    return ready
