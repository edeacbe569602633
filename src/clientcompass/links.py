"""Signed, expiring links that name a tenant and one object, for people with no login:
Twilio fetching a file we send, a customer opening their quote.

The token is the tenant id, the object id and the expiry, with an HMAC over them keyed by
the app's secret and the link's purpose, so a media link can never open a document and a
forged, altered or expired token is refused before any database lookup.

A short token (`sign_short`) names the object alone, for links a person reads and taps (a
quote's page in a WhatsApp message): 16 bytes of id, 4 of expiry and 10 of HMAC, 40
characters. It is checked the same way before any lookup; the tenant is then found from the
object's id (which is random and global), so the token cannot pair one tenant with another's
object at all.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
import uuid

PAYLOAD_BYTES = 40  # tenant (16) + object (16) + expiry (8)
SIGNATURE_BYTES = 20
SHORT_PAYLOAD_BYTES = 20  # object (16) + expiry (4, seconds since the epoch, until 2106)
SHORT_SIGNATURE_BYTES = 10
SHORT_TOKEN_LENGTH = 40


def _signature(secret: str, purpose: str, payload: bytes) -> bytes:
    digest = hmac.new(secret.encode(), purpose.encode() + b":" + payload, hashlib.sha256)
    return digest.digest()[:SIGNATURE_BYTES]


def sign(
    secret: str, purpose: str, tenant_id: uuid.UUID, object_id: uuid.UUID, *, lifetime: int
) -> str:
    payload = tenant_id.bytes + object_id.bytes + struct.pack(">Q", int(time.time()) + lifetime)
    raw = payload + _signature(secret, purpose, payload)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read(secret: str, purpose: str, token: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The (tenant, object) a token grants, or None if forged, malformed or expired."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    if len(raw) != PAYLOAD_BYTES + SIGNATURE_BYTES:
        return None
    payload, signature = raw[:PAYLOAD_BYTES], raw[PAYLOAD_BYTES:]
    if not hmac.compare_digest(signature, _signature(secret, purpose, payload)):
        return None
    (expires,) = struct.unpack(">Q", payload[32:40])
    if expires < time.time():
        return None
    return uuid.UUID(bytes=payload[:16]), uuid.UUID(bytes=payload[16:32])


def _decode(token: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None


def sign_short(secret: str, purpose: str, object_id: uuid.UUID, *, lifetime: int) -> str:
    """A 40-character token granting one object (whose tenant the caller looks up)."""
    payload = object_id.bytes + struct.pack(">I", int(time.time()) + lifetime)
    raw = payload + _signature(secret, "short:" + purpose, payload)[:SHORT_SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(raw).decode()


def read_short(secret: str, purpose: str, token: str) -> uuid.UUID | None:
    """The object a short token grants, or None if forged, malformed or expired."""
    if len(token) != SHORT_TOKEN_LENGTH:
        return None
    raw = _decode(token)
    if raw is None or len(raw) != SHORT_PAYLOAD_BYTES + SHORT_SIGNATURE_BYTES:
        return None
    payload, signature = raw[:SHORT_PAYLOAD_BYTES], raw[SHORT_PAYLOAD_BYTES:]
    expected = _signature(secret, "short:" + purpose, payload)[:SHORT_SIGNATURE_BYTES]
    if not hmac.compare_digest(signature, expected):
        return None
    (expires,) = struct.unpack(">I", payload[16:20])
    if expires < time.time():
        return None
    return uuid.UUID(bytes=payload[:16])
