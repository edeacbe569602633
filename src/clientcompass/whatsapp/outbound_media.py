"""Files the business sends: uploaded here, then handed to Twilio as a signed, expiring URL on
this app (Twilio fetches it). Only our own uploads can be sent, so no caller-supplied URL ever
reaches Twilio or is fetched by us."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from clientcompass import files, links
from clientcompass.auth.principal import Principal
from clientcompass.db import UnitOfWork
from clientcompass.errors import InvalidInput
from clientcompass.models import MediaState, Message, MessageMedia, Retention
from clientcompass.storage import Storage

URL_LIFETIME_SECONDS = 24 * 3600
SENDABLE_TYPES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "application/pdf": (b"%PDF-",),
    "audio/ogg": (b"OggS",),
    "audio/mpeg": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"),
    "video/mp4": (),
    "text/plain": (),
    "application/msword": (),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (b"PK",),
    "application/vnd.ms-excel": (),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (b"PK",),
}
SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def clean_filename(name: str) -> str:
    """A name safe in a URL path and a Content-Disposition header."""
    cleaned = SAFE_NAME.sub("_", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip(" .")
    return cleaned[:120] or "file"


async def upload(
    uow: UnitOfWork,
    actor: Principal,
    storage: Storage,
    *,
    filename: str,
    content_type: str,
    data: bytes,
    max_bytes: int,
) -> MessageMedia:
    """Keep a file to send; refuses what WhatsApp will not carry or what is not what it says."""
    content_type = content_type.split(";")[0].strip().lower()
    if content_type not in SENDABLE_TYPES:
        raise InvalidInput(
            "WhatsApp can send photos (JPEG, PNG), PDFs, Office documents, audio and MP4 video.",
            field="file",
        )
    if not data:
        raise InvalidInput("That file is empty.", field="file")
    if len(data) > max_bytes:
        raise InvalidInput(
            f"That file is too large; the limit is {max_bytes // (1024 * 1024)} MB.", field="file"
        )
    signatures = SENDABLE_TYPES[content_type]
    if signatures and not data.startswith(signatures):
        raise InvalidInput(f"That file is not a real {content_type} file.", field="file")
    return await store_file(
        uow, actor.tenant_id, storage, filename=filename, content_type=content_type, data=data
    )


async def store_file(
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    storage: Storage,
    *,
    filename: str,
    content_type: str,
    data: bytes,
) -> MessageMedia:
    """Keep a file the app itself made (a document's PDF) to send, as an upload is kept:
    a temporary file in the database, purged after MEDIA_RETENTION_DAYS."""
    assert uow.tenant_id == tenant_id
    stored = await files.put(uow, data, content_type=content_type, retention=Retention.TEMPORARY)
    return await _media_for(uow, stored, filename)


async def store_copy(
    uow: UnitOfWork, tenant_id: uuid.UUID, file_id: uuid.UUID, *, filename: str
) -> MessageMedia:
    """Send a stored file (an issued PDF, which stays on legal hold) as media of its own: a
    temporary copy made inside the database, so purging the media never touches the
    original."""
    assert uow.tenant_id == tenant_id
    stored = await files.copy(uow, file_id, retention=Retention.TEMPORARY)
    return await _media_for(uow, stored, filename)


async def _media_for(uow: UnitOfWork, stored: files.FileInfo, filename: str) -> MessageMedia:
    item = MessageMedia(
        tenant_id=stored.tenant_id,
        id=uuid.uuid4(),
        message_id=None,
        position=0,
        content_type=stored.content_type,
        size=stored.size,
        filename=clean_filename(filename),
        source_url="",
        storage_key="",
        file_id=stored.id,
        state=MediaState.STORED,
        error="",
    )
    uow.session.add(item)
    await uow.session.flush()
    return item


async def attach(
    uow: UnitOfWork, message: Message, media_ids: list[uuid.UUID]
) -> list[MessageMedia]:
    """Bind uploaded files to the message that sends them (once: a file is sent once)."""
    assert uow.tenant_id is not None
    rows = list(
        await uow.session.scalars(
            select(MessageMedia)
            .where(MessageMedia.tenant_id == uow.tenant_id)
            .where(MessageMedia.id.in_(media_ids))
            .where(MessageMedia.message_id.is_(None))
            .where(MessageMedia.state == MediaState.STORED)
            .with_for_update()
        )
    )
    if len(rows) != len(set(media_ids)):
        raise InvalidInput(
            "That file was not found, or it was sent already. Upload it again.", field="media_ids"
        )
    order = {media_id: position for position, media_id in enumerate(media_ids)}
    for item in rows:
        item.message_id = message.id
        item.position = order[item.id]
    rows.sort(key=lambda item: item.position)
    return rows


PURPOSE = "outbound-media"


def signed_token(
    secret: str, tenant_id: uuid.UUID, media_id: uuid.UUID, *, lifetime: int = URL_LIFETIME_SECONDS
) -> str:
    return links.sign(secret, PURPOSE, tenant_id, media_id, lifetime=lifetime)


def read_token(secret: str, token: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The (tenant, media) a token grants, or None if forged, malformed or expired."""
    return links.read(secret, PURPOSE, token)


def public_url(
    base_url: str, secret: str, tenant_id: uuid.UUID, media_id: uuid.UUID, filename: str
) -> str:
    return f"{base_url}/m/{signed_token(secret, tenant_id, media_id)}/{filename or 'file'}"


def media_prefix(base_url: str) -> str:
    """The fixed start of every outbound file's address: a card's media URL is this prefix
    plus `header_path` (Twilio wants a fixed domain before a variable)."""
    return f"{base_url}/m/"


def header_path(
    secret: str,
    tenant_id: uuid.UUID,
    media_id: uuid.UUID,
    filename: str,
    *,
    lifetime: int = URL_LIFETIME_SECONDS,
) -> str:
    """`{token}/{filename}`: the variable part of a card's file address (see `public_url`)."""
    return f"{signed_token(secret, tenant_id, media_id, lifetime=lifetime)}/{filename or 'file'}"


async def attach_header(uow: UnitOfWork, message: Message, media_id: uuid.UUID) -> MessageMedia:
    """Bind a file to a message whose content template carries it in its header (its address
    is a content variable): listed with the message like any file, but with no `media_id`
    entry, so the sender does not also pass it to Twilio as a MediaUrl."""
    [item] = await attach(uow, message, [media_id])
    message.media = [
        {
            "header_media_id": str(item.id),
            "content_type": item.content_type,
            "filename": item.filename,
            "size": item.size,
        }
    ]
    await uow.session.flush()
    return item
