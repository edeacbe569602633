"""A `choose` step as WhatsApp buttons or a list: Twilio Content made when a version is
published, and sent inside the 24-hour window.

Session-only content needs no approval, but it must exist in the Content API before a message
can name it. Publishing queues `flows.prepare_content`, which creates one Content resource per
choose step and connected number (read, release, call Twilio, write), and keeps its sid in the
business's settings under the version: a version never changes, so neither does its content.
Until it exists, or on a channel that can't show it, the run sends the numbered text, which
every client shows; typed answers are matched either way.

The body and the numbered text are variables ({{1}}, {{2}}): the body names answers
("Thanks {name}") that are only known when the question goes.
"""

from __future__ import annotations

import uuid
from typing import Any

import procrastinate
import structlog

from clientcompass.business.settings import get_setting, set_setting
from clientcompass.conversations import service as conversations
from clientcompass.db import UnitOfWork
from clientcompass.flows import definition as d
from clientcompass.models import FlowVersion
from clientcompass.twilio_client import OutcomeUnknown, TwilioRejected, TwilioUnavailable
from clientcompass.whatsapp import channels as whatsapp_channels
from clientcompass.work import LazyResources, Resources

log = structlog.get_logger(__name__)

PREPARE_TASK = "flows.prepare_content"
KEY = "flows.content.{channel_id}.{flow_id}.{version}.{step_id}"
QUEUE = "flows"


def key(channel_id: uuid.UUID, flow_id: uuid.UUID, version: int, step_id: str) -> str:
    return KEY.format(channel_id=channel_id, flow_id=flow_id, version=version, step_id=step_id)


def payload(flow_id: uuid.UUID, version: int, step: d.ChooseStep) -> dict[str, Any]:
    """The Content API create body: buttons (twilio/quick-reply) or a list
    (twilio/list-picker), with the numbered text as twilio/text for clients without them."""
    if step.style == "list":
        interactive: dict[str, Any] = {
            "twilio/list-picker": {
                "body": "{{1}}",
                "button": step.button[: d.LIST_BUTTON_MAX] or "Choose",
                "items": [
                    {
                        "item": option.title[: d.LIST_ITEM_MAX],
                        "id": option.id,
                        "description": (option.description or option.title)[
                            : d.LIST_DESCRIPTION_MAX
                        ],
                    }
                    for option in step.options
                ],
            }
        }
    else:
        interactive = {
            "twilio/quick-reply": {
                "body": "{{1}}",
                "actions": [
                    {"title": option.title[: d.BUTTON_TITLE_MAX], "id": option.id}
                    for option in step.options
                ],
            }
        }
    return {
        "friendly_name": f"cc_flow_{flow_id.hex[:12]}_v{version}_{step.id}"[:64],
        "language": "en",
        "variables": {"1": "What do you need?", "2": "1. One\n2. Two"},
        "types": {**interactive, "twilio/text": {"body": "{{2}}"}},
    }


async def content_sid(
    uow: UnitOfWork, run_flow_id: uuid.UUID, version: int, channel_id: uuid.UUID, step_id: str
) -> str:
    stored = await get_setting(uow, key(channel_id, run_flow_id, version, step_id))
    return str(stored) if isinstance(stored, str) else ""


async def prepare(
    resources: Resources, tenant_id: uuid.UUID, flow_id: uuid.UUID, version: int
) -> int:
    """Create the missing Content for a version's choose steps; returns how many were made.
    Twilio unreachable or refusing leaves the numbered text in use, and a later publish (or
    this job again) tries again."""
    async with resources.unit_of_work(tenant_id) as uow:
        row = await uow.session.get(FlowVersion, (tenant_id, flow_id, version))
        if row is None:
            return 0
        steps = [s for s in d.parse(row.definition).steps if isinstance(s, d.ChooseStep)]
        wanted = []
        for channel in await conversations.connected_channels(uow):
            for step in steps:
                if not await content_sid(uow, flow_id, version, channel.id, step.id):
                    wanted.append((channel, step))
    made = 0
    for channel, step in wanted:
        try:
            created = await resources.twilio.create_content(
                whatsapp_channels.credentials(channel, resources.keyring),
                payload(flow_id, version, step),
            )
        except (TwilioRejected, TwilioUnavailable, OutcomeUnknown) as exc:
            log.warning("flow choice content not created", step_id=step.id, error=exc.message)
            continue
        async with resources.unit_of_work(tenant_id) as uow:
            await set_setting(uow, key(channel.id, flow_id, version, step.id), str(created["sid"]))
        made += 1
    return made


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    @job_app.task(name=PREPARE_TASK, queue=QUEUE)
    async def prepare_content(tenant_id: str, flow_id: str, version: int) -> None:
        await prepare(await lazy.get(), uuid.UUID(tenant_id), uuid.UUID(flow_id), version)
