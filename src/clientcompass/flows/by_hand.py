"""What a member does to a conversation's flow by hand: start one, give the thread back to a
paused one, stop one. Each takes the same locks as the customer's messages (flows/runtime.py)."""

from __future__ import annotations

import uuid

from clientcompass.contacts import consent
from clientcompass.conversations import service as conversations
from clientcompass.conversations.window import closed_window_message, window_state
from clientcompass.db import UnitOfWork
from clientcompass.errors import NotFound
from clientcompass.flows import steps
from clientcompass.flows.runtime import FlowNotStarted, live_run, lock_conversation, start
from clientcompass.models import Flow, FlowRun, FlowVersion, RunStatus
from clientcompass.realtime.bus import Event


async def start_by_hand(
    uow: UnitOfWork, member_id: uuid.UUID, conversation_id: uuid.UUID, flow_id: uuid.UUID
) -> FlowRun:
    """An agent starts a published flow in a thread (refused with the reason when it can't)."""
    conversation = await conversations.get_for_update(uow, conversation_id)
    await lock_conversation(uow, conversation.id)
    if await live_run(uow, conversation.id) is not None:
        raise FlowNotStarted("A flow is already running here. Stop it first.", field="flow_id")
    flow = await uow.session.get(Flow, (uow.tenant_id, flow_id))
    if flow is None:
        raise NotFound("That flow doesn't exist.")
    if flow.live_version is None:
        raise FlowNotStarted("Publish the flow before starting it.", field="flow_id")
    if await consent.opted_out(uow, conversation.contact_id):
        raise FlowNotStarted(
            "This customer opted out of automated messages; flows don't message them.",
            field="flow_id",
        )
    window = window_state(conversation.last_inbound_at, uow.now)
    if not window.is_open:
        raise FlowNotStarted(closed_window_message(window), field="flow_id")
    version = await uow.session.get(FlowVersion, (uow.tenant_id, flow.id, flow.live_version))
    assert version is not None
    return await start(uow, version, conversation, trigger="manual", started_by=member_id)


async def resume(uow: UnitOfWork, conversation_id: uuid.UUID) -> FlowRun:
    """Give the thread back to the paused flow: it asks its question again."""
    run = await live_run(uow, conversation_id, lock=True)
    if run is None or run.status != RunStatus.PAUSED.value:
        raise FlowNotStarted("No paused flow to resume here.", field="run")
    run.status = RunStatus.RUNNING.value
    run.updated_at = uow.now
    ctx = await steps.context_of(uow, run)
    await steps.journal(uow, run, str(run.step_id), "resume", "resumed")
    uow.announce(
        Event.FLOW_RUN_CHANGED,
        conversation_id=str(run.conversation_id),
        run_id=str(run.id),
        status=run.status,
    )
    await steps.walk(uow, ctx, run.step_id)
    return run


async def stop(uow: UnitOfWork, conversation_id: uuid.UUID, who: str) -> FlowRun:
    run = await live_run(uow, conversation_id, lock=True)
    if run is None:
        raise FlowNotStarted("No flow is running here.", field="run")
    steps.finish(uow, run, RunStatus.STOPPED, f"stopped by {who}")
    await steps.journal(uow, run, str(run.step_id or "start"), "stop", "stopped", by=who)
    return run
