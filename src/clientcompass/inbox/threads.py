"""A thread's messages, newest page first, keyset-paginated on (created_at, id).

Read as plain columns (not ORM objects) and without what a thread never shows (Twilio's
raw webhook payload, status times, template variables): for a long thread, building and
decoding those was most of the server's time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, select, tuple_, type_coerce
from sqlalchemy.dialects.postgresql import JSONB

from clientcompass.conversations.queries import media_out
from clientcompass.conversations.schemas import MediaOut, MessageOut
from clientcompass.db import UnitOfWork
from clientcompass.inbox.listing import Cursor
from clientcompass.models import Message, MessageMedia, MessageStatus
from clientcompass.whatsapp.errors import explain

# A phone shows about ten bubbles: fifty is plenty to scroll, and earlier pages load on
# demand (bench/inbox: the first page's cost grows with its length).
PAGE = 50


@dataclass(frozen=True)
class MessagePage:
    messages: list[MessageOut]
    earlier: Cursor | None


def _message_out(row: Row[Any], files: list[MediaOut]) -> MessageOut:
    status = MessageStatus(row.status)
    return MessageOut(
        id=row.id,
        direction=row.direction,
        body=row.body,
        status=status,
        status_times={},
        error_code=row.error_code,
        error=explain(row.error_code, row.error_message) if status.is_terminal_error else "",
        content_sid=row.content_sid,
        content_variables={},
        media=files
        or [
            MediaOut(url=str(entry.get("url", "")), content_type=str(entry.get("content_type", "")))
            for entry in row.media
        ],
        details=row.details or {},
        created_at=row.created_at,
    )


async def latest(
    uow: UnitOfWork, conversation_id: uuid.UUID, *, before: Cursor | None = None, limit: int = PAGE
) -> MessagePage:
    """The newest `limit` messages (older than `before`), oldest first, and the cursor for
    the page before them when there is one."""
    assert uow.tenant_id is not None
    query = (
        select(
            Message.id,
            Message.direction,
            Message.body,
            Message.status,
            Message.error_code,
            Message.error_message,
            Message.content_sid,
            Message.media,
            type_coerce(Message.details.op("-")("twilio"), JSONB).label("details"),
            Message.created_at,
        )
        .where(Message.tenant_id == uow.tenant_id)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        query = query.where(tuple_(Message.created_at, Message.id) < tuple_(before.at, before.id))
    rows = list((await uow.session.execute(query)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    rows.reverse()
    with_media = [row.id for row in rows if row.media]
    files: dict[uuid.UUID, list[MediaOut]] = {}
    if with_media:
        for item in await uow.session.scalars(
            select(MessageMedia)
            .where(MessageMedia.tenant_id == uow.tenant_id)
            .where(MessageMedia.message_id.in_(with_media))
            .order_by(MessageMedia.position)
        ):
            if item.message_id is not None:
                files.setdefault(item.message_id, []).append(media_out(item))
    earlier = Cursor(rows[0].created_at, rows[0].id) if more and rows else None
    return MessagePage([_message_out(row, files.get(row.id, [])) for row in rows], earlier)
