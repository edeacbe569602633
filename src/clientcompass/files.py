"""Files in PostgreSQL (models/files.py): store, open for download, copy, purge; and the one
HTTP response every download route uses (ETag, Content-Length, a single Range, 304/206/416).

Writes go through the caller's unit of work, so a file commits or vanishes with the row that
refers to it. Reads for a download happen after that unit of work has closed: one short
transaction per chunk on the plain psycopg pool (`FastPath`), so a slow client never holds a
database connection, and at most one chunk of a file is in memory at a time. A file that
fits in one chunk (a one-page PDF) is read with its metadata in the request's own query.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import text
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from clientcompass.db import FastPath, UnitOfWork, set_tenant
from clientcompass.models.files import Retention

CHUNK_SIZE = 512 * 1024
LEGAL_HOLD_YEARS = 5
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class FileCorrupted(Exception):
    """Stored bytes that do not match their recorded SHA-256 (never served)."""


@dataclass(frozen=True)
class FileInfo:
    tenant_id: uuid.UUID
    id: uuid.UUID
    content_type: str
    size: int
    sha256: str
    chunk_size: int

    @property
    def etag(self) -> str:
        """A strong validator: the bytes' own hash, the same on every replica."""
        return f'"{self.sha256}"'


def keep_until(issued: date) -> date:
    """The end of an issued document's keeping period (5 years from issue)."""
    try:
        return issued.replace(year=issued.year + LEGAL_HOLD_YEARS)
    except ValueError:  # 29 February
        return issued.replace(year=issued.year + LEGAL_HOLD_YEARS, day=28)


async def put(
    uow: UnitOfWork,
    data: bytes,
    *,
    content_type: str,
    retention: Retention,
    document_id: uuid.UUID | None = None,
    hold_until: date | None = None,
) -> FileInfo:
    """Store bytes as a file of the unit of work's tenant, in fixed-size chunks."""
    assert uow.tenant_id is not None
    await uow.session.flush()  # a document this file belongs to must exist first
    info = FileInfo(
        uow.tenant_id,
        uuid.uuid4(),
        content_type,
        len(data),
        hashlib.sha256(data).hexdigest(),
        CHUNK_SIZE,
    )
    await uow.session.execute(
        text(
            "INSERT INTO files (tenant_id, id, retention, content_type, size, sha256, chunk_size, "
            "keep_until, document_id, created_at) VALUES (:tenant, :id, :retention, :type, "
            ":size, :sha, :chunk, :keep, :document, :now)"
        ),
        {
            "tenant": info.tenant_id,
            "id": info.id,
            "retention": retention.value,
            "type": content_type,
            "size": info.size,
            "sha": info.sha256,
            "chunk": CHUNK_SIZE,
            "keep": hold_until,
            "document": document_id,
            "now": uow.now,
        },
    )
    view = memoryview(data)  # slices share the caller's buffer: no copy of the file
    await uow.session.execute(
        text(
            "INSERT INTO file_chunks (tenant_id, file_id, seq, data) "
            "VALUES (:tenant, :file, :seq, :data)"
        ),
        [
            {
                "tenant": info.tenant_id,
                "file": info.id,
                "seq": seq,
                "data": view[at : at + CHUNK_SIZE],
            }
            for seq, at in enumerate(range(0, max(len(data), 1), CHUNK_SIZE))
        ],
    )
    return info


async def copy(uow: UnitOfWork, file_id: uuid.UUID, *, retention: Retention) -> FileInfo:
    """A new file with the same bytes, copied inside the database (no bytes through Python)."""
    assert uow.tenant_id is not None
    new_id = uuid.uuid4()
    row = (
        await uow.session.execute(
            text(
                "INSERT INTO files (tenant_id, id, retention, content_type, size, sha256, "
                "chunk_size, keep_until, document_id, created_at) "
                "SELECT tenant_id, :new, :retention, content_type, size, sha256, chunk_size, "
                "NULL, NULL, :now FROM files WHERE tenant_id = :tenant AND id = :id "
                "RETURNING content_type, size, sha256, chunk_size"
            ),
            {
                "new": new_id,
                "retention": retention.value,
                "now": uow.now,
                "tenant": uow.tenant_id,
                "id": file_id,
            },
        )
    ).one()
    await uow.session.execute(
        text(
            "INSERT INTO file_chunks (tenant_id, file_id, seq, data) "
            "SELECT tenant_id, :new, seq, data FROM file_chunks "
            "WHERE tenant_id = :tenant AND file_id = :id"
        ),
        {"new": new_id, "tenant": uow.tenant_id, "id": file_id},
    )
    return FileInfo(uow.tenant_id, new_id, row[0], row[1], row[2], row[3])


OPEN = (
    "SELECT f.id, f.content_type, f.size, f.sha256, f.chunk_size, "
    "CASE WHEN f.size <= f.chunk_size THEN (SELECT c.data FROM file_chunks c "
    "WHERE c.tenant_id = f.tenant_id AND c.file_id = f.id AND c.seq = 0) END AS head "
    "FROM files f WHERE f.tenant_id = :tenant AND "
)


async def open_file(
    uow: UnitOfWork, reader: ChunkReader | None, file_id: uuid.UUID
) -> Download | None:
    """A file of the unit of work's tenant, ready to serve (None if there is none)."""
    return await _open(uow, reader, "f.id = :key", file_id)


async def open_document_pdf(
    uow: UnitOfWork, reader: ChunkReader | None, document_id: uuid.UUID
) -> Download | None:
    """The issued PDF of a document (legal hold), ready to serve."""
    return await _open(uow, reader, "f.document_id = :key", document_id)


async def _open(
    uow: UnitOfWork, reader: ChunkReader | None, where: str, key: uuid.UUID
) -> Download | None:
    assert uow.tenant_id is not None
    row = (
        await uow.session.execute(text(OPEN + where), {"tenant": uow.tenant_id, "key": key})
    ).one_or_none()
    if row is None:
        return None
    info = FileInfo(uow.tenant_id, row.id, row.content_type, row.size, row.sha256, row.chunk_size)
    if row.head is not None:
        whole = bytes(row.head)
        if len(whole) != info.size or hashlib.sha256(whole).hexdigest() != info.sha256:
            raise FileCorrupted(f"file {info.id} does not match its SHA-256")
        return Download(info, whole, None)
    return Download(info, None, reader)


async def read_all(uow: UnitOfWork, file_id: uuid.UUID) -> bytes:
    """A whole file in memory, checked against its hash: only for small files the app itself
    sends on (a document's PDF), never for a download."""
    assert uow.tenant_id is not None
    rows = await uow.session.execute(
        text(
            "SELECT f.sha256, c.data FROM files f JOIN file_chunks c "
            "ON c.tenant_id = f.tenant_id AND c.file_id = f.id "
            "WHERE f.tenant_id = :tenant AND f.id = :id ORDER BY c.seq"
        ),
        {"tenant": uow.tenant_id, "id": file_id},
    )
    found = rows.all()
    data = b"".join(bytes(chunk) for _, chunk in found)
    if not found or hashlib.sha256(data).hexdigest() != found[0][0]:
        raise FileCorrupted(f"file {file_id} is missing or does not match its SHA-256")
    return data


async def expired_temporary(
    uow: UnitOfWork, before: datetime, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(tenant, file) of temporary files created before `before`, across tenants, oldest
    first: ids only, through `cc_files_expired()` (migration 0015)."""
    rows = await uow.session.execute(
        text("SELECT tenant_id, file_id FROM cc_files_expired(:before, :limit)"),
        {"before": before, "limit": limit},
    )
    return [(tenant_id, file_id) for tenant_id, file_id in rows]


async def delete_temporary(uow: UnitOfWork, file_ids: list[uuid.UUID], before: datetime) -> int:
    """Delete the unit of work's temporary files among `file_ids` that are due; legal-hold
    files are never matched (and the database would refuse)."""
    assert uow.tenant_id is not None
    result = await uow.session.execute(
        text(
            "DELETE FROM files WHERE tenant_id = :tenant AND id = ANY(:ids) "
            "AND retention = 'temporary' AND created_at < :before"
        ),
        {"tenant": uow.tenant_id, "ids": file_ids, "before": before},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


class ChunkReader(Protocol):
    async def chunk(self, info: FileInfo, seq: int, start: int, length: int) -> bytes | None: ...


class PoolReader:
    """Reads one chunk (or a slice of one) per short transaction on the fast pool."""

    def __init__(self, fast: FastPath) -> None:
        self.fast = fast

    async def chunk(self, info: FileInfo, seq: int, start: int, length: int) -> bytes | None:
        # Pipelined: BEGIN, the tenant, the read and COMMIT go out in one round trip.
        async with self.fast.pool.connection() as conn, conn.pipeline(), conn.transaction():
            await set_tenant(conn, info.tenant_id)
            cursor = await conn.execute(
                "SELECT substring(data FROM %s FOR %s) FROM file_chunks "
                "WHERE tenant_id = %s AND file_id = %s AND seq = %s",
                (start + 1, length, info.tenant_id, info.id, seq),
                binary=True,  # bytea as raw bytes on the wire, not hex text twice the size
            )
            row = await cursor.fetchone()
        return None if row is None else bytes(row[0])


@dataclass(frozen=True)
class Download:
    """What a download route serves: a stored file, or bytes made for this request."""

    info: FileInfo
    whole: bytes | None  # the bytes, when already in memory
    reader: ChunkReader | None  # otherwise read chunk by chunk

    @classmethod
    def of_bytes(cls, data: bytes, content_type: str) -> Download:
        """Bytes rendered for this request (a draft's preview, a reprint)."""
        digest = hashlib.sha256(data).hexdigest()
        info = FileInfo(uuid.UUID(int=0), uuid.UUID(int=0), content_type, len(data), digest, 0)
        return cls(info, data, None)

    async def pieces(self, start: int, end: int, *, verify: bool) -> AsyncIterator[bytes]:
        """Bytes `start`..`end` (inclusive), a chunk at a time. With `verify` (the whole
        file), the last piece is withheld unless everything hashed matches the record, so a
        client never receives a complete body with wrong bytes."""
        if self.whole is not None:
            yield self.whole[start : end + 1]
            return
        assert self.reader is not None
        size = self.info.chunk_size
        digest = hashlib.sha256()
        first, last = start // size, end // size
        for seq in range(first, last + 1):
            low = start - seq * size if seq == first else 0
            high = end - seq * size if seq == last else size - 1
            piece = await self.reader.chunk(self.info, seq, low, high - low + 1)
            if piece is None or len(piece) != high - low + 1:
                raise FileCorrupted(f"file {self.info.id} lost chunk {seq} while being read")
            if verify:
                digest.update(piece)
                if seq == last and digest.hexdigest() != self.info.sha256:
                    raise FileCorrupted(f"file {self.info.id} does not match its SHA-256")
            yield piece


def _parse_range(value: str, size: int) -> tuple[int, int] | bool | None:
    """(start, end) of a single byte range; None to ignore the header (not one range we
    read); False when it cannot be satisfied (416)."""
    match = RANGE.match(value.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            return False
        return max(size - suffix, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None  # syntactically invalid: ignored, as RFC 9110 says
    if start >= size:
        return False
    return start, end


def _matches(header: str, etag: str) -> bool:
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    return "*" in tags or etag in tags


class DownloadResponse(Response):
    """A download with ETag, Content-Length and a single Range: 200, 206, 304 or 416,
    decided from the request's headers when the response is sent."""

    def __init__(
        self,
        download: Download,
        *,
        filename: str | None = None,
        inline: bool = True,
        cache_control: str = "private, no-cache",
    ) -> None:
        self.download = download
        self.status_code = 200
        self.background = None
        self.media_type = download.info.content_type or "application/octet-stream"
        headers = {
            "etag": download.info.etag,
            "accept-ranges": "bytes",
            "cache-control": cache_control,
            "x-content-type-options": "nosniff",
        }
        if filename:
            kind = "inline" if inline else "attachment"
            headers["content-disposition"] = f'{kind}; filename="{filename}"'
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Headers(scope=scope)
        info = self.download.info
        size = info.size
        headers = list(self.raw_headers)
        if _matches(request.get("if-none-match", ""), info.etag):
            await self._send(send, 304, headers, None, 0, -1)
            return
        wanted: tuple[int, int] | bool | None = None
        if "range" in request and request.get("if-range", info.etag) == info.etag:
            wanted = _parse_range(request["range"], size)
        if wanted is False:
            headers.append((b"content-range", f"bytes */{size}".encode()))
            await self._send(send, 416, headers, None, 0, -1)
            return
        if isinstance(wanted, tuple):
            start, end = wanted
            headers.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
            await self._send(send, 206, headers, scope["method"], start, end)
            return
        await self._send(send, 200, headers, scope["method"], 0, size - 1)

    async def _send(
        self,
        send: Send,
        status: int,
        headers: list[tuple[bytes, bytes]],
        method: str | None,
        start: int,
        end: int,
    ) -> None:
        length = end - start + 1 if method is not None else 0
        if status != 304:
            headers.append((b"content-length", str(length).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if method != "GET" or length <= 0:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        whole = status == 200
        async for piece in self.download.pieces(start, end, verify=whole):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
