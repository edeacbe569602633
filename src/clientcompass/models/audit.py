"""The audit trail and pending email changes (migration 0023 says why each is shaped so)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Index, String, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from clientcompass.models.base import Base, TenantOwned, Timestamped, TokenHashed, utcnow


class AuditAction(StrEnum):
    """What an audit event records. Stored as its value (a short string, no database enum:
    a new action needs no migration)."""

    SIGN_IN = "sign_in"
    SIGN_IN_FAILED = "sign_in_failed"
    SIGN_OUT_DEVICE = "sign_out_device"
    SIGN_OUT_OTHERS = "sign_out_others"
    SIGN_OUT_EVERYWHERE = "sign_out_everywhere"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (an action name)
    PASSWORD_RESET = "password_reset"  # noqa: S105 (an action name)
    EMAIL_CHANGE_REQUESTED = "email_change_requested"
    EMAIL_CHANGED = "email_changed"
    ROLE_CHANGED = "role_changed"
    MEMBER_REMOVED = "member_removed"
    API_TOKEN_CREATED = "api_token_created"  # noqa: S105 (an action name)
    API_TOKEN_REVOKED = "api_token_revoked"  # noqa: S105 (an action name)
    BANKING_DETAILS_CHANGED = "banking_details_changed"
    # Recorded by the lifecycle features (export, erasure, closure), not by this package.
    EXPORT_CREATED = "export_created"
    CUSTOMER_ERASED = "customer_erased"
    ACCOUNT_CLOSED = "account_closed"
    ACCOUNT_REOPENED = "account_reopened"
    # Destructive actions behind a step-up (accounts/step_up.py), and a wrong password there.
    INVITATION_REVOKED = "invitation_revoked"
    CONTACT_DELETED = "contact_deleted"
    WEBHOOK_DELETED = "webhook_deleted"
    DOCUMENT_DELETED = "document_deleted"
    CANNED_RESPONSE_DELETED = "canned_response_deleted"
    STEP_UP_FAILED = "step_up_failed"

    @property
    def label(self) -> str:
        return ACTION_LABELS[self]


ACTION_LABELS: dict[AuditAction, str] = {
    AuditAction.SIGN_IN: "Signed in",
    AuditAction.SIGN_IN_FAILED: "Failed sign-in",
    AuditAction.SIGN_OUT_DEVICE: "Signed out a device",
    AuditAction.SIGN_OUT_OTHERS: "Signed out everywhere else",
    AuditAction.SIGN_OUT_EVERYWHERE: "Signed out everywhere",
    AuditAction.PASSWORD_CHANGED: "Changed password",
    AuditAction.PASSWORD_RESET: "Reset password",
    AuditAction.EMAIL_CHANGE_REQUESTED: "Asked to change email",
    AuditAction.EMAIL_CHANGED: "Changed email",
    AuditAction.ROLE_CHANGED: "Changed a role",
    AuditAction.MEMBER_REMOVED: "Removed a member",
    AuditAction.API_TOKEN_CREATED: "Created an API token",
    AuditAction.API_TOKEN_REVOKED: "Revoked an API token",
    AuditAction.BANKING_DETAILS_CHANGED: "Changed banking details",
    AuditAction.EXPORT_CREATED: "Exported data",
    AuditAction.CUSTOMER_ERASED: "Erased a customer's data",
    AuditAction.ACCOUNT_CLOSED: "Closed the account",
    AuditAction.ACCOUNT_REOPENED: "Reopened the account",
    AuditAction.INVITATION_REVOKED: "Revoked an invitation",
    AuditAction.CONTACT_DELETED: "Deleted a contact",
    AuditAction.WEBHOOK_DELETED: "Deleted a webhook",
    AuditAction.DOCUMENT_DELETED: "Deleted a draft document",
    AuditAction.CANNED_RESPONSE_DELETED: "Deleted a canned response",
    AuditAction.STEP_UP_FAILED: "Wrong password to confirm an action",
}


class AuditEvent(TenantOwned, Base):
    """One thing that changed who can get in, or what was taken out or destroyed.

    Never holds a secret or message text: `details` carries ids, roles and counts."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_tenant_id_at", "tenant_id", "at"),
        Index("ix_audit_events_tenant_id_action_at", "tenant_id", "action", "at"),
        Index("ix_audit_events_tenant_id_actor_id_at", "tenant_id", "actor_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    action: Mapped[str] = mapped_column(String(40))
    target_kind: Mapped[str] = mapped_column(String(40), server_default=text("''"), default="")
    target_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    target_label: Mapped[str] = mapped_column(String(200), server_default=text("''"), default="")
    ip: Mapped[str] = mapped_column(String(64), server_default=text("''"), default="")
    device: Mapped[str] = mapped_column(String(100), server_default=text("''"), default="")
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb"), default=dict
    )


class EmailChange(TokenHashed, Timestamped, Base):
    """A person's request to sign in with a new address, waiting for the link sent to it.

    Only the token's SHA-256 is kept, like a password reset; the old address stays until the
    link is used."""

    __tablename__ = "email_changes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "token_hash"),
        Index("ix_email_changes_tenant_id_user_id", "tenant_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    new_email: Mapped[str] = mapped_column(String(254))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
