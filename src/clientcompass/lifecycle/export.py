"""Data exports (POPIA s23 access, and portability): everything about the business, or about
one customer, as a ZIP of JSON and CSV per kind of record plus the issued PDFs and the media
still held (export_sources.py says what; export_build.py builds it).

Why a job and a file row: a business with years of WhatsApp media runs to gigabytes, more
than a request may take and more than memory may hold. The job streams the ZIP into a
temporary file in PostgreSQL (DESIGN.md: files are rows, no bytes on local disk), and the
download streams that file through the one download response (files.DownloadResponse: Range,
ETag), so a slow client holds no connection and any replica can serve it. Rebuilding the ZIP
on each download from a manifest would also keep memory bounded, but would read a gigabyte
again per attempt, serve data that changed since the owner asked, and make the 24-hour link
a window on live data. The file goes when the link expires (`expire`, queued for then), and
with `discard_all` when the data it copied is erased; its `temporary` retention is the
backstop.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, text

from clientcompass import links
from clientcompass.audit import service as audit
from clientcompass.auth.principal import Principal
from clientcompass.db import UnitOfWork
from clientcompass.errors import Forbidden, NotFound
from clientcompass.models import AuditAction, Contact, Role
from clientcompass.models.exports import Export, ExportKind, ExportStatus

log = structlog.get_logger(__name__)

PURPOSE = "export"

LIFETIME = timedelta(hours=24)

BUILD_TASK = "exports.build"

EXPIRE_TASK = "exports.expire"

OWNERS_ONLY = "Only an owner can export the business's data."


def require_owner(actor: Principal) -> None:
    if actor.role is not Role.OWNER:
        raise Forbidden(OWNERS_ONLY)


async def start(
    uow: UnitOfWork, actor: Principal, *, contact_id: uuid.UUID | None = None
) -> Export:
    """Queue an export of the business (or of one contact), audit it, and its job."""
    require_owner(actor)
    assert uow.tenant_id is not None
    label = ""
    if contact_id is not None:
        contact = await uow.session.get(Contact, (uow.tenant_id, contact_id))
        if contact is None:
            raise NotFound("That contact does not exist.")
        label = (contact.name or contact.profile_name or contact.phone_e164)[:200]
    export = Export(
        tenant_id=uow.tenant_id,
        id=uuid.uuid4(),
        kind=(ExportKind.CUSTOMER if contact_id else ExportKind.BUSINESS).value,
        subject_id=contact_id,
        subject_label=label,
        status=ExportStatus.QUEUED.value,
        stage="",
        done=0,
        total=0,
        requested_by=actor.user_id,
        error="",
        created_at=uow.now,
    )
    uow.session.add(export)
    await uow.session.flush()
    await audit.record(
        uow,
        AuditAction.EXPORT_CREATED,
        actor_id=actor.user_id,
        target_kind="export",
        target_id=export.id,
        target_label=f"Customer: {label}" if contact_id else "Whole business",
        details={"kind": export.kind, "contact_id": str(contact_id) if contact_id else None},
    )
    uow.defer_job(BUILD_TASK, tenant_id=str(uow.tenant_id), export_id=str(export.id))
    return export


async def get(uow: UnitOfWork, actor: Principal, export_id: uuid.UUID) -> Export:
    """One of the business's exports (owners only); another business's is not found."""
    require_owner(actor)
    export = await uow.session.get(Export, (actor.tenant_id, export_id))
    if export is None:
        raise NotFound("That export does not exist.")
    return export


def subject_of(export: Export) -> str:
    """What an export is of, as the list shows it."""
    return f"Customer: {export.subject_label}" if export.subject_id else "Whole business"


async def recent(uow: UnitOfWork, actor: Principal, limit: int = 10) -> list[Export]:
    """The business's latest exports, newest first (owners only)."""
    require_owner(actor)
    rows = await uow.session.scalars(
        select(Export)
        .where(Export.tenant_id == actor.tenant_id)
        .order_by(Export.created_at.desc(), Export.id)
        .limit(limit)
    )
    return list(rows)


def is_downloadable(export: Export, now: datetime) -> bool:
    return (
        export.status == ExportStatus.READY.value
        and export.file_id is not None
        and export.expires_at is not None
        and export.expires_at > now
    )


def download_token(secret: str, export: Export, now: datetime) -> str:
    """A link token good until the export expires (at most 24 hours)."""
    assert export.expires_at is not None
    lifetime = max(int((export.expires_at - now).total_seconds()), 1)
    return links.sign(secret, PURPOSE, export.tenant_id, export.id, lifetime=lifetime)


def download_path(token: str) -> str:
    return f"/exports/download?token={token}"


EXPIRED_LINK = (
    "This download link has expired or is not valid. Start a new export in Settings → Data export."
)


async def for_download(uow: UnitOfWork, actor: Principal, secret: str, token: str) -> Export:
    """The export a signed link names, if the link is genuine and current, the export is of
    the caller's business and still held; the caller must be its owner."""
    require_owner(actor)
    granted = links.read(secret, PURPOSE, token)
    if granted is None or granted[0] != actor.tenant_id:
        raise NotFound(EXPIRED_LINK)
    export = await uow.session.get(Export, (actor.tenant_id, granted[1]))
    if export is None or not is_downloadable(export, uow.now):
        raise NotFound(EXPIRED_LINK)
    return export


def filename(export: Export) -> str:
    day = (export.finished_at or export.created_at).strftime("%Y-%m-%d")
    if export.kind == ExportKind.CUSTOMER.value:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", export.subject_label).strip("-")[:40] or "customer"
        return f"clientcompass-customer-{slug}-{day}.zip"
    return f"clientcompass-export-{day}.zip"


async def drop_file(uow: UnitOfWork, file_id: uuid.UUID) -> None:
    await uow.session.execute(
        text("DELETE FROM files WHERE tenant_id = :t AND id = :id AND retention = 'temporary'"),
        {"t": uow.tenant_id, "id": file_id},
    )


async def expire(uow: UnitOfWork, export_id: uuid.UUID) -> bool:
    """Delete an export's ZIP once its link has expired (idempotent)."""
    assert uow.tenant_id is not None
    export = await uow.session.get(Export, (uow.tenant_id, export_id), with_for_update=True)
    if export is None or export.status != ExportStatus.READY.value:
        return False
    if export.expires_at is not None and export.expires_at > uow.now:
        return False
    if export.file_id is not None:
        await drop_file(uow, export.file_id)
    export.file_id = None
    export.status = ExportStatus.EXPIRED.value
    return True


async def discard_all(uow: UnitOfWork, *, contact_id: uuid.UUID | None = None) -> int:
    """Delete every held export ZIP of the unit of work's business at once (for an erasure
    or a closure: a ZIP made earlier must not outlive the data it copied); with `contact_id`
    (an erased customer), their name also leaves the exports list."""
    assert uow.tenant_id is not None
    if contact_id is not None:
        await uow.session.execute(
            text("UPDATE exports SET subject_label = '' WHERE tenant_id = :t AND subject_id = :c"),
            {"t": uow.tenant_id, "c": contact_id},
        )
    held = await uow.session.scalars(
        select(Export).where(
            Export.tenant_id == uow.tenant_id,
            Export.status.in_([ExportStatus.READY.value, ExportStatus.RUNNING.value]),
        )
    )
    count = 0
    for export in held:
        if export.file_id is not None:
            await drop_file(uow, export.file_id)
        export.file_id = None
        export.status = ExportStatus.EXPIRED.value
        count += 1
    return count
