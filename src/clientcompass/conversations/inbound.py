"""The inbound pipeline: what happens after a customer's message is stored, exactly once.

`cc_record_inbound` (migration 0012) stores the message and writes one `INBOUND_TASK` job in
the same statement, so a message never exists without its follow-up. That job runs every
handler the domains registered (media download, quote answers, and later flows, opt-out and
notifications) in one transaction that also sets `messages.handled_at`: a job that runs
again (its worker was killed after committing) finds the message handled and does nothing,
and a message whose job went missing is found by the sweeper and handled once.

Handlers do their quick work in the transaction they are given and queue anything slow as
jobs of their own with `uow.defer_job`, which commits with everything else.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from clientcompass.db import UnitOfWork
from clientcompass.models import Conversation, Direction, Message

# Written by SQL (cc_record_inbound, migration 0012): keep these two in step with it.
INBOUND_TASK = "conversations.inbound_recorded"
INBOUND_QUEUE = "inbound"
SWEEP_TASK = "conversations.sweep_inbound"


@dataclass(frozen=True)
class Inbound:
    """A customer's message as handlers see it."""

    message: Message
    conversation: Conversation

    @property
    def body(self) -> str:
        return self.message.body

    @property
    def button_payload(self) -> str:
        button: Any = self.message.details.get("button") or {}
        return str(button.get("payload") or "") if isinstance(button, dict) else ""


InboundHandler = Callable[[UnitOfWork, Inbound], Awaitable[None]]


async def handle(
    uow: UnitOfWork, message_id: uuid.UUID, handlers: Sequence[InboundHandler]
) -> bool:
    """Run every handler for this message in this transaction; False if it was handled
    already. The row lock taken by the UPDATE makes a concurrent second run wait, then skip."""
    assert uow.tenant_id is not None
    claimed = await uow.session.scalar(
        update(Message)
        .where(Message.tenant_id == uow.tenant_id)
        .where(Message.id == message_id)
        .where(Message.direction == Direction.INBOUND)
        .where(Message.handled_at.is_(None))
        .values(handled_at=uow.now)
        .returning(Message.id)
    )
    if claimed is None:
        return False
    row = (
        await uow.session.execute(
            select(Message, Conversation)
            .join(
                Conversation,
                (Conversation.tenant_id == Message.tenant_id)
                & (Conversation.id == Message.conversation_id),
            )
            .where(Message.tenant_id == uow.tenant_id)
            .where(Message.id == message_id)
        )
    ).one()
    inbound = Inbound(row[0], row[1])
    for handler in handlers:
        await handler(uow, inbound)
    return True
