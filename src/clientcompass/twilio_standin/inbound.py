"""Building the inbound WhatsApp webhook exactly as Twilio sends it.

Parameter names follow Twilio's "request to your incoming message Webhook URL" guide
and real WhatsApp deliveries: the SMS-era ``SmsMessageSid``/``SmsSid``/``SmsStatus``
duplicates, ``WaId`` (the sender's digits without ``+``), ``ProfileName``, indexed
``MediaUrl{N}``/``MediaContentType{N}``, quick-reply ``ButtonPayload``/``ButtonText``,
a list-picker choice's ``ListId``/``ListTitle``, replies
(``OriginalRepliedMessageSid``/``Sender``), shared locations and the click-to-WhatsApp
``Referral*`` block (``ReferralNumMedia=0`` on every message), plus ``ChannelMetadata`` as
a JSON string.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field

from .formats import media_uri
from .messaging import WHATSAPP_ADDRESS
from .signing import post_signed
from .state import API_VERSION, Media, Message, Sender, StandinState, new_sid, now

UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._ -]")

REFERRAL_FIELDS = {
    "body": "ReferralBody",
    "headline": "ReferralHeadline",
    "source_id": "ReferralSourceId",
    "source_type": "ReferralSourceType",
    "source_url": "ReferralSourceUrl",
    "media_id": "ReferralMediaId",
    "media_content_type": "ReferralMediaContentType",
    "media_url": "ReferralMediaUrl",
    "num_media": "ReferralNumMedia",
    "ctwa_clid": "ReferralCtwaClid",
}


class MediaIn(BaseModel):
    content_type: str
    data_base64: str
    filename: str | None = None


class InboundIn(BaseModel):
    """A customer's message, as the sandbox phone or a test describes it."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    to: str
    from_: str = Field(alias="from")
    profile_name: str = ""
    body: str = ""
    media: list[MediaIn] = Field(default_factory=list)
    button_payload: str | None = None
    button_text: str | None = None
    list_id: str | None = None  # the chosen list-picker item's id
    list_title: str | None = None
    original_replied_message_sid: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    label: str | None = None
    referral: dict[str, str | int] | None = None
    forwarded: bool | None = None
    message_type: str | None = None
    message_sid: str | None = None
    deliveries: int = Field(default=1, ge=1, le=100)
    media_not_found_first: int | None = Field(default=None, ge=0)


def message_type(payload: InboundIn, content_types: list[str]) -> str:
    """WhatsApp's message type as Twilio reports it in ``MessageType``."""
    if payload.message_type:
        return payload.message_type
    if payload.button_payload is not None:
        return "button"
    if payload.list_id is not None:
        return "interactive"
    if payload.latitude is not None:
        return "location"
    if content_types:
        major = content_types[0].split("/")[0]
        return major if major in ("image", "video", "audio") else "document"
    return "text"


def webhook_params(
    state: StandinState, payload: InboundIn, sender: Sender, message: Message, base: str
) -> dict[str, str]:
    """The exact form parameters of the inbound webhook for ``message``."""
    customer = payload.from_
    wa_id = customer.removeprefix("whatsapp:").removeprefix("+")
    media = [state.media[sid] for sid in message.media_sids if sid in state.media]
    params: dict[str, str] = {
        "SmsMessageSid": message.sid,
        "NumMedia": str(len(media)),
        "ProfileName": payload.profile_name,
        "MessageType": message_type(payload, [m.content_type for m in media]),
        "SmsSid": message.sid,
        "WaId": wa_id,
        "SmsStatus": "received",
        "Body": payload.body,
        "To": sender.address,
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": message.sid,
        "AccountSid": sender.account_sid,
        "From": customer,
        "ApiVersion": API_VERSION,
    }
    if sender.messaging_service_sid:
        params["MessagingServiceSid"] = sender.messaging_service_sid
    for index, item in enumerate(media):
        params[f"MediaContentType{index}"] = item.content_type
        params[f"MediaUrl{index}"] = base + media_uri(item)
    context: dict[str, str] = {"ProfileName": payload.profile_name, "WaId": wa_id}
    if payload.button_payload is not None:
        params["ButtonPayload"] = payload.button_payload
        params["ButtonText"] = payload.button_text or payload.body
        context["ButtonText"] = params["ButtonText"]
    if payload.list_id is not None:
        params["ListId"] = payload.list_id
        params["ListTitle"] = payload.list_title or payload.body
    if payload.forwarded is not None:
        params["Forwarded"] = params["FrequentlyForwarded"] = str(payload.forwarded).lower()
        context["Forwarded"] = params["Forwarded"]
    if payload.original_replied_message_sid:
        original = state.messages.get(payload.original_replied_message_sid)
        params["OriginalRepliedMessageSid"] = payload.original_replied_message_sid
        params["OriginalRepliedMessageSender"] = (
            original.from_ if original is not None else sender.address
        )
    if payload.latitude is not None and payload.longitude is not None:
        params["Latitude"] = repr(payload.latitude)
        params["Longitude"] = repr(payload.longitude)
        if payload.address:
            params["Address"] = payload.address
        if payload.label:
            params["Label"] = payload.label
    for key, value in (payload.referral or {}).items():
        if key in REFERRAL_FIELDS:
            params[REFERRAL_FIELDS[key]] = str(value)
    params["ChannelMetadata"] = json.dumps(
        {"type": "whatsapp", "data": {"context": context}}, separators=(",", ":")
    )
    return params


def decode_media(state: StandinState, payload: InboundIn, message: Message) -> None:
    """Store the customer's attachments as Twilio media of ``message``."""
    race = (
        payload.media_not_found_first
        if payload.media_not_found_first is not None
        else state.media_not_found_first
    )
    for item in payload.media:
        try:
            data = base64.b64decode(item.data_base64, validate=True)
        except binascii.Error as exc:
            raise HTTPException(422, "media data_base64 is not valid base64") from exc
        media = Media(
            sid=new_sid("ME"),
            account_sid=message.account_sid,
            message_sid=message.sid,
            content_type=item.content_type,
            data=data,
            filename=UNSAFE_FILENAME.sub("_", item.filename) if item.filename else None,
            not_found_remaining=race,
        )
        state.media[media.sid] = media
        state.cdn[media.cdn_token] = media.sid
        message.media_sids.append(media.sid)


async def deliver_inbound(state: StandinState, payload: InboundIn, base: str) -> dict[str, Any]:
    """Store the customer's message, open the window and POST the signed webhook
    (``deliveries`` times at once, to test idempotent ingestion).

    Passing an existing ``message_sid`` is a redelivery: the stored message and its
    media are reused, so every delivery carries identical parameters.
    """
    sender = state.senders.get(payload.to)
    if sender is None:
        raise HTTPException(404, f"no sender {payload.to} is registered")
    if not WHATSAPP_ADDRESS.match(payload.from_):
        raise HTTPException(422, "from must look like whatsapp:+27821234567")
    account = state.accounts[sender.account_sid]
    sid = payload.message_sid or new_sid("MM" if payload.media else "SM")
    message = state.messages.get(sid)
    if message is None:
        message = Message(
            sid=sid,
            account_sid=account.sid,
            from_=payload.from_,
            to=sender.address,
            body=payload.body,
            direction="inbound",
            status="received",
            seq=state.next_seq(),
            messaging_service_sid=sender.messaging_service_sid,
            date_sent=now(),
        )
        message.status_history.append(("received", message.date_created))
        decode_media(state, payload, message)
        state.messages[sid] = message
    params = webhook_params(state, payload, sender, message, base)
    state.record_inbound(sender.address, payload.from_)
    client = state.http()
    results = await asyncio.gather(
        *(
            post_signed(client, sender.inbound_url, params, account.auth_token)
            for _ in range(payload.deliveries)
        )
    )
    return {
        "message_sid": sid,
        **results[0].as_dict(),
        "deliveries": [r.as_dict() for r in results],
        "params": params,
    }
