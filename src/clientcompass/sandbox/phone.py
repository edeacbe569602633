"""What the sandbox phone shows: the chat between one customer number and the business's
sandbox sender, read from the stand-in (which sees both directions, as WhatsApp would)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from clientcompass.inbox.display import Tick, tick_for, time_label
from clientcompass.sandbox.control import StandinControl
from clientcompass.whatsapp.errors import explain

QUICK_REPLY = "twilio/quick-reply"
CARD = "twilio/card"
LIST_PICKER = "twilio/list-picker"
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class QuickReply:
    payload: str
    title: str
    # A list-picker item: WhatsApp answers with ListId/ListTitle instead of a button payload.
    from_list: bool = False


@dataclass(frozen=True)
class PhoneMedia:
    token: str
    content_type: str
    filename: str

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/") and "svg" not in self.content_type

    @property
    def is_document(self) -> bool:
        """A PDF (a document header or attachment): WhatsApp shows its name and type."""
        return self.content_type == "application/pdf"

    @property
    def kind_label(self) -> str:
        return "PDF" if self.is_document else ""


@dataclass(frozen=True)
class PhoneMessage:
    sid: str
    from_customer: bool
    body: str
    status: str
    tick: Tick
    error: str
    media: list[PhoneMedia]
    buttons: list[QuickReply]
    at: datetime
    when: str


@dataclass(frozen=True)
class Thread:
    messages: list[PhoneMessage]
    version: str


def _fill(text: str, variables: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: variables.get(m.group(1), m.group(0)), text)


def quick_replies(item: dict[str, Any]) -> list[QuickReply]:
    """The buttons under a quick-reply template or a card, as WhatsApp draws them for the
    customer (a card's link and phone buttons are not answers, so they are left out)."""
    content_type = item.get("content_type")
    if content_type not in (QUICK_REPLY, CARD, LIST_PICKER):
        return []
    spec = (item.get("content_types") or {}).get(content_type) or {}
    variables = {str(k): str(v) for k, v in (item.get("content_variables") or {}).items()}
    if content_type == LIST_PICKER:
        return [
            QuickReply(
                payload=_fill(str(entry.get("id") or ""), variables),
                title=_fill(str(entry["item"]), variables),
                from_list=True,
            )
            for entry in spec.get("items") or []
            if isinstance(entry, dict) and entry.get("item")
        ]
    buttons = []
    for action in spec.get("actions") or []:
        if (
            content_type == CARD
            and isinstance(action, dict)
            and action.get("type") != "QUICK_REPLY"
        ):
            continue
        if isinstance(action, dict) and action.get("title"):
            title = _fill(str(action["title"]), variables)
            buttons.append(
                QuickReply(payload=_fill(str(action.get("id") or title), variables), title=title)
            )
    return buttons


def _media(item: dict[str, Any]) -> list[PhoneMedia]:
    found = []
    for media in item.get("media") or []:
        url = media.get("url")
        if url:
            found.append(
                PhoneMedia(
                    token=str(url).rsplit("/", 1)[-1],
                    content_type=str(media.get("content_type") or ""),
                    filename=str(media.get("filename") or ""),
                )
            )
    return found


def _message(item: dict[str, Any], tz: ZoneInfo, now: datetime) -> PhoneMessage:
    at = datetime.fromisoformat(str(item["date_created"]).replace("Z", "+00:00"))
    status = str(item.get("status") or "")
    code = item.get("error_code")
    return PhoneMessage(
        sid=str(item["sid"]),
        from_customer=item.get("direction") == "inbound",
        body=str(item.get("body") or ""),
        status=status,
        tick=tick_for(status),
        error=explain(code, str(item.get("error_message") or "")) if code is not None else "",
        media=_media(item),
        buttons=quick_replies(item),
        at=at,
        when=time_label(at, tz, now),
    )


def build_thread(
    inbound: list[dict[str, Any]], outbound: list[dict[str, Any]], tz: ZoneInfo, now: datetime
) -> Thread:
    """Both directions in time order, plus a version that changes whenever anything shown
    does (a new message, a tick, an arrived file), so polling can skip unchanged swaps."""
    messages = sorted((_message(item, tz, now) for item in inbound + outbound), key=lambda m: m.at)
    fingerprint = json.dumps([(m.sid, m.status, len(m.media), m.when) for m in messages])
    return Thread(messages, hashlib.sha256(fingerprint.encode()).hexdigest()[:16])


async def load_thread(
    control: StandinControl, *, sender: str, customer: str, tz: ZoneInfo, now: datetime
) -> Thread:
    """The chat between `customer` and `sender` (both `whatsapp:+…` addresses)."""
    inbound = await control.messages(direction="inbound", to=sender, from_=customer)
    outbound = await control.messages(direction="outbound", to=customer, from_=sender)
    return build_thread(inbound, outbound, tz, now)
