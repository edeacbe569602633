"""Meta's data-deletion requests: the operator's record, not a business's data.

A request names a person only by Meta's app-scoped user id; no business (tenant) is known
when Meta calls, so the row has no `tenant_id` and sits outside the tenant wall, on the
coordinator under Citus (migrations/distribution.py). It is read back only by its
confirmation code, which is the unguessable key to its public status page.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from clientcompass.models.base import Base


class MetaDeletionRequest(Base):
    __tablename__ = "meta_deletion_requests"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    confirmation_code: Mapped[str] = mapped_column(String(40), unique=True)
    # Meta's app-scoped user id, as the signed request gave it (digits, kept as text).
    meta_user_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # When Meta says it issued the request (the payload's `issued_at`), if it said.
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # What was found and deleted, in words shown on the status page (lifecycle/meta.py).
    outcome: Mapped[str] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
