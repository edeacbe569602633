"""Standard Webhooks signatures, checked with the reference library (`standardwebhooks`,
the spec authors' Python verifier) and with the spec's algorithm written out here."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from clientcompass.integrations import signing

BODY = b'{"type":"quote.accepted","timestamp":"2026-12-03T17:00:00Z","data":{"number":"Q-1"}}'


def spec_signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """The spec, literally: HMAC-SHA256 over "{id}.{timestamp}.{body}" keyed with the
    base64-decoded part of whsec_…, base64-encoded, prefixed "v1,"."""
    key = base64.b64decode(secret.split("_", 1)[1])
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(digest.digest()).decode()


def test_a_signed_request_verifies_with_the_reference_library_and_the_spec() -> None:
    secret = signing.generate_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    message_id = signing.new_message_id()
    now = int(time.time())
    headers = signing.headers([secret], message_id, now, BODY)

    assert headers["webhook-id"] == message_id
    assert headers["webhook-timestamp"] == str(now)
    assert headers["webhook-signature"] == spec_signature(secret, message_id, str(now), BODY)
    assert Webhook(secret).verify(BODY, headers) == {
        "type": "quote.accepted",
        "timestamp": "2026-12-03T17:00:00Z",
        "data": {"number": "Q-1"},
    }


def test_a_tampered_body_another_secret_or_an_old_timestamp_is_refused() -> None:
    secret = signing.generate_secret()
    now = int(time.time())
    headers = signing.headers([secret], "msg_1", now, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"Q-1", b"Q-2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.generate_secret()).verify(BODY, headers)
    old = signing.headers([secret], "msg_1", now - 3600, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, old)


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    new, old = signing.generate_secret(), signing.generate_secret()
    headers = signing.headers([new, old], "msg_2", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_" + "QUJD"])
def test_a_malformed_or_short_secret_is_refused(secret: str) -> None:
    with pytest.raises(signing.BadSecret):
        signing.signature(secret, "msg_3", 1, BODY)
