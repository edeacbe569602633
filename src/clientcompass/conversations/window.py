"""The WhatsApp 24-hour customer service window, tracked per conversation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class WindowState:
    is_open: bool
    closes_at: datetime | None

    def seconds_left(self, now: datetime) -> int:
        if not self.is_open or self.closes_at is None:
            return 0
        return max(0, int((self.closes_at - now).total_seconds()))


def window_state(last_inbound_at: datetime | None, now: datetime) -> WindowState:
    """Open for 24 hours after the customer's last message; closed before any message."""
    if last_inbound_at is None:
        return WindowState(False, None)
    closes_at = last_inbound_at + WINDOW
    return WindowState(closes_at > now, closes_at)


def closed_window_message(state: WindowState) -> str:
    if state.closes_at is None:
        when = (
            "This customer has not messaged you yet, so WhatsApp only allows an approved template."
        )
    else:
        when = (
            f"The 24-hour window closed at {state.closes_at:%Y-%m-%d %H:%M} UTC, "
            "so WhatsApp only allows an approved template."
        )
    return f"{when} Choose a template to send, or wait for the customer to message you."
