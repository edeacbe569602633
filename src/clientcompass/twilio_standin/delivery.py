"""What happens to an outbound message after Twilio accepted it.

Twilio answers the create request with ``queued`` and then, asynchronously, fetches any
``MediaUrl``, hands the message to WhatsApp and reports each status change to the
``StatusCallback`` URL: ``sent``, ``delivered`` and ``read``, or ``failed`` with an
error code (63016 outside the 24-hour window, 63019 when media cannot be fetched).
No callback is sent for the initial status (Twilio's "Outbound Message Status in Status
Callbacks" guide); with a Messaging Service the message starts ``accepted`` and a
``queued`` callback follows.
"""

from __future__ import annotations

import asyncio
from urllib.parse import unquote, urlsplit

import httpx
import structlog

from .errors import error_message
from .signing import Delivery, post_signed
from .state import API_VERSION, Media, Message, StandinState, new_sid, now

log = structlog.get_logger(__name__)

MAX_MEDIA_BYTES = 16 * 1024 * 1024  # WhatsApp's largest media (documents/video)
PROGRESS_RANK = {"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3}
PROGRESS_RANK |= {"delivered": 4, "read": 5}
TERMINAL_ERRORS = {"failed", "undelivered", "canceled"}
EVENT_TYPES = {"delivered": "DELIVERED", "read": "READ"}


def masked(address: str) -> str:
    """``ChannelToAddress`` as Twilio sends it: E.164 with the last four digits hidden."""
    number = address.removeprefix("whatsapp:")
    return number[:-4] + "XXXX" if len(number) > 5 else number


def moves_forward(current: str, new: str) -> bool:
    """Whether the resource should take ``new``: never backwards, errors are final."""
    if current in TERMINAL_ERRORS:
        return False
    if new in TERMINAL_ERRORS:
        return True
    return PROGRESS_RANK.get(new, -1) > PROGRESS_RANK.get(current, -1)


def callback_params(state: StandinState, message: Message, status: str) -> dict[str, str]:
    """The form parameters of a WhatsApp status callback (Twilio's documented set)."""
    sender = state.senders.get(message.from_)
    params = {
        "MessageSid": message.sid,
        "SmsSid": message.sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": message.account_sid,
        "From": message.from_,
        "To": message.to,
        "ApiVersion": API_VERSION,
        "ChannelPrefix": "whatsapp",
        "ChannelToAddress": masked(message.to),
    }
    if sender is not None:
        params["ChannelInstallSid"] = sender.channel_install_sid
    if message.messaging_service_sid:
        params["MessagingServiceSid"] = message.messaging_service_sid
    if status == "sent":
        params["StructuredMessage"] = "false"
    if status in EVENT_TYPES:
        params["EventType"] = EVENT_TYPES[status]
    if status in TERMINAL_ERRORS and message.error_code is not None:
        params["ErrorCode"] = str(message.error_code)
        params["ChannelStatusMessage"] = message.error_message or error_message(message.error_code)
    return params


def callback_url(state: StandinState, message: Message) -> str | None:
    """The message's own StatusCallback, else the sender's configured status URL."""
    if message.status_callback:
        return message.status_callback
    sender = state.senders.get(message.from_)
    return sender.status_url if sender is not None else None


async def report_status(
    state: StandinState, message: Message, status: str, error_code: int | None = None
) -> Delivery | None:
    """Move ``message`` to ``status`` (unless that is backwards) and send its callback.

    The callback always carries ``status`` as given, even when the stored resource has
    moved further, because tests use this to replay late or duplicated callbacks.
    """
    if moves_forward(message.status, status):
        message.status = status
        if status in TERMINAL_ERRORS and error_code is not None:
            message.error_code = error_code
            message.error_message = error_message(error_code)
        message.date_updated = now()
        message.status_history.append((status, message.date_updated))
    url = callback_url(state, message)
    account = state.accounts.get(message.account_sid)
    if url is None or account is None:
        return None
    params = callback_params(state, message, status)
    if status in TERMINAL_ERRORS and error_code is not None:
        params["ErrorCode"] = str(error_code)
        params["ChannelStatusMessage"] = error_message(error_code)
    return await post_signed(state.http(), url, params, account.auth_token)


async def fetch_media(state: StandinState, message: Message) -> bool:
    """Fetch each outbound ``MediaUrl`` like Twilio does (no credentials); True if all
    arrived. The bytes are kept so the sandbox phone can show what the business sent."""
    ok = True
    for url in message.media_urls:
        media = Media(
            sid=new_sid("ME"),
            account_sid=message.account_sid,
            message_sid=message.sid,
            content_type="application/octet-stream",
            data=None,
            source_url=url,
            # WhatsApp names a document after the last part of its address.
            filename=unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or None,
        )
        try:
            async with state.http().stream("GET", url, follow_redirects=True) as response:
                response.raise_for_status()
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_MEDIA_BYTES:
                        raise ValueError(f"media larger than {MAX_MEDIA_BYTES} bytes")
                    chunks.append(chunk)
                media.data = b"".join(chunks)
                media.content_type = (
                    response.headers.get("content-type", media.content_type).split(";")[0].strip()
                )
        except (httpx.HTTPError, ValueError) as exc:
            media.fetch_error = repr(exc)
            ok = False
            log.info("twilio_standin.media_fetch_failed", url=url, error=repr(exc))
        state.media[media.sid] = media
        state.cdn[media.cdn_token] = media.sid
        message.media_sids.append(media.sid)
    return ok


async def run_outbound(state: StandinState, message: Message) -> None:
    """Play an accepted outbound message through to its final status."""
    media_ok = await fetch_media(state, message) if message.media_urls else True
    if not state.auto_progress:
        return
    first, second, third = state.progress_delays
    if message.status == "accepted":
        await report_status(state, message, "queued")
    await asyncio.sleep(first)
    error = message.planned_error or (None if media_ok else 63019)
    if error is not None:
        await report_status(state, message, "failed", error)
        return
    await report_status(state, message, "sent")
    await asyncio.sleep(second)
    await report_status(state, message, "delivered")
    await asyncio.sleep(third)
    await report_status(state, message, "read")
