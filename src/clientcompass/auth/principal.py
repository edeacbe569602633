"""Who is acting: the typed subject every service call receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from clientcompass.auth.permissions import GRANTS, Permission, allowed
from clientcompass.auth.sessions import Session
from clientcompass.errors import Forbidden
from clientcompass.models.user import Role, User


class AuthMethod(StrEnum):
    SESSION = "session"
    API_TOKEN = "api_token"  # noqa: S105
    COMMAND = "command"  # a `clientcompass` command run on the server, acting as a member


@dataclass(frozen=True)
class Principal:
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    name: str
    email: str
    method: AuthMethod
    session: Session | None = None

    @classmethod
    def of_user(cls, user: User, method: AuthMethod, session: Session | None = None) -> Principal:
        return cls(user.tenant_id, user.id, user.role, user.name, user.email, method, session)

    def may(self, permission: Permission) -> bool:
        return allowed(self.role, permission)

    def require(self, permission: Permission) -> None:
        if not self.may(permission):
            raise Forbidden(GRANTS[permission].refused)

    def require_manager(self) -> None:
        """Owners and admins only: members, channels, banking details, business settings."""
        if not self.role.manages_business:
            raise Forbidden("Only an owner or admin can do that. Ask one of them to help.")
