"""Recording what Twilio tells us: inbound messages and status callbacks.

Both are idempotent. An inbound MessageSid is stored once however often it is delivered
(`INSERT … ON CONFLICT DO NOTHING`), and a status never moves a message backwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert

from clientcompass.db import UnitOfWork
from clientcompass.errors import NotFound
from clientcompass.models import (
    Channel,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    MessageMedia,
    MessageStatus,
)
from clientcompass.models.whatsapp import STATUS_RANK

REOPENING = (ConversationStatus.RESOLVED, ConversationStatus.SNOOZED)


@dataclass(frozen=True)
class Recorded:
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    contact_id: uuid.UUID
    media_ids: list[uuid.UUID]


@dataclass(frozen=True)
class StatusChange:
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    status: MessageStatus
    error_code: int | None


def customer_phone(params: Mapping[str, str]) -> str:
    """E.164 of the customer: WaId is digits only; From is `whatsapp:+27…`."""
    wa_id = params.get("WaId", "").strip()
    if wa_id.isdigit():
        return f"+{wa_id}"
    return params.get("From", "").removeprefix("whatsapp:").strip()


def _details(params: Mapping[str, str]) -> dict[str, Any]:
    details: dict[str, Any] = {"twilio": dict(params)}
    if params.get("ButtonPayload") or params.get("ButtonText"):
        details["button"] = {
            "payload": params.get("ButtonPayload", ""),
            "text": params.get("ButtonText", ""),
        }
    if params.get("OriginalRepliedMessageSid"):
        details["reply_to"] = {
            "sid": params["OriginalRepliedMessageSid"],
            "sender": params.get("OriginalRepliedMessageSender", ""),
        }
    if params.get("Latitude") and params.get("Longitude"):
        details["location"] = {
            "latitude": params["Latitude"],
            "longitude": params["Longitude"],
            "address": params.get("Address", ""),
            "label": params.get("Label", ""),
        }
    referral = {
        k.removeprefix("Referral"): v for k, v in params.items() if k.startswith("Referral") and v
    }
    if referral:
        details["referral"] = referral
    return details


def _media(params: Mapping[str, str]) -> list[dict[str, str]]:
    try:
        count = min(int(params.get("NumMedia", "0") or 0), 10)
    except ValueError:
        count = 0
    return [
        {
            "url": params.get(f"MediaUrl{i}", ""),
            "content_type": params.get(f"MediaContentType{i}", ""),
        }
        for i in range(count)
        if params.get(f"MediaUrl{i}")
    ]


def preview(body: str, media: list[dict[str, str]], details: Mapping[str, Any]) -> str:
    if body:
        return body[:200]
    if "button" in details:
        return str(details["button"]["text"] or details["button"]["payload"])[:200]
    if "location" in details:
        return "📍 Location"
    if media:
        kind = media[0].get("content_type", "")
        return {"image": "📷 Photo", "video": "🎬 Video", "audio": "🎤 Audio"}.get(
            kind.split("/")[0], "📄 Document"
        )
    return ""


async def record_inbound(
    uow: UnitOfWork, channel: Channel, params: Mapping[str, str]
) -> Recorded | None:
    """Store one inbound WhatsApp message; None when this MessageSid was already stored."""
    now = uow.now
    tenant_id = channel.tenant_id
    phone = customer_phone(params)
    profile_name = params.get("ProfileName", "").strip()[:200]
    contact = insert(Contact).values(
        tenant_id=tenant_id,
        id=uuid.uuid4(),
        phone_e164=phone,
        wa_id=params.get("WaId", ""),
        profile_name=profile_name,
        name="",
        email="",
        created_at=now,
        updated_at=now,
    )
    contact_id: uuid.UUID = (
        await uow.session.execute(
            contact.on_conflict_do_update(
                index_elements=[Contact.tenant_id, Contact.phone_e164],
                set_={
                    "profile_name": func.coalesce(
                        func.nullif(contact.excluded.profile_name, ""), Contact.profile_name
                    ),
                    "wa_id": func.coalesce(func.nullif(contact.excluded.wa_id, ""), Contact.wa_id),
                },
            ).returning(Contact.id)
        )
    ).scalar_one()
    conversation = insert(Conversation).values(
        tenant_id=tenant_id,
        id=uuid.uuid4(),
        channel_id=channel.id,
        contact_id=contact_id,
        status=ConversationStatus.OPEN,
        last_message_preview="",
        unread_count=0,
        created_at=now,
    )
    conversation_id: uuid.UUID = (
        await uow.session.execute(
            conversation.on_conflict_do_update(
                index_elements=[
                    Conversation.tenant_id,
                    Conversation.channel_id,
                    Conversation.contact_id,
                ],
                set_={"channel_id": conversation.excluded.channel_id},
            ).returning(Conversation.id)
        )
    ).scalar_one()
    body = params.get("Body", "")
    media = _media(params)
    details = _details(params)
    message_id = uuid.uuid4()
    inserted = (
        await uow.session.execute(
            insert(Message)
            .values(
                tenant_id=tenant_id,
                id=message_id,
                conversation_id=conversation_id,
                channel_id=channel.id,
                direction=Direction.INBOUND,
                provider_sid=params["MessageSid"],
                body=body,
                media=media,
                content_sid="",
                content_variables={},
                details=details,
                status=MessageStatus.RECEIVED,
                status_times={MessageStatus.RECEIVED.value: now.isoformat()},
                error_message="",
                send_attempts=0,
                created_at=now,
            )
            .on_conflict_do_nothing(
                index_elements=[Message.tenant_id, Message.provider_sid],
                index_where=Message.provider_sid.is_not(None),
            )
            .returning(Message.id)
        )
    ).scalar_one_or_none()
    if inserted is None:
        return None
    await uow.session.execute(
        update(Conversation)
        .where(Conversation.tenant_id == tenant_id)
        .where(Conversation.id == conversation_id)
        .values(
            last_inbound_at=func.greatest(Conversation.last_inbound_at, now),
            last_message_at=func.greatest(Conversation.last_message_at, now),
            last_message_preview=preview(body, media, details),
            unread_count=Conversation.unread_count + 1,
            status=case(
                (Conversation.status.in_(REOPENING), ConversationStatus.OPEN),
                else_=Conversation.status,
            ),
        )
    )
    media_ids = []
    for position, item in enumerate(media):
        media_id = uuid.uuid4()
        uow.session.add(
            MessageMedia(
                tenant_id=tenant_id,
                id=media_id,
                message_id=message_id,
                position=position,
                content_type=item["content_type"],
                source_url=item["url"],
            )
        )
        media_ids.append(media_id)
    if media_ids:
        await uow.session.flush()
    return Recorded(message_id, conversation_id, contact_id, media_ids)


def _rank_of(column: Any) -> Any:
    return case(*((column == status, rank) for status, rank in STATUS_RANK.items()), else_=0)


async def apply_status(
    uow: UnitOfWork,
    channel: Channel,
    params: Mapping[str, str],
    *,
    message_id: uuid.UUID | None,
) -> StatusChange | None:
    """Move a message forward to the reported status and note when each status was seen.

    Matches by MessageSid, or by our own id carried in the callback URL when the callback
    outruns the worker recording the sid. Never moves a message backwards.
    """
    try:
        status = MessageStatus(params.get("MessageStatus", "").lower())
    except ValueError:
        return None
    sid = params.get("MessageSid", "")
    now: datetime = uow.now
    code_text = params.get("ErrorCode", "")
    error_code = int(code_text) if code_text.isdigit() else None
    match = Message.provider_sid == sid
    if message_id is not None:
        match = match | (
            (Message.id == message_id)
            & (Message.provider_sid.is_(None) | (Message.provider_sid == sid))
        )
    forward = _rank_of(Message.status) < STATUS_RANK[status]
    values: dict[str, Any] = {
        "provider_sid": func.coalesce(Message.provider_sid, sid),
        "status": case((forward, status), else_=Message.status),
        "status_times": case(
            (Message.status_times.has_key(status.value), Message.status_times),
            else_=Message.status_times.op("||")(
                func.jsonb_build_object(status.value, now.isoformat())
            ),
        ),
    }
    if status.is_terminal_error:
        values["error_code"] = case((forward, error_code), else_=Message.error_code)
        values["error_message"] = case(
            (forward, params.get("ErrorMessage", "")), else_=Message.error_message
        )
    row = (
        await uow.session.execute(
            update(Message)
            .where(Message.tenant_id == channel.tenant_id)
            .where(Message.channel_id == channel.id)
            .where(Message.direction == Direction.OUTBOUND)
            .where(match)
            .values(values)
            .returning(Message.id, Message.conversation_id, Message.status, Message.error_code)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if row is None:
        return None
    return StatusChange(row.id, row.conversation_id, MessageStatus(row.status), row.error_code)


async def find_conversation_contact(
    uow: UnitOfWork, conversation_id: uuid.UUID
) -> tuple[Conversation, Contact]:
    assert uow.tenant_id is not None
    row = (
        await uow.session.execute(
            select(Conversation, Contact)
            .join(
                Contact,
                (Contact.tenant_id == Conversation.tenant_id)
                & (Contact.id == Conversation.contact_id),
            )
            .where(Conversation.tenant_id == uow.tenant_id)
            .where(Conversation.id == conversation_id)
        )
    ).first()
    if row is None:
        raise NotFound("That conversation does not exist.")
    return row[0], row[1]
