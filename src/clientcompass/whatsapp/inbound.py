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

from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb
from sqlalchemy import case, func, update

from clientcompass.db import UnitOfWork
from clientcompass.models import (
    Direction,
    Message,
    MessageStatus,
)
from clientcompass.models.whatsapp import STATUS_RANK
from clientcompass.web.forms import clean_text
from clientcompass.whatsapp.channels import ChannelRef


@dataclass(frozen=True)
class Recorded:
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    contact_id: uuid.UUID
    media_ids: list[uuid.UUID]
    reopened_from: str | None  # the status the customer's message reopened it from


@dataclass(frozen=True)
class StatusChange:
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    status: MessageStatus
    error_code: int | None


def clean_params(params: Mapping[str, str]) -> dict[str, str]:
    """Twilio's fields without control characters (a customer's message can hold a NUL, which
    PostgreSQL text and jsonb can't): stored cleaned rather than lost. Only after the
    signature check, which is over the values as sent."""
    return {clean_text(key): clean_text(value) for key, value in params.items()}


def customer_phone(params: Mapping[str, str]) -> str:
    """E.164 of the customer: WaId is digits only; From is `whatsapp:+27…`."""
    wa_id = params.get("WaId", "").strip()
    if wa_id.isdigit():
        return f"+{wa_id}"
    return params.get("From", "").removeprefix("whatsapp:").strip()


# Twilio's click-to-WhatsApp fields (the incoming-message webhook guide). `ReferralNumMedia`
# comes on every WhatsApp message, "0" when no ad sent it (Twilio's changelog of 2023-01-12),
# so a message came from an ad only when it names its source or carries Meta's click id.
REFERRAL_PREFIX = "Referral"
AD_MARKERS = ("ReferralCtwaClid", "ReferralSourceId", "ReferralSourceUrl")


def is_from_ad(params: Mapping[str, str]) -> bool:
    return any(params.get(key, "").strip() for key in AD_MARKERS)


def _referral(params: Mapping[str, str]) -> dict[str, str] | None:
    """Every `Referral*` field as sent (prefix dropped), for an ad's message only."""
    if not is_from_ad(params):
        return None
    return {
        key.removeprefix(REFERRAL_PREFIX): value
        for key, value in params.items()
        if key.startswith(REFERRAL_PREFIX) and key != REFERRAL_PREFIX
    }


def _details(params: Mapping[str, str]) -> dict[str, Any]:
    details: dict[str, Any] = {"twilio": dict(params)}
    if params.get("ButtonPayload") or params.get("ButtonText"):
        details["button"] = {
            "payload": params.get("ButtonPayload", ""),
            "text": params.get("ButtonText", ""),
        }
    if params.get("ListId"):  # a list-picker choice: match it by id, never by its title
        details["list"] = {"id": params["ListId"], "title": params.get("ListTitle", "")}
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
    referral = _referral(params)
    if referral is not None:
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
    if "list" in details:
        return str(details["list"]["title"] or details["list"]["id"])[:200]
    if "location" in details:
        return "📍 Location"
    if media:
        kind = media[0].get("content_type", "")
        return {"image": "📷 Photo", "video": "🎬 Video", "audio": "🎤 Audio"}.get(
            kind.split("/")[0], "📄 Document"
        )
    return ""


# One statement: the webhook is the hottest path in the product, so it runs on the plain
# psycopg fast path (db.FastPath) as one prepared call of `cc_record_inbound` (migration 0012):
# it sets the tenant for its own transaction, upserts the contact and its conversation,
# inserts the message once per MessageSid, and only a new message moves the conversation on,
# reopens it, and queues its follow-up job.
RECORD_INBOUND = """
    SELECT message_id, conversation_id, contact_id, media_ids, reopened_from FROM cc_record_inbound(
        %(tenant_id)s, %(channel_id)s, %(contact_id)s, %(conversation_id)s, %(message_id)s,
        %(phone)s, %(wa_id)s, %(profile_name)s, %(sid)s, %(body)s, %(media)s, %(details)s,
        %(status_times)s, %(preview)s, %(now)s
    )
"""


async def record_inbound(
    conn: AsyncConnection[TupleRow], channel: ChannelRef, params: Mapping[str, str], now: datetime
) -> Recorded | None:
    """Store one inbound WhatsApp message; None when this MessageSid was already stored.

    `conn` is in autocommit mode: the one statement is its own transaction, scoped to the
    channel's tenant.
    """
    body = params.get("Body", "")
    media = _media(params)
    details = _details(params)
    cursor = await conn.execute(
        RECORD_INBOUND,
        {
            "tenant_id": channel.tenant_id,
            "channel_id": channel.id,
            "contact_id": uuid.uuid4(),
            "conversation_id": uuid.uuid4(),
            "message_id": uuid.uuid4(),
            "phone": customer_phone(params),
            "wa_id": params.get("WaId", ""),
            "profile_name": params.get("ProfileName", "").strip()[:200],
            "sid": params["MessageSid"],
            "body": body,
            "media": Jsonb(media),
            "details": Jsonb(details),
            "status_times": Jsonb({MessageStatus.RECEIVED.value: now.isoformat()}),
            "preview": preview(body, media, details),
            "now": now,
        },
        prepare=True,
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    message_id, conversation_id, contact_id, media_ids, reopened_from = row
    return Recorded(message_id, conversation_id, contact_id, list(media_ids), reopened_from)


def _rank_of(column: Any) -> Any:
    return case(*((column == status, rank) for status, rank in STATUS_RANK.items()), else_=0)


async def apply_status(
    uow: UnitOfWork,
    channel: ChannelRef,
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
