"""What leads do after other features' changes: a quote made from a lead that the customer
accepts wins the lead. A durable-event handler (`work.EventHandler`), wired in jobs.py; it
runs once per event, and a second run finds the lead already won and does nothing."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from clientcompass.db import UnitOfWork
from clientcompass.leads import service
from clientcompass.models import Document, LeadStage
from clientcompass.realtime.bus import Event


async def on_event(uow: UnitOfWork, event: Event, data: dict[str, Any], event_id: str) -> None:
    if event is not Event.DOCUMENT_ACCEPTED:
        return
    try:
        document_id = uuid.UUID(str(data.get("document_id", "")))
    except ValueError:
        return
    row = (
        await uow.session.execute(
            select(Document.lead_id, Document.number).where(
                Document.tenant_id == uow.tenant_id, Document.id == document_id
            )
        )
    ).first()
    if row is None or row.lead_id is None:
        return
    await service.move_stage(
        uow,
        None,
        row.lead_id,
        LeadStage.WON,
        f"Quote {row.number or ''} accepted".replace("  ", " "),
        system=True,
    )
