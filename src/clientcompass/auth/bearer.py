"""Bearer secrets that name their tenant, so a lookup never has to cross the tenant wall.

Format: `<prefix>_<tenant uuid hex>_<random>`; only the SHA-256 of the whole string is stored.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class TenantSecret:
    tenant_id: uuid.UUID
    token: str

    @property
    def digest(self) -> str:
        return digest(self.token)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(prefix: str, tenant_id: uuid.UUID) -> TenantSecret:
    return TenantSecret(tenant_id, f"{prefix}_{tenant_id.hex}_{secrets.token_urlsafe(32)}")


def parse(prefix: str, token: str) -> TenantSecret | None:
    """The tenant a token claims, or None when the token is malformed."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != prefix or len(token) > 200:
        return None
    try:
        tenant_id = uuid.UUID(hex=parts[1])
    except ValueError:
        return None
    return TenantSecret(tenant_id, token)
