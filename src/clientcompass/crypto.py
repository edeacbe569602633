"""Field-level authenticated encryption (AES-256-GCM) with rotatable keys.

`ENCRYPTION_KEYS` is a comma-separated list of `id:base64key`, newest first. Values are
encrypted with the newest key and decrypted with whichever key their envelope names, so a
new key can be added in front and old rows re-encrypted at leisure.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from clientcompass.errors import ConfigurationError

ENVELOPE_VERSION = "v1"


class DecryptionError(RuntimeError):
    """Ciphertext that no configured key opens, or that was tampered with."""


class Keyring:
    def __init__(self, spec: str) -> None:
        self._keys: dict[str, AESGCM] = {}
        self._newest = ""
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            key_id, sep, encoded = item.partition(":")
            if not sep or not key_id or ":" in key_id:
                raise ConfigurationError("ENCRYPTION_KEYS entries look like 'id:base64key'")
            try:
                raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except (binascii.Error, ValueError) as exc:
                raise ConfigurationError(f"encryption key {key_id!r} is not base64") from exc
            if len(raw) != 32:
                raise ConfigurationError(f"encryption key {key_id!r} must be 32 bytes")
            self._keys[key_id] = AESGCM(raw)
            self._newest = self._newest or key_id
        if not self._keys:
            raise ConfigurationError("ENCRYPTION_KEYS holds no key")

    @property
    def newest_key_id(self) -> str:
        return self._newest

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Encrypt under the newest key; `context` binds the value to its column."""
        nonce = os.urandom(12)
        sealed = self._keys[self._newest].encrypt(nonce, plaintext.encode(), context.encode())
        payload = base64.urlsafe_b64encode(nonce + sealed).decode()
        return f"{ENVELOPE_VERSION}:{self._newest}:{payload}"

    def decrypt(self, envelope: str, *, context: str) -> str:
        version, _, rest = envelope.partition(":")
        key_id, _, payload = rest.partition(":")
        if version != ENVELOPE_VERSION or key_id not in self._keys:
            raise DecryptionError("value was sealed with an unknown key or format")
        raw = base64.urlsafe_b64decode(payload)
        try:
            return self._keys[key_id].decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag as exc:
            raise DecryptionError("value does not authenticate") from exc

    def needs_rotation(self, envelope: str) -> bool:
        return envelope.split(":", 2)[1] != self._newest
