from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, Enum, ForeignKey, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from clientcompass.models.base import Base, TenantOwned, Timestamped, TokenHashed


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    AGENT = "agent"

    @property
    def manages_business(self) -> bool:
        """Owners and admins manage members, channels, banking and settings; agents do not."""
        return self is not Role.AGENT


role_enum = Enum(Role, name="member_role", values_callable=lambda e: [m.value for m in e])


class User(TenantOwned, Timestamped, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "email"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(role_enum)
    is_active: Mapped[bool] = mapped_column(default=True, server_default=text("true"))
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when an owner or admin removes the member (who did it, and when): the row stays so
    # the conversations and documents they touched keep their author.
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    # The privacy policy version this person last accepted or read, and when (policy/policy.py).
    policy_version: Mapped[str | None] = mapped_column(String(40))
    policy_accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginIndex(Base):
    """Email → (tenant, user) for login before a tenant is known.

    The app role has no grant on this table; it reaches it only through the narrow
    SECURITY DEFINER functions created in the migrations (see DESIGN.md).
    """

    __tablename__ = "login_index"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))


class Invitation(TokenHashed, Timestamped, Base):
    __tablename__ = "invitations"
    __table_args__ = (UniqueConstraint("tenant_id", "token_hash"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(role_enum)
    invited_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PasswordReset(TokenHashed, Timestamped, Base):
    __tablename__ = "password_resets"
    __table_args__ = (UniqueConstraint("tenant_id", "token_hash"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiToken(TokenHashed, Timestamped, Base):
    """A personal API token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (UniqueConstraint("tenant_id", "token_hash"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    name: Mapped[str] = mapped_column(String(100))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
