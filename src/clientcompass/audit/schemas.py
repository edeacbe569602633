from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from clientcompass.audit.service import AuditRow


class AuditEventOut(BaseModel):
    """One audit event as the API lists it."""

    id: uuid.UUID
    at: datetime
    action: str
    action_label: str
    actor_id: uuid.UUID | None
    actor_name: str
    target_kind: str
    target_id: uuid.UUID | None
    target_label: str
    ip: str
    device: str
    details: dict[str, Any]

    @classmethod
    def of(cls, row: AuditRow) -> AuditEventOut:
        event = row.event
        return cls(
            id=event.id,
            at=event.at,
            action=event.action,
            action_label=row.action_label,
            actor_id=event.actor_id,
            actor_name=row.actor_name,
            target_kind=event.target_kind,
            target_id=event.target_id,
            target_label=event.target_label,
            ip=event.ip,
            device=event.device,
            details=event.details,
        )


class AuditPageOut(BaseModel):
    events: list[AuditEventOut]
    page: int
    has_next: bool
