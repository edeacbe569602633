"""Meta's `signed_request`, checked against the algorithm in Meta's documentation: the request
is base64url(signature) "." base64url(payload JSON), the signature HMAC-SHA256 of the encoded
payload with the app secret, the payload's algorithm "HMAC-SHA256". The requests here are
built by hand, the way Meta's own `parse_signed_request` example reads them, not by the
module under test."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from clientcompass.lifecycle.signed_request import InvalidSignedRequest, parse, sign

SECRET = "0123456789abcdef0123456789abcdef"  # an app secret's shape: 32 hex characters
PAYLOAD = {
    "algorithm": "HMAC-SHA256",
    "expires": 1291840400,
    "issued_at": 1291836800,
    "user_id": "218471",
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def meta_signs(payload: dict[str, Any] | str, secret: str = SECRET) -> str:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    encoded = b64url(body.encode())
    digest = hmac.new(secret.encode(), encoded.encode(), hashlib.sha256).digest()
    return f"{b64url(digest)}.{encoded}"


def test_a_request_signed_as_meta_documents_it_names_the_person() -> None:
    found = parse(meta_signs(PAYLOAD), SECRET)
    assert found.user_id == "218471"
    assert found.issued_at == datetime(2010, 12, 8, 19, 33, 20, tzinfo=UTC)


def test_the_modules_own_signing_matches_the_documented_algorithm() -> None:
    payload = {"algorithm": "HMAC-SHA256", "user_id": "42"}
    signed = sign(payload, SECRET)
    signature, encoded = signed.split(".")
    expected = hmac.new(SECRET.encode(), encoded.encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected
    assert parse(signed, SECRET).user_id == "42"


def test_padding_meta_sometimes_adds_and_a_numeric_user_id_are_accepted() -> None:
    signature, encoded = meta_signs(PAYLOAD).split(".")
    assert parse(f"{signature}=.{encoded}", SECRET).user_id == "218471"
    assert parse(meta_signs({**PAYLOAD, "user_id": 218471}), SECRET).user_id == "218471"
    assert parse(meta_signs({**PAYLOAD, "algorithm": "hmac-sha256"}), SECRET).user_id


def tampered_payload() -> str:
    signature, _ = meta_signs(PAYLOAD).split(".")
    _, other = meta_signs({**PAYLOAD, "user_id": "999999"}).split(".")
    return f"{signature}.{other}"


def flipped_signature() -> str:
    signature, encoded = meta_signs(PAYLOAD).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[0] ^= 1
    return f"{b64url(bytes(raw))}.{encoded}"


FORGED = {
    "wrong secret": lambda: meta_signs(PAYLOAD, "not-the-app-secret"),
    "tampered payload": tampered_payload,
    "flipped signature bit": flipped_signature,
    "signature only": lambda: meta_signs(PAYLOAD).split(".")[0],
    "payload only": lambda: "." + meta_signs(PAYLOAD).split(".")[1],
    "empty": lambda: "",
    "three parts": lambda: meta_signs(PAYLOAD) + ".x",
    "not base64url": lambda: meta_signs(PAYLOAD).replace(".", ".%%"),
    "wrong algorithm": lambda: meta_signs({**PAYLOAD, "algorithm": "HMAC-SHA1"}),
    "no algorithm": lambda: meta_signs({"user_id": "218471"}),
    "algorithm none": lambda: meta_signs({**PAYLOAD, "algorithm": "none"}),
    "no user id": lambda: meta_signs({"algorithm": "HMAC-SHA256"}),
    "empty user id": lambda: meta_signs({**PAYLOAD, "user_id": ""}),
    "user id not a string": lambda: meta_signs({**PAYLOAD, "user_id": ["218471"]}),
    "user id with markup": lambda: meta_signs({**PAYLOAD, "user_id": "<script>"}),
    "not an object": lambda: meta_signs("[1, 2]"),
    "not JSON": lambda: meta_signs("user_id=218471"),
}


@pytest.mark.parametrize("case", sorted(FORGED))
def test_a_forged_or_malformed_request_is_refused(case: str) -> None:
    with pytest.raises(InvalidSignedRequest):
        parse(FORGED[case](), SECRET)


def test_without_a_secret_nothing_verifies() -> None:
    with pytest.raises(InvalidSignedRequest):
        parse(meta_signs(PAYLOAD, ""), "")
