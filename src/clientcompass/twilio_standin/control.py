"""The control surface: what Twilio's console, WhatsApp users and Meta would do.

Not part of Twilio. Unauthenticated JSON under ``/_control/`` so tests, the sandbox
phone page and benchmarks can create accounts and senders, play the customer
(inbound webhooks), replay status callbacks, move the 24-hour window, decide template
approvals, arm faults and read counters.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from .auth import ACCOUNT_SID, public_base
from .content import REJECTION_REASON
from .delivery import report_status
from .formats import media_uri, primary_type
from .inbound import InboundIn, deliver_inbound
from .messaging import WHATSAPP_ADDRESS
from .state import (
    Account,
    Approval,
    ApprovalStatus,
    Fault,
    FaultMode,
    Message,
    Sender,
    StandinState,
    new_sid,
    now,
)


class AccountIn(BaseModel):
    account_sid: str | None = None
    auth_token: str | None = None
    friendly_name: str | None = None


class SenderIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    account_sid: str
    from_: str = Field(alias="from")
    inbound_url: str
    status_url: str | None = None
    messaging_service_sid: str | None = None


class StatusIn(BaseModel):
    status: Literal[
        "accepted", "queued", "sending", "sent", "delivered", "read", "failed", "undelivered"
    ]
    error_code: int | None = None


class WindowIn(BaseModel):
    sender: str
    customer: str
    last_inbound_at: datetime | None


class ApprovalIn(BaseModel):
    status: ApprovalStatus
    rejection_reason: str | None = None


class FaultIn(BaseModel):
    mode: FaultMode
    count: int = Field(default=1, ge=0)
    delay_seconds: float = Field(default=30.0, ge=0)


class MediaRaceIn(BaseModel):
    not_found_first: int = Field(ge=0)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def sender_json(sender: Sender) -> dict[str, Any]:
    return {
        "account_sid": sender.account_sid,
        "from": sender.address,
        "inbound_url": sender.inbound_url,
        "status_url": sender.status_url,
        "messaging_service_sid": sender.messaging_service_sid,
        "channel_install_sid": sender.channel_install_sid,
    }


def message_view(state: StandinState, message: Message, base: str) -> dict[str, Any]:
    """A message as the sandbox phone shows it: text, media, template and ticks."""
    content = state.contents.get(message.content_sid or "")
    media = [state.media[s] for s in message.media_sids if s in state.media]
    return {
        "sid": message.sid,
        "account_sid": message.account_sid,
        "direction": message.direction,
        "from": message.from_,
        "to": message.to,
        "status": message.status,
        "error_code": message.error_code,
        "error_message": message.error_message,
        "body": message.body,
        "content_sid": message.content_sid,
        "content_variables": message.content_variables,
        "content_type": primary_type(content.types) if content is not None else None,
        "content_types": content.types if content is not None else None,
        "media": [
            {
                "sid": m.sid,
                "content_type": m.content_type,
                "size": m.size,
                "filename": m.filename,
                "url": f"{base}/_cdn/{m.cdn_token}" if m.data is not None else None,
                "api_url": base + media_uri(m),
                "source_url": m.source_url,
                "error": m.fetch_error,
            }
            for m in media
        ],
        "media_urls": message.media_urls,
        "date_created": iso(message.date_created),
        "status_history": [{"status": s, "at": iso(at)} for s, at in message.status_history],
    }


def build_router(state: StandinState) -> APIRouter:
    router = APIRouter(prefix="/_control")

    @router.post("/accounts")
    async def create_account(payload: AccountIn) -> dict[str, str]:
        sid = payload.account_sid or new_sid("AC")
        if not ACCOUNT_SID.match(sid):
            raise HTTPException(422, "account_sid must be AC followed by 32 hex digits")
        token = payload.auth_token or secrets.token_hex(16)
        state.accounts[sid] = Account(sid, token, payload.friendly_name or f"Stand-in {sid[-6:]}")
        state.persist()
        return {"account_sid": sid, "auth_token": token}

    @router.post("/senders")
    async def register_sender(payload: SenderIn) -> dict[str, Any]:
        if payload.account_sid not in state.accounts:
            raise HTTPException(404, f"unknown account {payload.account_sid}")
        if not WHATSAPP_ADDRESS.match(payload.from_):
            raise HTTPException(422, "from must look like whatsapp:+27821234567")
        sender = Sender(
            address=payload.from_,
            account_sid=payload.account_sid,
            inbound_url=payload.inbound_url,
            status_url=payload.status_url,
            messaging_service_sid=payload.messaging_service_sid,
        )
        previous = state.senders.get(sender.address)
        if previous is not None:
            sender.channel_install_sid = previous.channel_install_sid
        state.senders[sender.address] = sender
        state.persist()
        return sender_json(sender)

    @router.get("/senders")
    async def list_senders() -> list[dict[str, Any]]:
        return [sender_json(s) for s in state.senders.values()]

    @router.post("/inbound")
    async def inbound(payload: InboundIn, request: Request) -> dict[str, Any]:
        return await deliver_inbound(state, payload, public_base(state, request))

    @router.get("/messages")
    async def list_messages(
        request: Request, to: str | None = None, direction: str = "outbound"
    ) -> list[dict[str, Any]]:
        sender_filter = request.query_params.get("from")
        wanted = {"outbound": {"outbound-api"}, "inbound": {"inbound"}}.get(
            direction, {"outbound-api", "inbound"}
        )
        base = public_base(state, request)
        selected = [
            m
            for m in sorted(state.messages.values(), key=lambda m: m.seq)
            if m.direction in wanted
            and (to is None or m.to == to)
            and (sender_filter is None or m.from_ == sender_filter)
        ]
        return [message_view(state, m, base) for m in selected]

    @router.post("/messages/{sid}/status")
    async def send_status(sid: str, payload: StatusIn) -> dict[str, Any]:
        message = state.messages.get(sid)
        if message is None:
            raise HTTPException(404, f"no message {sid}")
        delivery = await report_status(state, message, payload.status, payload.error_code)
        result = delivery.as_dict() if delivery is not None else {"status_code": None}
        return {"message_sid": sid, "status": message.status, **result}

    @router.post("/window")
    async def move_window(payload: WindowIn) -> dict[str, Any]:
        if payload.last_inbound_at is None:
            state.windows.pop((payload.sender, payload.customer), None)
        else:
            at = payload.last_inbound_at
            state.record_inbound(
                payload.sender, payload.customer, at if at.tzinfo else at.replace(tzinfo=UTC)
            )
        return {"open": state.window_open(payload.sender, payload.customer)}

    @router.post("/content/{sid}/approval")
    async def set_approval(sid: str, payload: ApprovalIn) -> dict[str, Any]:
        content = state.contents.get(sid)
        if content is None:
            raise HTTPException(404, f"no content {sid}")
        if content.approval is None:
            content.approval = Approval(
                name=content.friendly_name or sid.lower(),
                category="UTILITY",
                status=payload.status,
                content_type=primary_type(content.types),
            )
        content.approval.status = payload.status
        content.approval.rejection_reason = payload.rejection_reason or (
            REJECTION_REASON if payload.status == "rejected" else ""
        )
        content.date_updated = now()
        return {"sid": sid, "status": content.approval.status}

    @router.post("/faults")
    async def arm_fault(payload: FaultIn) -> dict[str, Any]:
        async with state.lock:
            state.fault = Fault(payload.mode, payload.count, payload.delay_seconds)
        return {"mode": payload.mode, "count": payload.count}

    @router.post("/media")
    async def media_race(payload: MediaRaceIn) -> dict[str, int]:
        state.media_not_found_first = payload.not_found_first
        return {"not_found_first": payload.not_found_first}

    @router.get("/stats")
    async def stats() -> dict[str, Any]:
        outbound = [m for m in state.messages.values() if m.direction == "outbound-api"]
        return {
            "creates": state.creates,
            "sends_by_to": dict(state.sends_by_to),
            "messages": len(outbound),
            "inbound": len(state.messages) - len(outbound),
        }

    @router.post("/reset")
    async def reset() -> dict[str, bool]:
        state.reset()
        return {"ok": True}

    return router
