"""Inbound media: fetched in a job with the channel's credentials, checked, stored in the
database (files.py) as temporary files; purged after MEDIA_RETENTION_DAYS; a sweep retries or
gives up on downloads that stayed pending."""

from __future__ import annotations

import posixpath
import re
import uuid
from datetime import datetime, timedelta
from urllib.parse import unquote, urlsplit

import structlog
from sqlalchemy import select, text, update

from clientcompass import files
from clientcompass.db import UnitOfWork
from clientcompass.models import MediaState, Message, MessageMedia, Retention
from clientcompass.realtime.bus import Event
from clientcompass.storage import Storage
from clientcompass.twilio_client import TwilioRejected
from clientcompass.whatsapp import channels
from clientcompass.work import Resources, UnitsOfWork

log = structlog.get_logger(__name__)
FETCH_TASK = "whatsapp.fetch_media"
PURGE_TASK = "whatsapp.purge_expired_media"
SWEEP_TASK = "whatsapp.sweep_pending_media"
PURGE_BATCH = 500
PURGE_MAX_BATCHES = 20  # per run: a backlog is worked off over the next runs
# A pending download older than this is looked at by the sweep: fetched again, or given up
# once it has had MAX_FETCH_ATTEMPTS tries or GIVE_UP_AFTER has passed.
MAX_FETCH_ATTEMPTS = 8
GIVE_UP_AFTER = timedelta(days=1)
COULD_NOT_DOWNLOAD = "Gave up: the file could not be downloaded from WhatsApp."

# Twilio's media address (api_v2010: Message Media), below the API base URL.
MEDIA_PATH = re.compile(
    r"/2010-04-01/Accounts/(?P<account>AC[0-9a-fA-F]{32})"
    r"/Messages/(?P<message>(?:SM|MM)[0-9a-fA-F]{32})/Media/(?P<media>ME[0-9a-fA-F]{32})"
)
DEFAULT_PORTS = {"http": 80, "https": 443}

ALLOWED_TYPES = (
    "image/",
    "video/",
    "audio/",
    "application/pdf",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "text/plain",
    "text/vcard",
    "text/x-vcard",
)
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "video/mp4": ".mp4",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "text/vcard": ".vcf",
}


def media_url_of_account(api_base_url: str, account_sid: str, message_sid: str, url: str) -> str:
    """The canonical address of a MediaUrl, if it is Twilio's media of this account's message
    on the configured API host; raises TwilioRejected otherwise.

    Checked after normalising, as the HTTP client would: percent-decoding and resolving dot
    segments, so `<base>/../metrics` or `<base>/%2e%2e/metrics` is seen for what it names.
    What is fetched is rebuilt from the checked parts, never the string we were given.
    """
    base = urlsplit(api_base_url)
    given = urlsplit(url.strip())
    if any(ord(c) < 0x21 or c == "\\" for c in url.strip()) or given.username is not None:
        raise TwilioRejected(f"media URL is not on the Twilio API host: {url[:80]}")
    try:
        same_port = (given.port or DEFAULT_PORTS.get(given.scheme)) == (
            base.port or DEFAULT_PORTS.get(base.scheme)
        )
    except ValueError:
        same_port = False
    if (
        given.scheme != base.scheme
        or (given.hostname or "") != (base.hostname or "").lower()
        or not same_port
    ):
        raise TwilioRejected(f"media URL is not on the Twilio API host: {url[:80]}")
    decoded = unquote(given.path)
    resolved = posixpath.normpath("/" + decoded.lstrip("/")) if decoded else "/"
    prefix = base.path.rstrip("/")
    match = (
        MEDIA_PATH.fullmatch(resolved[len(prefix) :]) if resolved.startswith(prefix + "/") else None
    )
    if (
        match is None
        or "%" in decoded
        or given.query
        or given.fragment
        or match["account"] != account_sid
        or match["message"] != message_sid
    ):
        raise TwilioRejected(
            f"media URL is not a Twilio media address of this account's message: {url[:80]}"
        )
    return f"{base.scheme}://{base.netloc}{prefix}{match.group(0)}"


def is_allowed_type(content_type: str) -> bool:
    """Documents and media WhatsApp carries; never SVG or HTML, which could run script here."""
    return content_type.startswith(ALLOWED_TYPES) and "svg" not in content_type


async def fetch_inbound(resources: Resources, tenant_id: uuid.UUID, media_id: uuid.UUID) -> None:
    """Download one inbound file. A 404 raises, so the job retries (Twilio's just-arrived race)."""
    async with resources.unit_of_work(tenant_id) as uow:
        item = await uow.session.get(MessageMedia, (tenant_id, media_id))
        if item is None or item.state is not MediaState.PENDING:
            return
        item.attempts += 1
        message = await uow.session.get(Message, (tenant_id, item.message_id))
        assert message is not None
        channel = await channels.get_channel(uow, tenant_id, message.channel_id)
        creds = channels.credentials(channel, resources.keyring)
        source_url, conversation_id = item.source_url, message.conversation_id
        message_sid, message_id = message.provider_sid or "", message.id
    try:
        url = media_url_of_account(
            resources.settings.twilio_api_base_url, creds.account_sid, message_sid, source_url
        )
        content, content_type = await resources.twilio.fetch_media(
            creds, url, max_bytes=resources.settings.media_max_bytes
        )
        if not is_allowed_type(content_type):
            raise TwilioRejected(f"files of type {content_type} are not accepted")
    except TwilioRejected as exc:
        async with resources.unit_of_work(tenant_id) as uow:
            await _give_up(uow, media_id, exc.message)
        log.warning("inbound media refused", media_id=str(media_id), reason=exc.message)
        return
    async with resources.unit_of_work(tenant_id) as uow:
        stored = await uow.session.get(MessageMedia, (tenant_id, media_id), with_for_update=True)
        if stored is None or stored.state is not MediaState.PENDING:
            return  # another fetch (the sweep's) stored it or gave up first
        saved = await files.put(
            uow, content, content_type=content_type, retention=Retention.TEMPORARY
        )
        stored.state, stored.file_id = MediaState.STORED, saved.id
        stored.content_type, stored.size = content_type, len(content)
        stored.filename = stored.filename or f"{media_id.hex[:8]}{EXTENSIONS.get(content_type, '')}"
        uow.announce(
            Event.MEDIA_STORED,
            media_id=str(media_id),
            message_id=str(message_id),
            conversation_id=str(conversation_id),
        )


async def _give_up(uow: UnitOfWork, media_id: uuid.UUID, reason: str) -> None:
    """Mark a pending download failed ("couldn't download" in the thread)."""
    assert uow.tenant_id is not None
    await uow.session.execute(
        update(MessageMedia)
        .where(MessageMedia.tenant_id == uow.tenant_id)
        .where(MessageMedia.id == media_id)
        .where(MessageMedia.state == MediaState.PENDING)
        .values(state=MediaState.FAILED, error=reason[:500])
    )


async def defer_fetches(uow: UnitOfWork, message_id: uuid.UUID) -> None:
    """Queue the download of a new inbound message's files (the inbound pipeline's handler)."""
    assert uow.tenant_id is not None
    pending = await uow.session.scalars(
        select(MessageMedia.id)
        .where(MessageMedia.tenant_id == uow.tenant_id)
        .where(MessageMedia.message_id == message_id)
        .where(MessageMedia.state == MediaState.PENDING)
        .order_by(MessageMedia.position)
    )
    for media_id in pending:
        uow.defer_job(FETCH_TASK, tenant_id=str(uow.tenant_id), media_id=str(media_id))


async def stored_media(uow: UnitOfWork, media_id: uuid.UUID) -> MessageMedia | None:
    """A stored file of the unit of work's tenant (RLS backs the tenant filter)."""
    assert uow.tenant_id is not None
    tenant_id = uow.tenant_id
    return (
        await uow.session.execute(
            select(MessageMedia)
            .where(MessageMedia.tenant_id == tenant_id)
            .where(MessageMedia.id == media_id)
            .where(MessageMedia.state == MediaState.STORED)
        )
    ).scalar_one_or_none()


async def open_stored(
    uow: UnitOfWork, storage: Storage, media_id: uuid.UUID
) -> tuple[MessageMedia, files.Download] | None:
    """A stored file and its bytes ready to stream, or None (unknown, pending, expired)."""
    item = await stored_media(uow, media_id)
    if item is None or item.file_id is None:
        return None
    download = await files.open_file(uow, storage.reader, item.file_id)
    return None if download is None else (item, download)


async def purge_expired(
    units: UnitsOfWork,
    now: datetime,
    retention_days: int,
    *,
    batch: int = PURGE_BATCH,
    max_batches: int = PURGE_MAX_BATCHES,
) -> int:
    """Delete temporary files (WhatsApp media) older than the retention period, a batch at a
    time, and mark their media "expired". Idempotent: what is gone is not found again.
    Legal-hold files are never selected (and the database refuses to delete them)."""
    before = now - timedelta(days=retention_days)
    purged = 0
    for _ in range(max_batches):
        async with units(None) as uow:
            due = await files.expired_temporary(uow, before, batch)
        by_tenant: dict[uuid.UUID, list[uuid.UUID]] = {}
        for tenant_id, file_id in due:
            by_tenant.setdefault(tenant_id, []).append(file_id)
        for tenant_id, file_ids in by_tenant.items():
            async with units(tenant_id) as uow:
                await uow.session.execute(
                    update(MessageMedia)
                    .where(MessageMedia.tenant_id == tenant_id)
                    .where(MessageMedia.file_id.in_(file_ids))
                    .values(state=MediaState.EXPIRED, file_id=None)
                )
                purged += await files.delete_temporary(uow, file_ids, before)
        if len(due) < batch:
            break
    if purged:
        log.info("purged expired media", files=purged, before=before.isoformat())
    return purged


async def sweep_pending(
    units: UnitsOfWork, now: datetime, older_than: timedelta, *, limit: int = PURGE_BATCH
) -> tuple[list[tuple[uuid.UUID, uuid.UUID]], int]:
    """Media still pending past the deadline: give up on those tried too often or for too
    long; the rest are returned, (tenant, media), to be fetched again."""
    async with units(None) as uow:
        stuck = (
            await uow.session.execute(
                text("SELECT tenant_id, media_id FROM cc_media_stuck(:before, :limit)"),
                {"before": now - older_than, "limit": limit},
            )
        ).all()
    retry: list[tuple[uuid.UUID, uuid.UUID]] = []
    gave_up = 0
    for tenant_id, media_id in stuck:
        async with units(tenant_id) as uow:
            item = await uow.session.get(MessageMedia, (tenant_id, media_id))
            if item is None or item.state is not MediaState.PENDING:
                continue
            if item.attempts >= MAX_FETCH_ATTEMPTS or item.created_at < now - GIVE_UP_AFTER:
                await _give_up(uow, media_id, COULD_NOT_DOWNLOAD)
                gave_up += 1
            else:
                retry.append((tenant_id, media_id))
    if stuck:
        log.info("pending media sweep", retried=len(retry), gave_up=gave_up)
    return retry, gave_up
