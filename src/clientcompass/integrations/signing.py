"""Standard Webhooks signatures (https://www.standardwebhooks.com): what Zapier, n8n, Make
and the reference libraries verify.

A secret is `whsec_` + base64 of 32 random bytes (the spec asks for 24 to 64); the HMAC key is
those bytes. A request carries `webhook-id` (the same on every attempt, for the receiver's
de-duplication), `webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`:
`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per secret in force, separated by
spaces, so a receiver mid-rotation accepts either. Pure functions: the flows' "call a
webhook" step signs with these too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 32


class BadSecret(ValueError):
    """A secret that is not `whsec_` + base64 of 24 to 64 bytes."""


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key a `whsec_…` secret stands for."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadSecret("The secret is not base64.") from exc
    if not 24 <= len(key) <= 64:
        raise BadSecret("The secret must be 24 to 64 bytes.")
    return key


def new_message_id() -> str:
    """A `webhook-id`: unique per message, kept across its retries."""
    return f"msg_{uuid.uuid4().hex}"


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of `{id}.{timestamp}.{body}`."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(
    secrets_in_force: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers (plus the JSON content type) for one attempt."""
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret, message_id, timestamp, body) for secret in secrets_in_force
        ),
    }
