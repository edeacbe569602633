"""Meta's `signed_request`, as its data-deletion callback sends it.

The format (Meta's "Data Deletion Request Callback" documentation, and its `parse_signed_request`
example): `<signature>.<payload>`, both base64url without padding. The payload is JSON with
`algorithm` ("HMAC-SHA256"), `user_id` (the app-scoped id of the person), `issued_at` and
`expires` (Unix times). The signature is HMAC-SHA256 of the *encoded* payload (the text after
the dot, as sent) keyed with the app secret.

A request is refused unless every part checks out: the shape, the base64url alphabet, the
signature (compared in constant time), the JSON, the algorithm, and a user id. Nothing about
a refused request is trusted or kept. Expiry is not enforced: a replayed request can only
record another request for the same person, and a clock skew must not lose a real one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ALGORITHM = "HMAC-SHA256"
# base64url, with the padding some senders add (Meta's signature has been seen with a "=").
PART = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class InvalidSignedRequest(ValueError):
    """A signed request that is malformed, not signed with our secret, or not a deletion."""


@dataclass(frozen=True)
class DeletionRequest:
    user_id: str
    issued_at: datetime | None


def _decode(part: str) -> bytes:
    if not PART.fullmatch(part):
        raise InvalidSignedRequest("not base64url")
    try:
        return base64.urlsafe_b64decode(part.rstrip("=") + "=" * (-len(part.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignedRequest("not base64url") from exc


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def signature(encoded_payload: str, secret: str) -> bytes:
    return hmac.new(
        secret.encode("utf-8"), encoded_payload.encode("ascii"), hashlib.sha256
    ).digest()


def parse(signed_request: str, secret: str) -> DeletionRequest:
    """The person a deletion request names, or InvalidSignedRequest."""
    if not secret:
        raise InvalidSignedRequest("no app secret to check against")
    encoded_signature, dot, encoded_payload = signed_request.partition(".")
    if not dot or not encoded_signature or not encoded_payload:
        raise InvalidSignedRequest("not <signature>.<payload>")
    given = _decode(encoded_signature)
    _decode(encoded_payload)  # the alphabet, before the payload is hashed as ASCII
    if not hmac.compare_digest(given, signature(encoded_payload, secret)):
        raise InvalidSignedRequest("wrong signature")
    try:
        payload: Any = json.loads(_decode(encoded_payload))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidSignedRequest("payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidSignedRequest("payload is not a JSON object")
    algorithm = payload.get("algorithm")
    if not isinstance(algorithm, str) or algorithm.upper() != ALGORITHM:
        raise InvalidSignedRequest("unexpected algorithm")
    user_id = payload.get("user_id")
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if not isinstance(user_id, str) or not USER_ID.fullmatch(user_id):
        raise InvalidSignedRequest("no user id")
    return DeletionRequest(user_id=user_id, issued_at=_time(payload.get("issued_at")))


def _time(value: object) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**33:
        return datetime.fromtimestamp(value, UTC)
    return None


def sign(payload: dict[str, Any], secret: str) -> str:
    """A signed request as Meta makes one (for tests and for trying the endpoint by hand)."""
    encoded = _encode(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    return f"{_encode(signature(encoded, secret))}.{encoded}"
