"""Inbox use cases that are not WhatsApp's own: what a member has seen."""

from __future__ import annotations

import uuid

from sqlalchemy import update

from clientcompass.db import UnitOfWork
from clientcompass.models import Conversation


async def mark_read(uow: UnitOfWork, conversation_id: uuid.UUID) -> None:
    """A member opened the conversation: nothing in it is unread any more.

    Only touches the row when something was unread, so the thread's polling does not
    write on every refresh.
    """
    assert uow.tenant_id is not None
    await uow.session.execute(
        update(Conversation)
        .where(Conversation.tenant_id == uow.tenant_id)
        .where(Conversation.id == conversation_id)
        .where(Conversation.unread_count > 0)
        .values(unread_count=0)
    )
