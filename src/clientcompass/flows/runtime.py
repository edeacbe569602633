"""Running a published flow in a conversation: durable, exactly once, on the one send path.

A run is a row pinned to the version it started on, plus a journal of the steps it did. It
moves only inside a transaction that holds its row lock:
- a customer's message moves it in the inbound pipeline's job (conversations/inbound.py),
  which runs once per message; the journal's unique (run, inbound message) index makes a
  second consumption of one message impossible even so;
- the clock (a `wait`, the nudge, abandonment) moves it in the sweep job, `FOR UPDATE SKIP
  LOCKED`, so two sweepers never take the same run;
- a webhook step's reply moves it in that call's job, after the HTTP call and outside it.
Every question is sent with `conversations.send()` in the same transaction as the step that
asks it, so a crash anywhere rolls back both: an answer is never lost and a question is never
asked twice.

Only one run is live (running or paused) in a conversation: a partial unique index, and an
advisory lock per conversation around the decision to start one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import exists, select, text

from clientcompass.business.hours import open_at
from clientcompass.contacts import consent
from clientcompass.conversations import service as conversations
from clientcompass.conversations.inbound import Inbound
from clientcompass.db import UnitOfWork
from clientcompass.errors import DomainError, InvalidInput
from clientcompass.flows import answers, steps, trials
from clientcompass.flows import definition as d
from clientcompass.models import (
    Conversation,
    Direction,
    EventKind,
    Flow,
    FlowRun,
    FlowVersion,
    Message,
    MessageMedia,
    RunStatus,
)
from clientcompass.models.flows import LIVE_STATUSES, Waiting
from clientcompass.realtime.bus import Event

log = structlog.get_logger(__name__)

CHOICE_HINT = "Please reply with the number of your choice."
NUDGE_TEXT = "Are you still there? Just reply when you're ready."
# After-hours replies are not repeated to a customer who writes again the same evening.
OUTSIDE_HOURS_QUIET = timedelta(hours=12)
# cc_flow_state takes the same lock: keep the two keys in step (migration 0029).
LOCK_CONVERSATION = text(
    "SELECT pg_advisory_xact_lock(hashtextextended('flow:' || :tenant_id || ':' || :id, 0))"
)
FLOW_STATE = text(
    "SELECT live_run, trials, startable FROM cc_flow_state(CAST(:tenant_id AS uuid), "
    "CAST(:id AS uuid))"
)


class FlowNotStarted(InvalidInput):
    """A manual start refused: another run is live, the flow isn't published, or the window
    is closed."""


SWEEP_TASK = "flows.sweep"


# ---- starting -----------------------------------------------------------------------------


async def live_run(
    uow: UnitOfWork, conversation_id: uuid.UUID, *, lock: bool = False
) -> FlowRun | None:
    query = select(FlowRun).where(
        FlowRun.tenant_id == uow.tenant_id,
        FlowRun.conversation_id == conversation_id,
        FlowRun.status.in_(LIVE_STATUSES),
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return await uow.session.scalar(query)


async def lock_conversation(uow: UnitOfWork, conversation_id: uuid.UUID) -> None:
    await uow.session.execute(
        LOCK_CONVERSATION, {"tenant_id": str(uow.tenant_id), "id": str(conversation_id)}
    )


@dataclass(frozen=True)
class Outlook:
    """What a customer's message could do to flows, seen under the conversation's lock."""

    live_run: bool
    trials: dict[str, Any] | None
    startable: bool


async def _lock_and_look(uow: UnitOfWork, conversation_id: uuid.UUID) -> Outlook:
    """LOCK_CONVERSATION, then whether a run is live, the armed trials and whether any flow
    could start: one round trip where four were (cc_flow_state, migration 0029), for every
    customer's message."""
    row = (
        await uow.session.execute(
            FLOW_STATE, {"tenant_id": str(uow.tenant_id), "id": str(conversation_id)}
        )
    ).one()
    return Outlook(bool(row.live_run), row.trials, bool(row.startable))


async def start(
    uow: UnitOfWork,
    version: FlowVersion | trials.Trial,
    conversation: Conversation,
    *,
    trigger: str,
    started_by: uuid.UUID | None = None,
    seed: dict[str, Any] | None = None,
) -> FlowRun:
    """Begin a run on `version` (or a trial's draft) and steps.walk it to its first pause."""
    assert uow.tenant_id is not None
    trial = version if isinstance(version, trials.Trial) else None
    run = FlowRun(
        tenant_id=uow.tenant_id,
        id=uuid.uuid4(),
        flow_id=version.flow_id,
        version=version.number if isinstance(version, FlowVersion) else None,
        trial_definition=trial.definition if trial is not None else None,
        conversation_id=conversation.id,
        contact_id=conversation.contact_id,
        trigger=trigger,
        started_by=started_by,
        status=RunStatus.RUNNING.value,
        waiting=Waiting.NOTHING.value,
        tries=0,
        steps_done=0,
        answers=dict(seed or {}),
        started_at=uow.now,
        updated_at=uow.now,
    )
    uow.session.add(run)
    await uow.session.flush()
    ctx = await steps.context_of(uow, run)
    await steps.journal(uow, run, "start", "start", "started", trigger=trigger)
    uow.announce(
        Event.FLOW_RUN_CHANGED,
        conversation_id=str(conversation.id),
        run_id=str(run.id),
        status=run.status,
    )
    await steps.walk(uow, ctx, ctx.flow.steps[0].id if ctx.flow.steps else None)
    return run


async def _candidates(uow: UnitOfWork) -> list[FlowVersion]:
    """The live versions of this business's flows, oldest flow first."""
    return list(
        (
            await uow.session.scalars(
                select(FlowVersion)
                .join(
                    Flow,
                    (Flow.tenant_id == FlowVersion.tenant_id)
                    & (Flow.id == FlowVersion.flow_id)
                    & (Flow.live_version == FlowVersion.number),
                )
                .where(FlowVersion.tenant_id == uow.tenant_id)
                .where(FlowVersion.trigger_kind != "manual")
                .order_by(Flow.created_at)
            )
        ).all()
    )


async def _first_message(uow: UnitOfWork, inbound: Inbound) -> bool:
    earlier = await uow.session.scalar(
        select(
            exists()
            .where(Message.tenant_id == uow.tenant_id)
            .where(Message.conversation_id == inbound.conversation.id)
            .where(Message.id != inbound.message.id)
        )
    )
    return not earlier


async def _recent_outside_hours_run(uow: UnitOfWork, conversation_id: uuid.UUID) -> bool:
    return bool(
        await uow.session.scalar(
            select(
                exists()
                .where(FlowRun.tenant_id == uow.tenant_id)
                .where(FlowRun.conversation_id == conversation_id)
                .where(FlowRun.trigger == "outside_hours")
                .where(FlowRun.started_at > uow.now - OUTSIDE_HOURS_QUIET)
            )
        )
    )


async def triggered(uow: UnitOfWork, inbound: Inbound) -> tuple[FlowVersion, str] | None:
    """The flow this message starts, if any: an ad's, then a keyword's, then a new contact's,
    then the after-hours one."""
    versions = await _candidates(uow)
    if not versions:
        return None
    by_kind: dict[str, list[tuple[FlowVersion, d.FlowDefinition]]] = {}
    for version in versions:
        flow = steps.parsed(version)
        by_kind.setdefault(flow.trigger.kind, []).append((version, flow))
    referral = inbound.referral
    if referral is not None:
        for version, flow in by_kind.get("ad", []):
            assert isinstance(flow.trigger, d.AdTrigger)
            if not flow.trigger.source_ids or referral.source_id in flow.trigger.source_ids:
                return version, "ad"
    typed = " ".join(inbound.body.split()).strip().lower()
    for version, flow in by_kind.get("keyword", []):
        assert isinstance(flow.trigger, d.KeywordTrigger)
        if typed and typed in [k.strip().lower() for k in flow.trigger.keywords]:
            return version, "keyword"
    if by_kind.get("new_contact") and await _first_message(uow, inbound):
        return by_kind["new_contact"][0][0], "new_contact"
    if (
        by_kind.get("outside_hours")
        and not await open_at(uow, uow.now)
        and not await _recent_outside_hours_run(uow, inbound.conversation.id)
    ):
        return by_kind["outside_hours"][0][0], "outside_hours"
    return None


# ---- answers ------------------------------------------------------------------------------


async def _given(uow: UnitOfWork, inbound: Inbound) -> answers.Given:
    media = (
        await uow.session.execute(
            select(MessageMedia.id, MessageMedia.content_type)
            .where(MessageMedia.tenant_id == uow.tenant_id)
            .where(MessageMedia.message_id == inbound.message.id)
            .order_by(MessageMedia.position)
        )
    ).all()
    pin = inbound.location
    location = ""
    if pin is not None:
        place = ", ".join(p for p in (pin.label, pin.address) if p)
        location = f"{place} ({pin.latitude:.5f}, {pin.longitude:.5f})".strip()
    return answers.Given(
        text=inbound.body,
        media=tuple((str(m.id), m.content_type or "") for m in media),
        location=location,
    )


async def _agent_replied_since(uow: UnitOfWork, run: FlowRun) -> bool:
    """A member wrote in the thread since the run last asked: a person has taken over."""
    since = run.waiting_since or run.started_at
    return bool(
        await uow.session.scalar(
            select(
                exists()
                .where(Message.tenant_id == uow.tenant_id)
                .where(Message.conversation_id == run.conversation_id)
                .where(Message.direction == Direction.OUTBOUND)
                .where(Message.author_id.is_not(None))
                .where(Message.created_at >= since)
            )
        )
    )


async def pause(uow: UnitOfWork, run: FlowRun, reason: str) -> None:
    run.status = RunStatus.PAUSED.value
    run.wake_at = None
    run.updated_at = uow.now
    await steps.journal(uow, run, str(run.step_id or "start"), "pause", "paused", reason=reason)
    conversations.record_event(
        uow, run.conversation_id, EventKind.NOTE, None, body=f"Flow paused: {reason}"
    )
    uow.announce(
        Event.FLOW_RUN_CHANGED,
        conversation_id=str(run.conversation_id),
        run_id=str(run.id),
        status=run.status,
    )


async def _answer(uow: UnitOfWork, ctx: steps.Context, inbound: Inbound) -> None:
    run = ctx.run
    step = ctx.step(run.step_id)
    message_id = inbound.message.id
    if isinstance(step, d.AskStep):
        checked = answers.check(step, await _given(uow, inbound), uow.now, ctx.zone)
        if checked.ok:
            run.answers = {**run.answers, step.save_as: checked.value}
            if step.expect is d.Expect.NAME and not ctx.contact.name.strip():
                # The name they gave is the contact's, unless the team already wrote one.
                ctx.contact.name = str(checked.value)[:200]
                ctx.contact.updated_at = uow.now
            await steps.journal(
                uow, run, step.id, step.kind, "answered", inbound_message_id=message_id
            )
            await steps.walk(uow, ctx, ctx.after(step))
            return
        await _retry(uow, ctx, step, message_id, checked.hint, step.max_tries)
        return
    if isinstance(step, d.ChooseStep):
        option = steps.match_option(step, inbound)
        if option is not None:
            if step.save_as:
                run.answers = {
                    **run.answers,
                    step.save_as: option.title,
                    f"{step.save_as}_id": option.id,
                }
            await steps.journal(
                uow,
                run,
                step.id,
                step.kind,
                "chose",
                inbound_message_id=message_id,
                option=option.id,
            )
            await steps.walk(uow, ctx, option.next or ctx.after(step))
            return
        await _retry(uow, ctx, step, message_id, CHOICE_HINT, 3)
        return
    # Waiting on the clock or a webhook: the message is the team's to read; the run goes on.
    await steps.journal(
        uow, run, str(run.step_id), "message", "ignored", inbound_message_id=message_id
    )


async def _retry(
    uow: UnitOfWork,
    ctx: steps.Context,
    step: d.AskStep | d.ChooseStep,
    message_id: uuid.UUID,
    hint: str,
    max_tries: int,
) -> None:
    run = ctx.run
    tries = run.tries + 1
    await steps.journal(
        uow, run, step.id, step.kind, "invalid", inbound_message_id=message_id, tries=tries
    )
    if tries >= max_tries:
        await steps.hand_off(
            uow, ctx, step.id, f"no valid answer to “{step.title}” after {tries} tries"
        )
        return
    await steps.ask(uow, ctx, step, prefix=hint)
    run.tries = tries
    run.waiting_since = uow.now
    run.updated_at = uow.now
    run.wake_at = uow.now + timedelta(minutes=ctx.flow.nudge_after_minutes)


async def on_inbound(uow: UnitOfWork, inbound: Inbound) -> None:
    """The inbound pipeline's flow handler (after consent's): answer the live run, or start
    the flow this message triggers. Never messages a contact who opted out."""
    conversation = inbound.conversation
    if not inbound.flows:
        return  # a business without flows: no lock, no look
    if consent.parse(inbound.body) is not None:
        return  # STOP / START: consent's to confirm, never an answer
    outlook = await _lock_and_look(uow, conversation.id)
    run = await live_run(uow, conversation.id, lock=True) if outlook.live_run else None
    if run is not None:
        if run.status != RunStatus.RUNNING.value:
            return  # paused: a person has the thread
        if await consent.opted_out(uow, conversation.contact_id):
            steps.finish(uow, run, RunStatus.STOPPED, "the customer opted out")
            return
        if await _agent_replied_since(uow, run):
            await pause(uow, run, "a team member replied")
            return
        try:
            await _answer(uow, await steps.context_of(uow, run), inbound)
        except DomainError as exc:
            log.warning("flow answer not taken", run_id=str(run.id), reason=exc.message)
        return
    # Consent is read only when something would start: most messages start nothing.
    trial = await trials.armed_trial(uow, inbound.contact.phone_e164, outlook.trials)
    if trial is not None:
        if not await consent.opted_out(uow, conversation.contact_id):
            await start(uow, trial, conversation, trigger="trial", started_by=trial.member_id)
        return
    if not outlook.startable:
        return
    found = await triggered(uow, inbound)
    if found is None or await consent.opted_out(uow, conversation.contact_id):
        return
    version, trigger = found
    referral = inbound.referral
    seed = {"_referral": referral.__dict__} if referral is not None else None
    await start(uow, version, conversation, trigger=trigger, seed=seed)


# ---- the clock, and a webhook step's reply ------------------------------------------------


async def wake(uow: UnitOfWork, run: FlowRun) -> None:
    """The clock for one due run (locked by the caller): a wait ends, or silence is nudged
    once and then abandoned."""
    if await _agent_replied_since(uow, run):
        await pause(uow, run, "a team member replied")
        return
    ctx = await steps.context_of(uow, run)
    if run.waiting == Waiting.TIMER.value:
        step = ctx.step(run.step_id)
        await steps.journal(uow, run, str(run.step_id), "wait", "woke")
        await steps.walk(uow, ctx, ctx.after(step) if step is not None else None)
        return
    if run.waiting != Waiting.ANSWER.value:
        run.wake_at = None
        return
    if run.nudged_at is None:
        run.nudged_at = uow.now
        run.wake_at = uow.now + timedelta(minutes=ctx.flow.nudge_after_minutes)
        try:
            sent = await steps.say(uow, ctx, ctx.flow.nudge_text or NUDGE_TEXT)
        except DomainError:
            sent = None  # the window closed: abandon at the next wake, unnudged
        await steps.journal(uow, run, str(run.step_id), "nudge", "nudged", message_id=sent)
        return
    steps.finish(uow, run, RunStatus.ABANDONED, "the customer went silent")
    await steps.journal(uow, run, str(run.step_id), "nudge", "abandoned")


async def due_runs(uow: UnitOfWork, limit: int = 100) -> list[FlowRun]:
    return list(
        (
            await uow.session.scalars(
                select(FlowRun)
                .where(FlowRun.tenant_id == uow.tenant_id)
                .where(FlowRun.status == RunStatus.RUNNING.value)
                .where(FlowRun.wake_at <= uow.now)
                .order_by(FlowRun.wake_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )


async def webhook_replied(
    uow: UnitOfWork, run_id: uuid.UUID, step_id: str, reply: Mapping[str, Any] | None
) -> None:
    """A webhook step's call is over (`reply` None: it failed for good): save what its JSON
    answer maps, and go on; a run that moved on meanwhile is left alone."""
    run = await uow.session.scalar(
        select(FlowRun)
        .where(FlowRun.tenant_id == uow.tenant_id, FlowRun.id == run_id)
        .with_for_update()
    )
    if (
        run is None
        or run.status != RunStatus.RUNNING.value
        or run.waiting != Waiting.WEBHOOK.value
        or run.step_id != step_id
    ):
        return
    ctx = await steps.context_of(uow, run)
    step = ctx.step(step_id)
    assert isinstance(step, d.WebhookStep)
    saved = {}
    for field, answer in step.answers.items():
        if reply is not None and isinstance(reply.get(field), str | int | float | bool):
            saved[answer] = str(reply[field])
    run.answers = {**run.answers, **saved}
    await steps.journal(
        uow,
        run,
        step.id,
        step.kind,
        "called" if reply is not None else "failed",
        saved=sorted(saved),
    )
    await steps.walk(uow, ctx, ctx.after(step))
