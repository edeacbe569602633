"""A conversation's own rules, in one place: who it is with, its status and history, the
24-hour window, and the one way anything is sent into it.

Every sender (the inbox, the JSON API, documents, reminders, quote answers, and later flows)
calls `send()`, so every send is checked the same way, lands in the outbox the same way, and
is announced to open inboxes the same way. Work the business did not type itself is done by
the system actor (`actor=None`), and its history says so.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from clientcompass import names
from clientcompass.auth.principal import Principal
from clientcompass.conversations.queries import find_conversation_contact
from clientcompass.conversations.schemas import MessageIn
from clientcompass.conversations.window import closed_window_message, window_state
from clientcompass.db import UnitOfWork
from clientcompass.errors import Conflict, InvalidInput, NotFound
from clientcompass.models import (
    Channel,
    Contact,
    Conversation,
    ConversationEvent,
    ConversationStatus,
    EventKind,
    Message,
    MessageTemplate,
    TemplateCategory,
)
from clientcompass.realtime.bus import Event, conversation_status
from clientcompass.whatsapp import outbound, templates

SYSTEM_NAME = "Client Compass"
MAX_NOTE = 4096
MAX_SNOOZE = timedelta(days=365)
# Migration 0012: the one place a status changes and its history line is written; the
# customer's reopening message goes through it too (cc_record_inbound).
SET_STATUS = text(
    "SELECT cc_set_conversation_status(:tenant_id, :conversation_id, "
    "CAST(:status AS conversation_status), CAST(:until AS timestamptz), :author_id, :by, "
    ":reason, :now)"
)
# Sends that carry one idempotency key queue behind each other until the first commits, so
# the second finds its message instead of tripping the unique index (and failing).
LOCK_CLIENT_KEY = text(
    "SELECT pg_advisory_xact_lock(hashtextextended('client_key:' || :tenant_id || ':' || :key, 0))"
)

# Who acts: a member, or None for the system (reminders, quote answers, flows, the snooze alarm).
Actor = Principal | None


class WindowClosed(InvalidInput):
    code = "window_closed"


class WhatsAppNotConnected(InvalidInput):
    code = "whatsapp_not_connected"


class OptedOutOfMarketing(InvalidInput):
    code = "opted_out_of_marketing"


# Dates in the refusal are read by South African teams (the contact page shows the same).
CONSENT_TIMEZONE = ZoneInfo("Africa/Johannesburg")


def marketing_refusal(contact: Contact) -> str:
    """Why a MARKETING template may not go to this contact (POPIA s69), in words to act on."""
    at = contact.marketing_opted_out_at
    assert at is not None
    local = at.astimezone(CONSENT_TIMEZONE)
    how = f" ({contact.marketing_opt_out_note})" if contact.marketing_opt_out_note else ""
    name = names.display_name(contact.name, contact.profile_name, contact.phone_e164)
    return (
        f"{name} opted out of marketing messages on {local.day} {local:%b %Y}{how}. "
        "You can still send utility templates and replies."
    )


async def _refuse_marketing(uow: UnitOfWork, contact: Contact, outgoing: outbound.Outgoing) -> None:
    """A MARKETING template to a contact who opted out is refused here, in the one send path,
    so the composer, the API, documents, flows and broadcasts all keep the rule."""
    if not outgoing.content_sid or contact.marketing_opted_out_at is None:
        return
    category = await uow.session.scalar(
        select(MessageTemplate.category)
        .where(MessageTemplate.tenant_id == contact.tenant_id)
        .where(MessageTemplate.content_sid == outgoing.content_sid)
        .limit(1)
    )
    if category is TemplateCategory.MARKETING:
        raise OptedOutOfMarketing(marketing_refusal(contact), field="template")


def actor_name(actor: Actor) -> str:
    return actor.name if actor is not None else SYSTEM_NAME


def record_event(
    uow: UnitOfWork,
    conversation_id: uuid.UUID,
    kind: EventKind,
    actor: Actor,
    *,
    body: str = "",
    data: dict[str, Any] | None = None,
) -> ConversationEvent:
    """A line in the thread's history, naming who did it (the system when `actor` is None)."""
    assert uow.tenant_id is not None
    event = ConversationEvent(
        tenant_id=uow.tenant_id,
        id=uuid.uuid4(),
        conversation_id=conversation_id,
        kind=kind.value,
        body=body,
        author_id=actor.user_id if actor is not None else None,
        data={"by": actor_name(actor), "system": actor is None, **(data or {})},
        created_at=uow.now,
    )
    uow.session.add(event)
    return event


async def get_for_update(uow: UnitOfWork, conversation_id: uuid.UUID) -> Conversation:
    """The conversation, locked for this transaction; another tenant's id is simply not found."""
    assert uow.tenant_id is not None
    conversation = await uow.session.scalar(
        select(Conversation)
        .where(Conversation.tenant_id == uow.tenant_id)
        .where(Conversation.id == conversation_id)
        .with_for_update()
    )
    if conversation is None:
        raise NotFound("That conversation does not exist.")
    return conversation


async def add_note(
    uow: UnitOfWork, actor: Actor, conversation_id: uuid.UUID, body: str
) -> ConversationEvent:
    """A private note for the team: shown in the thread, never sent to the customer."""
    text = body.strip()
    if not text:
        raise InvalidInput("Type a note.", field="body")
    if len(text) > MAX_NOTE:
        raise InvalidInput(f"A note holds at most {MAX_NOTE} characters.", field="body")
    conversation = await get_for_update(uow, conversation_id)
    note = record_event(uow, conversation.id, EventKind.NOTE, actor, body=text)
    await uow.session.flush()
    uow.announce(
        Event.CONVERSATION_NOTE, conversation_id=str(conversation.id), event_id=str(note.id)
    )
    return note


async def set_status(
    uow: UnitOfWork,
    actor: Actor,
    conversation_id: uuid.UUID,
    status: ConversationStatus,
    *,
    snooze_until: datetime | None = None,
    reason: str = "",
) -> Conversation:
    """Open, pending, resolved, or snoozed until a time (the snooze alarm reopens it then,
    and so does the customer's next message, through the same SQL function)."""
    if status is ConversationStatus.SNOOZED:
        if snooze_until is None or snooze_until.tzinfo is None:
            raise InvalidInput("Choose when the conversation should wake up.", field="until")
        if snooze_until <= uow.now:
            raise InvalidInput("Choose a time in the future to snooze until.", field="until")
        if snooze_until > uow.now + MAX_SNOOZE:
            raise InvalidInput("Snooze for at most a year.", field="until")
    else:
        snooze_until = None
    conversation = await get_for_update(uow, conversation_id)
    was = await uow.session.scalar(
        SET_STATUS,
        {
            "tenant_id": conversation.tenant_id,
            "conversation_id": conversation.id,
            "status": status.value,
            "until": snooze_until,
            "author_id": actor.user_id if actor is not None else None,
            "by": actor.name if actor is not None else "",
            "reason": reason or ("member" if actor is not None else "snooze"),
            "now": uow.now,
        },
    )
    if was is not None:
        await uow.session.refresh(conversation)
        uow.announce(
            Event.CONVERSATION_STATUS, **conversation_status(conversation.id, status.value, was)
        )
    return conversation


async def connected_channels(uow: UnitOfWork) -> list[Channel]:
    assert uow.tenant_id is not None
    return list(
        await uow.session.scalars(
            select(Channel)
            .where(Channel.tenant_id == uow.tenant_id)
            .where(Channel.disabled_at.is_(None))
            .order_by(Channel.created_at)
        )
    )


async def conversation_with(
    uow: UnitOfWork,
    contact_id: uuid.UUID,
    *,
    channel_id: uuid.UUID | None = None,
    create: bool = True,
) -> Conversation | None:
    """The contact's conversation: on `channel_id` when given, else on the connected number
    they last wrote on. Without one, a new conversation is started on that number (or the
    first connected one); with `create=False`, None instead."""
    assert uow.tenant_id is not None
    if channel_id is None:
        channels = await connected_channels(uow)
        if not channels:
            if not create:
                return None
            raise WhatsAppNotConnected(
                "Connect WhatsApp in Settings → WhatsApp before messaging customers."
            )
        existing = await uow.session.scalar(
            select(Conversation)
            .where(Conversation.tenant_id == uow.tenant_id)
            .where(Conversation.contact_id == contact_id)
            .where(Conversation.channel_id.in_([channel.id for channel in channels]))
            .order_by(Conversation.last_inbound_at.desc().nulls_last(), Conversation.created_at)
            .limit(1)
        )
        if existing is not None or not create:
            return existing
        channel_id = channels[0].id
    elif not create:
        return await _on_channel(uow, contact_id, channel_id)
    await uow.session.execute(
        insert(Conversation)
        .values(
            tenant_id=uow.tenant_id,
            id=uuid.uuid4(),
            channel_id=channel_id,
            contact_id=contact_id,
            status=ConversationStatus.OPEN,
            last_message_preview="",
            unread_count=0,
            created_at=uow.now,
        )
        .on_conflict_do_nothing(
            index_elements=[
                Conversation.tenant_id,
                Conversation.channel_id,
                Conversation.contact_id,
            ]
        )
    )
    created = await _on_channel(uow, contact_id, channel_id)
    assert created is not None
    return created


async def _on_channel(
    uow: UnitOfWork, contact_id: uuid.UUID, channel_id: uuid.UUID
) -> Conversation | None:
    return await uow.session.scalar(
        select(Conversation)
        .where(Conversation.tenant_id == uow.tenant_id)
        .where(Conversation.channel_id == channel_id)
        .where(Conversation.contact_id == contact_id)
    )


async def contact_for_phone(uow: UnitOfWork, phone: str, *, name: str, email: str = "") -> Contact:
    """The contact with this number (E.164), made if new; a saved name is never overwritten,
    only filled in when the contact had none (the rule inbound messages follow too)."""
    assert uow.tenant_id is not None
    contact_id = await uow.session.scalar(
        insert(Contact)
        .values(
            tenant_id=uow.tenant_id,
            id=uuid.uuid4(),
            phone_e164=phone,
            wa_id=phone.lstrip("+"),
            profile_name="",
            name=name.strip(),
            email=email.strip(),
            created_at=uow.now,
            updated_at=uow.now,
        )
        .on_conflict_do_update(
            index_elements=[Contact.tenant_id, Contact.phone_e164],
            set_={"updated_at": uow.now},
        )
        .returning(Contact.id)
    )
    contact = await uow.session.get(Contact, (uow.tenant_id, contact_id), populate_existing=True)
    assert contact is not None
    if not contact.name:
        contact.name = name.strip()
    return contact


async def send(
    uow: UnitOfWork, actor: Actor, conversation_id: uuid.UUID, outgoing: outbound.Outgoing
) -> Message:
    """The one way to send: check the 24-hour window, store the message `queued` in the outbox
    (its send job is written in this transaction), and show it in every open inbox.

    With `outgoing.client_key`, a send repeated (a reply typed offline and sent on reconnect,
    a retry, a second tab) returns the message the first one stored, and stores nothing."""
    outbound.check(outgoing)
    conversation, contact = await find_conversation_contact(uow, conversation_id)
    if outgoing.client_key is not None:
        sent = await _sent_with_key(uow, outgoing.client_key)
        if sent is not None:
            if sent.conversation_id != conversation.id:
                raise Conflict("That client_key was already used for another conversation.")
            return sent
    await _refuse_marketing(uow, contact, outgoing)
    state = window_state(conversation.last_inbound_at, uow.now)
    if not outgoing.content_sid and not state.is_open:
        raise WindowClosed(closed_window_message(state), field="body")
    message = await outbound.enqueue(
        uow, conversation, actor.user_id if actor is not None else None, outgoing
    )
    uow.announce(
        Event.MESSAGE_CREATED,
        conversation_id=str(conversation.id),
        message_id=str(message.id),
        direction="outbound",
    )
    return message


async def _sent_with_key(uow: UnitOfWork, client_key: uuid.UUID) -> Message | None:
    """The message already stored under this key, after waiting for any send holding it."""
    assert uow.tenant_id is not None
    await uow.session.execute(
        LOCK_CLIENT_KEY, {"tenant_id": str(uow.tenant_id), "key": str(client_key)}
    )
    return await uow.session.scalar(
        select(Message)
        .where(Message.tenant_id == uow.tenant_id)
        .where(Message.client_key == client_key)
    )


async def outgoing_from(
    uow: UnitOfWork, data: MessageIn, conversation_id: uuid.UUID
) -> outbound.Outgoing:
    """What an API caller asked to send: text and a file, a template by id (checked: approved,
    every value filled, of this conversation's number) or a raw ContentSid."""
    key = data.client_key
    if data.template is None:
        return outbound.Outgoing(body=data.text, media_ids=tuple(data.media_ids), client_key=key)
    if data.template.id is not None:
        chosen = await templates.outgoing_for(
            uow, data.template.id, data.template.variables, conversation_id=conversation_id
        )
        return dataclasses.replace(chosen, client_key=key)
    return outbound.Outgoing(
        content_sid=data.template.content_sid,
        content_variables=data.template.variables,
        preview_text=data.template.preview,
        client_key=key,
    )


async def start(uow: UnitOfWork, contact_id: uuid.UUID) -> Conversation:
    """A member starts talking to a contact: their conversation, new if need be, shown at
    the top of the inbox (its composer offers free text or, with the window closed, a
    template)."""
    conversation = await conversation_with(uow, contact_id)
    assert conversation is not None
    if conversation.last_message_at is None:
        conversation.last_message_at = uow.now
        await uow.session.flush()
    return conversation


async def send_to_contact(
    uow: UnitOfWork, actor: Actor, contact_id: uuid.UUID, outgoing: outbound.Outgoing
) -> Message:
    """Send to a customer wherever their conversation is, starting one if need be."""
    conversation = await conversation_with(uow, contact_id)
    assert conversation is not None
    return await send(uow, actor, conversation.id, outgoing)
