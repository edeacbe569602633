"""Inbound media: fetched in a job with the channel's credentials, checked, stored."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import select

from clientcompass.db import UnitOfWork
from clientcompass.models import MediaState, Message, MessageMedia
from clientcompass.realtime.bus import Event
from clientcompass.storage import LocalStorage
from clientcompass.twilio_client import TwilioRejected
from clientcompass.whatsapp import channels
from clientcompass.work import Resources

log = structlog.get_logger(__name__)
FETCH_TASK = "whatsapp.fetch_media"

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


def storage_key(tenant_id: uuid.UUID, media_id: uuid.UUID) -> str:
    return f"{tenant_id}/{media_id}"


def is_allowed_type(content_type: str) -> bool:
    """Documents and media WhatsApp carries; never SVG or HTML, which could run script here."""
    return content_type.startswith(ALLOWED_TYPES) and "svg" not in content_type


async def fetch_inbound(resources: Resources, tenant_id: uuid.UUID, media_id: uuid.UUID) -> None:
    """Download one inbound file. A 404 raises, so the job retries (Twilio's just-arrived race)."""
    async with resources.unit_of_work(tenant_id) as uow:
        item = await uow.session.get(MessageMedia, (tenant_id, media_id))
        if item is None or item.state is not MediaState.PENDING:
            return
        message = await uow.session.get(Message, (tenant_id, item.message_id))
        assert message is not None
        channel = await channels.get_channel(uow, tenant_id, message.channel_id)
        creds = channels.credentials(channel, resources.keyring)
        source_url, conversation_id = item.source_url, message.conversation_id
    try:
        content, content_type = await resources.twilio.fetch_media(
            creds, source_url, max_bytes=resources.settings.media_max_bytes
        )
        if not is_allowed_type(content_type):
            raise TwilioRejected(f"files of type {content_type} are not accepted")
    except TwilioRejected as exc:
        async with resources.unit_of_work(tenant_id) as uow:
            failed = await uow.session.get(MessageMedia, (tenant_id, media_id))
            assert failed is not None
            failed.state, failed.error = MediaState.FAILED, exc.message[:500]
        log.warning("inbound media refused", media_id=str(media_id), reason=exc.message)
        return
    key = storage_key(tenant_id, media_id)
    LocalStorage(resources.settings.media_dir).put(key, content)
    async with resources.unit_of_work(tenant_id) as uow:
        stored = await uow.session.get(MessageMedia, (tenant_id, media_id))
        assert stored is not None
        stored.state, stored.storage_key = MediaState.STORED, key
        stored.content_type, stored.size = content_type, len(content)
        stored.filename = stored.filename or f"{media_id.hex[:8]}{EXTENSIONS.get(content_type, '')}"
        uow.announce(
            Event.MEDIA_STORED,
            media_id=str(media_id),
            message_id=str(message.id),
            conversation_id=str(conversation_id),
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
