"""How messages and conversations read on a page: ticks, times and names.

Shared by the business's inbox and the sandbox phone, so a status looks the same on both
sides of the conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clientcompass.conversations.schemas import ContactOut, WindowOut
from clientcompass.names import display_name

DEFAULT_ZONE = "Africa/Johannesburg"


@dataclass(frozen=True)
class Tick:
    """A delivery tick: `state` is stable for tests and CSS, `label` is for people."""

    state: str
    label: str


PENDING = Tick("pending", "Sending")
TICKS = {
    "queued": PENDING,
    "sending": PENDING,
    "accepted": PENDING,
    "scheduled": PENDING,
    "sent": Tick("sent", "Sent"),
    "delivered": Tick("delivered", "Delivered"),
    "read": Tick("read", "Read"),
    "failed": Tick("failed", "Not delivered"),
    "undelivered": Tick("failed", "Not delivered"),
    "canceled": Tick("failed", "Not delivered"),
    "received": Tick("received", "Received"),
}


def tick_for(status: str) -> Tick:
    """The tick for a Twilio or Client Compass message status (they share names)."""
    return TICKS.get(status, PENDING)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def time_label(at: datetime | None, tz: ZoneInfo, now: datetime) -> str:
    """`14:05` today, `Mon 14:05` this week, `3 Mar` this year, else `3 Mar 2025`."""
    if at is None:
        return ""
    local, today = at.astimezone(tz), now.astimezone(tz)
    days = (today.date() - local.date()).days
    if days == 0:
        return f"{local:%H:%M}"
    if 0 < days < 7:
        return f"{local:%a %H:%M}"
    if local.year == today.year:
        return f"{local.day} {local:%b}"
    return f"{local.day} {local:%b %Y}"


def contact_label(contact: ContactOut) -> str:
    return display_name(contact.name, contact.profile_name, contact.phone)


def window_label(window: WindowOut) -> str:
    if not window.is_open:
        return "Window closed"
    hours, rest = divmod(window.seconds_left, 3600)
    if hours:
        return f"Window open · {hours} h left"
    return f"Window open · {max(1, rest // 60)} min left"
