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

from sqlalchemy import Boolean, Executable, bindparam, column, exists, select, update
from sqlalchemy.orm import aliased

from clientcompass.db import UnitOfWork
from clientcompass.models import Contact, Conversation, Direction, Flow, Message

# Written by SQL (cc_record_inbound, migration 0012): keep these two in step with it.
INBOUND_TASK = "conversations.inbound_recorded"
INBOUND_QUEUE = "inbound"
SWEEP_TASK = "conversations.sweep_inbound"


@dataclass(frozen=True)
class Location:
    """A pin the customer shared: an answer to "where is the job?" as good as a typed one."""

    latitude: float
    longitude: float
    address: str
    label: str


@dataclass(frozen=True)
class Referral:
    """The click-to-WhatsApp ad a message came from (stored only when an ad sent it)."""

    source_id: str
    source_type: str
    source_url: str
    ctwa_clid: str
    headline: str
    body: str
    media_id: str
    media_content_type: str
    media_url: str
    num_media: str


def _block(details: dict[str, Any], key: str) -> dict[str, Any]:
    value = details.get(key)
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Inbound:
    """A customer's message as handlers see it."""

    message: Message
    conversation: Conversation
    contact: Contact
    # No earlier message in its conversation: a new customer, or a new lead.
    first: bool
    # The business has a flow (flows are never deleted): without one, no run can be live, no
    # trial armed and nothing started, and the flow handler skips its lock and look.
    flows: bool

    @property
    def body(self) -> str:
        return self.message.body

    @property
    def button_payload(self) -> str:
        return str(_block(self.message.details, "button").get("payload") or "")

    @property
    def list_id(self) -> str:
        """The id of the list-picker item chosen (Twilio's `ListId`); "" for anything else."""
        return str(_block(self.message.details, "list").get("id") or "")

    @property
    def location(self) -> Location | None:
        pin = _block(self.message.details, "location")
        try:
            latitude, longitude = float(pin["latitude"]), float(pin["longitude"])
        except (KeyError, TypeError, ValueError):
            return None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            return None
        return Location(
            latitude, longitude, str(pin.get("address") or ""), str(pin.get("label") or "")
        )

    @property
    def referral(self) -> Referral | None:
        ad = _block(self.message.details, "referral")
        if not any(ad.get(key) for key in ("CtwaClid", "SourceId", "SourceUrl")):
            return None

        def field(name: str) -> str:
            return str(ad.get(name) or "")

        return Referral(
            source_id=field("SourceId"),
            source_type=field("SourceType"),
            source_url=field("SourceUrl"),
            ctwa_clid=field("CtwaClid"),
            headline=field("Headline"),
            body=field("Body"),
            media_id=field("MediaId"),
            media_content_type=field("MediaContentType"),
            media_url=field("MediaUrl"),
            num_media=field("NumMedia"),
        )


InboundHandler = Callable[[UnitOfWork, Inbound], Awaitable[None]]


def _claim() -> Executable:
    """Mark an unhandled inbound message handled, and return it with its conversation, its
    customer, whether it is the conversation's first and whether the business has any flow
    (most have none: their messages skip the flow handler's round trip), in one round trip
    (UPDATE … FROM … RETURNING). Built once: constructing it per message was, with the other
    hot statements, a tenth of a worker's CPU (bench/notify)."""
    earlier = aliased(Message)
    before = (
        exists()
        .where(earlier.tenant_id == Message.tenant_id)
        .where(earlier.conversation_id == Message.conversation_id)
        .where(earlier.created_at < Message.created_at)
        .label("earlier")
    )
    flows = exists().where(Flow.tenant_id == Message.tenant_id).label("flows")
    claim = (
        update(Message)
        .where(Message.tenant_id == bindparam("claim_tenant"))
        .where(Message.id == bindparam("claim_message"))
        .where(Message.direction == Direction.INBOUND)
        .where(Message.handled_at.is_(None))
        .where(Conversation.tenant_id == Message.tenant_id)
        .where(Conversation.id == Message.conversation_id)
        .where(Contact.tenant_id == Conversation.tenant_id)
        .where(Contact.id == Conversation.contact_id)
        .values(handled_at=bindparam("claimed_at"))
        .returning(Message, Conversation, Contact, before, flows)
    )
    return select(
        Message, Conversation, Contact, column("earlier", Boolean), column("flows", Boolean)
    ).from_statement(claim)


CLAIM = _claim()


async def handle(
    uow: UnitOfWork, message_id: uuid.UUID, handlers: Sequence[InboundHandler]
) -> bool:
    """Run every handler for this message in this transaction; False if it was handled
    already. The row lock taken by the UPDATE makes a concurrent second run wait, then skip."""
    assert uow.tenant_id is not None
    row = (
        await uow.session.execute(
            CLAIM,
            {"claim_tenant": uow.tenant_id, "claim_message": message_id, "claimed_at": uow.now},
            execution_options={"populate_existing": True},
        )
    ).first()
    if row is None:
        return False
    inbound = Inbound(row[0], row[1], row[2], first=not row[3], flows=row[4])
    for handler in handlers:
        await handler(uow, inbound)
    return True
