"""Who is acting: the typed subject every service call receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from clientcompass.auth.sessions import Session
from clientcompass.errors import Forbidden
from clientcompass.models.user import Role


class AuthMethod(StrEnum):
    SESSION = "session"
    API_TOKEN = "api_token"  # noqa: S105


@dataclass(frozen=True)
class Principal:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    name: str
    email: str
    method: AuthMethod
    session: Session | None = None

    def require_manager(self) -> None:
        """Owners and admins only: members, channels, banking details, business settings."""
        if not self.role.manages_business:
            raise Forbidden("Only an owner or admin can do that. Ask one of them to help.")
