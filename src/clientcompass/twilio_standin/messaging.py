"""Creating and querying messages with Twilio's validation rules.

Request validation answers synchronously with Twilio's documented error codes; what
Twilio only discovers later (the 24-hour window, unreachable media) is accepted here
and fails through the status callback, as it does in production. That split matters
to the app: a 400 means "nothing was sent", a later ``failed`` means "sent, then
refused".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .errors import TwilioError
from .formats import template_body, template_media
from .state import Account, Content, Message, Sender, StandinState, new_sid, now

WHATSAPP_ADDRESS = re.compile(r"^whatsapp:\+[1-9][0-9]{6,14}$")
CONTENT_SID = re.compile(r"^HX[0-9a-fA-F]{32}$")
MAX_BODY = 1600


@dataclass
class CreateRequest:
    """The form parameters of ``POST Messages.json`` the stand-in understands."""

    to: str | None
    from_: str | None
    body: str | None
    media_urls: list[str]
    content_sid: str | None
    content_variables: str | None
    status_callback: str | None
    messaging_service_sid: str | None


def _sender(state: StandinState, account: Account, request: CreateRequest) -> Sender:
    if request.from_:
        sender = state.senders.get(request.from_)
        if sender is None or sender.account_sid != account.sid:
            raise TwilioError(400, 63007)
        return sender
    if request.messaging_service_sid:
        for sender in state.senders.values():
            if (
                sender.account_sid == account.sid
                and sender.messaging_service_sid == request.messaging_service_sid
            ):
                return sender
        raise TwilioError(400, 21701)
    raise TwilioError(400, 21603)


def _content(
    state: StandinState, account: Account, request: CreateRequest
) -> tuple[Content | None, dict[str, str]]:
    if not request.content_sid:
        if request.content_variables:
            raise TwilioError(400, 21654)
        return None, {}
    content = state.contents.get(request.content_sid)
    if (
        not CONTENT_SID.match(request.content_sid)
        or content is None
        or content.account_sid != account.sid
    ):
        raise TwilioError(400, 21655)
    if not request.content_variables:
        return content, {}
    try:
        raw = json.loads(request.content_variables)
    except json.JSONDecodeError:
        raw = None
    if not isinstance(raw, dict) or not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in raw.values()
    ):
        raise TwilioError(400, 21656)
    return content, {str(k): str(v) for k, v in raw.items()}


def validate(
    state: StandinState, account: Account, request: CreateRequest
) -> tuple[Sender, Content | None, dict[str, str]]:
    """Check a create request in Twilio's order; raise the error Twilio would."""
    if not request.to:
        raise TwilioError(400, 21604)
    if not WHATSAPP_ADDRESS.match(request.to):
        raise TwilioError(400, 21211, f"The 'To' number {request.to} is not a valid phone number.")
    sender = _sender(state, account, request)
    content, variables = _content(state, account, request)
    if not request.body and not request.media_urls and content is None:
        raise TwilioError(400, 21619)
    if request.body and len(request.body) > MAX_BODY:
        raise TwilioError(400, 21617)
    if any(not url.startswith(("http://", "https://")) for url in request.media_urls):
        raise TwilioError(400, 21620)
    return sender, content, variables


def create(
    state: StandinState,
    account: Account,
    request: CreateRequest,
    sender: Sender,
    content: Content | None,
    variables: dict[str, str],
) -> Message:
    """Store an accepted message. The 24-hour window is judged now, at acceptance.

    A template only escapes the window when WhatsApp approved it; an unapproved
    Content template is just a session message to WhatsApp, so it shares the fate of
    free text (delivered inside the window, 63016 outside it).
    """
    assert request.to is not None
    approved = (
        content is not None
        and content.approval is not None
        and content.approval.status == "approved"
    )
    created = now()
    message = Message(
        sid=new_sid("MM" if request.media_urls else "SM"),
        account_sid=account.sid,
        from_=sender.address,
        to=request.to,
        body=template_body(content, variables) if content is not None else request.body or "",
        direction="outbound-api",
        status="accepted" if request.messaging_service_sid else "queued",
        seq=state.next_seq(),
        messaging_service_sid=request.messaging_service_sid or sender.messaging_service_sid,
        status_callback=request.status_callback or None,
        content_sid=content.sid if content is not None else None,
        content_variables=variables,
        # A card's or media template's file is fetched like a MediaUrl (its header).
        media_urls=list(request.media_urls)
        + (template_media(content, variables) if content is not None else []),
        date_created=created,
        date_updated=created,
        # Set at acceptance so DateSent filters find messages still in flight, which is
        # what a client reconciling an unknown outcome needs.
        date_sent=created,
    )
    message.status_history.append((message.status, created))
    if not approved and not state.window_open(sender.address, request.to, created):
        message.planned_error = 63016
    state.messages[message.sid] = message
    state.creates += 1
    state.sends_by_to[message.to] += 1
    return message


# -- listing ----------------------------------------------------------------------


def parse_date_filter(name: str, value: str) -> tuple[datetime, datetime]:
    """The [start, end] instant range a DateSent value names (a day or an instant)."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start, start + timedelta(days=1) - timedelta(microseconds=1)
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise TwilioError(400, 20001, f"Invalid {name}: {value}") from exc
    instant = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    return instant, instant


def filter_messages(
    messages: Iterable[Message], account_sid: str, filters: list[tuple[str, str]]
) -> list[Message]:
    """Twilio's list filters, newest first: To, From, DateSent, DateSent<, DateSent>.

    ``DateSent<`` and ``DateSent>`` are inclusive ("on or before/after"), and a bare
    date covers its whole day.
    """

    def sent_at(message: Message) -> datetime:
        return message.date_sent or message.date_created

    selected = [m for m in messages if m.account_sid == account_sid]
    for name, value in filters:
        if name == "To":
            selected = [m for m in selected if m.to == value]
        elif name == "From":
            selected = [m for m in selected if m.from_ == value]
        else:
            # DateSent names a whole day even when sent as a datetime (the SDK always
            # sends "YYYY-MM-DDT00:00:00Z"); the inequalities honour a time if given.
            start, end = parse_date_filter(name, value[:10] if name == "DateSent" else value)
            if name == "DateSent":
                selected = [m for m in selected if start <= sent_at(m) <= end]
            elif name == "DateSent<":
                selected = [m for m in selected if sent_at(m) <= end]
            elif name == "DateSent>":
                selected = [m for m in selected if sent_at(m) >= start]
    return sorted(selected, key=lambda m: (sent_at(m), m.seq), reverse=True)
