"""Signed webhook delivery, exactly as Twilio does it.

Twilio POSTs ``application/x-www-form-urlencoded`` parameters and sets
``X-Twilio-Signature`` to the HMAC-SHA1 of the full URL followed by every parameter
name and value sorted by name, keyed with the account's auth token. The twilio
package's ``RequestValidator.compute_signature`` is that algorithm; using it (rather
than a hand-written HMAC) means a signature the app accepts from the stand-in is one
it would accept from Twilio.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import structlog
from twilio.request_validator import RequestValidator

log = structlog.get_logger(__name__)

USER_AGENT = "TwilioProxy/1.1"


def sign(auth_token: str, url: str, params: dict[str, str]) -> str:
    """The X-Twilio-Signature value for a POST of ``params`` to ``url``."""
    signature: str = RequestValidator(auth_token).compute_signature(url, params)
    return signature


@dataclass
class Delivery:
    """What happened when the stand-in posted one webhook."""

    status_code: int | None
    response_text: str
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "status_code": self.status_code,
            "response_text": self.response_text,
            "error": self.error,
        }


async def post_signed(
    client: httpx.AsyncClient, url: str, params: dict[str, str], auth_token: str
) -> Delivery:
    """POST ``params`` to ``url`` signed with ``auth_token``.

    Never raises for network or HTTP failures: Twilio logs a failed webhook in its
    debugger and carries on, and so does the stand-in.
    """
    headers = {
        "X-Twilio-Signature": sign(auth_token, url, params),
        "User-Agent": USER_AGENT,
        "Accept": "*/*",
    }
    try:
        response = await client.post(url, data=params, headers=headers)
    # AttributeError too: anyio reads the peer of a socket that a server being killed has
    # just closed mid-connect (`_raw_socket` is None), and httpcore lets it through.
    except (httpx.HTTPError, OSError, AttributeError) as exc:
        log.warning("twilio_standin.webhook_failed", url=url, error=repr(exc))
        return Delivery(status_code=None, response_text="", error=repr(exc))
    if response.status_code >= 400:
        log.warning("twilio_standin.webhook_rejected", url=url, status_code=response.status_code)
    return Delivery(status_code=response.status_code, response_text=response.text)
