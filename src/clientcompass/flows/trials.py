"""Trying a flow's draft on the sandbox phone: armed by a member, started by the customer's
next message (flows/runtime.py), which opens the 24-hour window its questions need."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from clientcompass.business.settings import get_setting, set_setting
from clientcompass.db import UnitOfWork
from clientcompass.errors import NotFound
from clientcompass.models import Flow

TRIALS_KEY = "flows.trials"
TRIAL_ARMED_FOR = timedelta(minutes=30)


@dataclass(frozen=True)
class Trial:
    """A draft tried on the sandbox phone: the customer's next message starts it (that message
    opens the 24-hour window the questions need)."""

    flow_id: uuid.UUID
    definition: dict[str, Any]
    member_id: uuid.UUID | None


async def arm_trial(uow: UnitOfWork, member_id: uuid.UUID, flow_id: uuid.UUID, phone: str) -> None:
    """The next message from `phone` (the sandbox phone's customer) runs the flow's draft as it
    is now, within TRIAL_ARMED_FOR."""
    flow = await uow.session.get(Flow, (uow.tenant_id, flow_id))
    if flow is None:
        raise NotFound("That flow doesn't exist.")
    armed = await get_setting(uow, TRIALS_KEY) or {}
    live = {
        number: trial
        for number, trial in armed.items()
        if isinstance(trial, dict) and str(trial.get("until", "")) > uow.now.isoformat()
    }
    live[phone] = {
        "flow_id": str(flow.id),
        "definition": flow.draft,
        "member_id": str(member_id),
        "until": (uow.now + TRIAL_ARMED_FOR).isoformat(),
    }
    await set_setting(uow, TRIALS_KEY, live)


async def armed_trial(uow: UnitOfWork, phone: str, armed: dict[str, Any] | None) -> Trial | None:
    """The trial armed for this customer's phone (`armed`: the TRIALS_KEY setting), disarmed
    as it is taken."""
    if not armed:
        return None
    trial = armed.get(phone)
    if not isinstance(trial, dict):
        return None
    await set_setting(uow, TRIALS_KEY, {k: v for k, v in armed.items() if k != phone})
    if str(trial.get("until", "")) <= uow.now.isoformat():
        return None
    return Trial(
        flow_id=uuid.UUID(str(trial["flow_id"])),
        definition=dict(trial["definition"]),
        member_id=uuid.UUID(str(trial["member_id"])) if trial.get("member_id") else None,
    )
