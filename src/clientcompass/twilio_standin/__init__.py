"""A local Twilio stand-in that speaks Twilio's real wire format.

Used by the tests, the development sandbox and the benchmarks so nobody needs a Twilio
account: it serves the Messages, Media and Content API endpoints the app calls (same
paths, auth, JSON and error codes), delivers signed inbound webhooks and status
callbacks, emulates WhatsApp's 24-hour window and template approval, and exposes a
``/_control`` surface to play the customer, Meta and a misbehaving network.

    from clientcompass.twilio_standin import create_standin
    app = create_standin()
"""

from __future__ import annotations

from .app import create_standin
from .state import StandinState

__all__ = ["StandinState", "create_standin"]
