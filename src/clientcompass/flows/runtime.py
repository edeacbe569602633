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

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import exists, func, select, text

from clientcompass.business.hours import DEFAULT_TIMEZONE, open_at
from clientcompass.business.settings import get_setting, set_setting
from clientcompass.contacts import consent
from clientcompass.conversations import service as conversations
from clientcompass.conversations.inbound import Inbound
from clientcompass.conversations.window import closed_window_message, window_state
from clientcompass.db import UnitOfWork
from clientcompass.errors import DomainError, InvalidInput, NotFound
from clientcompass.flows import answers, content
from clientcompass.flows import definition as d
from clientcompass.leads import service as leads
from clientcompass.models import (
    BusinessProfile,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    EventKind,
    Flow,
    FlowRun,
    FlowRunStep,
    FlowVersion,
    Message,
    MessageMedia,
    RunStatus,
    User,
)
from clientcompass.models.flows import LIVE_STATUSES, Waiting
from clientcompass.models.leads import LeadSource
from clientcompass.realtime.bus import Event
from clientcompass.whatsapp.outbound import Outgoing

log = structlog.get_logger(__name__)

# A step list is walked at most this far in one go: validate.py refuses loops without a
# pausing step, so this is only a guard against a definition that slipped past it.
MAX_STEPS_AT_ONCE = 50
CHOICE_HINT = "Please reply with the number of your choice."
NUDGE_TEXT = "Are you still there? Just reply when you're ready."
# After-hours replies are not repeated to a customer who writes again the same evening.
OUTSIDE_HOURS_QUIET = timedelta(hours=12)
LOCK_CONVERSATION = text(
    "SELECT pg_advisory_xact_lock(hashtextextended('flow:' || :tenant_id || ':' || :id, 0))"
)
# What a contact's columns hold (a set_field never fails on a long answer).
FIELD_LIMITS = {"name": 200, "email": 254}
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,39})\}")


class FlowNotStarted(InvalidInput):
    """A manual start refused: another run is live, the flow isn't published, or the window
    is closed."""


# Parsed versions by (tenant, flow, number): a version never changes once published.
_parsed: dict[tuple[uuid.UUID, uuid.UUID, int], d.FlowDefinition] = {}
PARSED_MAX = 2000


def parsed(version: FlowVersion) -> d.FlowDefinition:
    key = (version.tenant_id, version.flow_id, version.number)
    found = _parsed.get(key)
    if found is None:
        if len(_parsed) >= PARSED_MAX:
            _parsed.clear()
        found = _parsed[key] = d.parse(version.definition)
    return found


async def definition_of(uow: UnitOfWork, run: FlowRun) -> d.FlowDefinition:
    """The pinned version's definition (a trial's copy of the draft)."""
    if run.version is None:
        return d.parse(run.trial_definition)
    version = await uow.session.get(FlowVersion, (uow.tenant_id, run.flow_id, run.version))
    if version is None:  # pragma: no cover - the foreign key keeps it
        raise NotFound("That flow version no longer exists.")
    return parsed(version)


def fill(template: str, values: Mapping[str, Any]) -> str:
    """`{name}` → the answer saved as `name` (empty when there is none)."""

    def one(found: re.Match[str]) -> str:
        value = values.get(found.group(1))
        if isinstance(value, list):
            return f"{len(value)} file{'s' if len(value) != 1 else ''}"
        return "" if value is None else str(value)

    return PLACEHOLDER.sub(one, template)


def choice_text(step: d.ChooseStep, values: Mapping[str, Any]) -> str:
    """The numbered-text form of a choice, which every WhatsApp client shows."""
    lines = [fill(step.text, values).strip(), ""]
    lines += [f"{n}. {option.title}" for n, option in enumerate(step.options, start=1)]
    lines += ["", "Reply with a number."]
    return "\n".join(lines).strip()


def match_option(step: d.ChooseStep, inbound: Inbound) -> d.Option | None:
    """By the id WhatsApp sent back (a button payload or a list item id), or by what was typed:
    the option's number, id or title, case-insensitively."""
    for chosen_id in (inbound.button_payload, inbound.list_id):
        if chosen_id:
            for option in step.options:
                if option.id == chosen_id:
                    return option
    typed = " ".join(inbound.body.split()).strip().rstrip(".").lower()
    if not typed:
        return None
    if typed.isdigit() and 1 <= int(typed) <= len(step.options):
        return step.options[int(typed) - 1]
    for option in step.options:
        if typed in (option.id.lower(), option.title.strip().lower()):
            return option
    return None


@dataclass
class Context:
    """What one transaction's walk through a run needs, read once."""

    run: FlowRun
    flow: d.FlowDefinition
    conversation: Conversation
    contact: Contact
    zone: ZoneInfo

    def step(self, step_id: str | None) -> d.AnyStep | None:
        for step in self.flow.steps:
            if step.id == step_id:
                return step
        return None

    def after(self, step: d.AnyStep) -> str | None:
        if step.next:
            return step.next
        index = self.flow.steps.index(step)
        return self.flow.steps[index + 1].id if index + 1 < len(self.flow.steps) else None


async def _zone(uow: UnitOfWork) -> ZoneInfo:
    name = await uow.session.scalar(
        select(BusinessProfile.timezone).where(BusinessProfile.tenant_id == uow.tenant_id)
    )
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (KeyError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


async def _context(uow: UnitOfWork, run: FlowRun) -> Context:
    conversation = await uow.session.get(Conversation, (uow.tenant_id, run.conversation_id))
    contact = await uow.session.get(Contact, (uow.tenant_id, run.contact_id))
    if conversation is None or contact is None:  # pragma: no cover - cascades delete the run
        raise NotFound("That conversation no longer exists.")
    return Context(run, await definition_of(uow, run), conversation, contact, await _zone(uow))


async def _journal(
    uow: UnitOfWork,
    run: FlowRun,
    step_id: str,
    kind: str,
    outcome: str,
    *,
    inbound_message_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
    **detail: Any,
) -> None:
    assert uow.tenant_id is not None
    run.steps_done += 1  # the run's row is locked: numbers never collide
    uow.session.add(
        FlowRunStep(
            tenant_id=uow.tenant_id,
            id=uuid.uuid4(),
            run_id=run.id,
            seq=run.steps_done,
            step_id=step_id,
            kind=kind,
            outcome=outcome,
            inbound_message_id=inbound_message_id,
            message_id=message_id,
            detail=detail,
            at=uow.now,
        )
    )
    await uow.session.flush()


async def _say(uow: UnitOfWork, ctx: Context, body: str) -> uuid.UUID | None:
    """Send through the one send path; None (and the run handed off) when it cannot go:
    the 24-hour window closed while the run waited, or the number was disconnected."""
    if not body.strip():
        return None
    message = await conversations.send(uow, None, ctx.conversation.id, Outgoing(body=body))
    return message.id


def _finish(uow: UnitOfWork, run: FlowRun, status: RunStatus, reason: str) -> None:
    run.status = status.value
    run.waiting = Waiting.NOTHING.value
    run.wake_at = None
    run.end_reason = reason
    run.ended_at = uow.now
    run.updated_at = uow.now
    uow.announce(
        Event.FLOW_RUN_CHANGED,
        conversation_id=str(run.conversation_id),
        run_id=str(run.id),
        status=status.value,
    )


async def _hand_off(uow: UnitOfWork, ctx: Context, step_id: str, reason: str) -> None:
    """Give the thread to a person: the run ends, the team is told (push and email by
    their choices: the durable `conversation.handoff` event)."""
    _finish(uow, ctx.run, RunStatus.HANDED_OFF, reason)
    conversations.record_event(
        uow, ctx.conversation.id, EventKind.NOTE, None, body=f"Flow handed over: {reason}"
    )
    uow.announce(
        Event.CONVERSATION_HANDOFF,
        conversation_id=str(ctx.conversation.id),
        reason=reason,
        run_id=str(ctx.run.id),
    )
    await _journal(uow, ctx.run, step_id, "handoff", "handed_off", reason=reason)


def _wait_for(uow: UnitOfWork, ctx: Context, step: d.AnyStep, waiting: Waiting) -> None:
    run = ctx.run
    run.step_id = step.id
    run.waiting = waiting.value
    run.waiting_since = uow.now
    run.updated_at = uow.now
    if waiting is Waiting.ANSWER:
        run.nudged_at = None
        run.wake_at = uow.now + timedelta(minutes=ctx.flow.nudge_after_minutes)
    elif waiting is Waiting.TIMER:
        assert isinstance(step, d.WaitStep)
        run.wake_at = uow.now + timedelta(seconds=step.seconds)
    else:
        run.wake_at = None


async def _ask(
    uow: UnitOfWork, ctx: Context, step: d.AskStep | d.ChooseStep, prefix: str = ""
) -> uuid.UUID | None:
    """Send a question (after `prefix`, a hint): a choice as buttons or a list when its
    Content exists and the window is open (flows/content.py), else as numbered text."""

    def after_hint(text: str) -> str:
        return f"{prefix}\n\n{text}" if prefix else text

    if not isinstance(step, d.ChooseStep):
        return await _say(uow, ctx, after_hint(fill(step.text, ctx.run.answers)))
    numbered = after_hint(choice_text(step, ctx.run.answers))
    sid = (
        await content.content_sid(
            uow, ctx.run.flow_id, ctx.run.version, ctx.conversation.channel_id, step.id
        )
        if ctx.run.version is not None  # a trial's draft has no Content made
        else ""
    )
    if sid and window_state(ctx.conversation.last_inbound_at, uow.now).is_open:
        body = after_hint(fill(step.text, ctx.run.answers).strip() or step.title)
        message = await conversations.send(
            uow,
            None,
            ctx.conversation.id,
            Outgoing(
                content_sid=sid,
                content_variables={"1": body, "2": numbered},
                preview_text=numbered,
            ),
        )
        return message.id
    return await _say(uow, ctx, numbered)


def _branch(ctx: Context, step: d.BranchStep, is_open: bool | None) -> str | None:
    if step.on is d.BranchOn.ANSWER:
        value = str(ctx.run.answers.get(step.name, ""))
    elif step.on is d.BranchOn.CONTACT_FIELD:
        value = str(getattr(ctx.contact, step.name, "") or "")
    elif step.on is d.BranchOn.TAG:
        value = "yes" if step.name.lower() in [t.lower() for t in ctx.contact.tags] else "no"
    else:
        value = "open" if is_open else "closed"
    for case in step.cases:
        if case.equals.strip().lower() == value.strip().lower():
            return case.next
    return step.default


async def _round_robin(uow: UnitOfWork) -> uuid.UUID | None:
    """The active member with the fewest open conversations (the longest-standing first on a
    tie): over a day, new customers spread evenly."""
    load = (
        select(func.count())
        .where(
            Conversation.tenant_id == uow.tenant_id,
            Conversation.assignee_id == User.id,
            Conversation.status == ConversationStatus.OPEN,
        )
        .correlate(User)
        .scalar_subquery()
    )
    return await uow.session.scalar(
        select(User.id)
        .where(User.tenant_id == uow.tenant_id, User.is_active.is_(True))
        .where(User.removed_at.is_(None))
        .order_by(load, User.created_at)
        .limit(1)
    )


async def _assign(uow: UnitOfWork, ctx: Context, step: d.AssignStep) -> str:
    if step.to == "member" and step.member_id is not None:
        member = await uow.session.get(User, (uow.tenant_id, step.member_id))
        assignee = member.id if member is not None and member.is_active else None
    else:
        assignee = await _round_robin(uow)
    if assignee is None:
        return "nobody available"
    if ctx.conversation.assignee_id != assignee:
        name = await uow.session.scalar(select(User.name).where(User.id == assignee))
        ctx.conversation.assignee_id = assignee
        data = {"assignee_id": str(assignee), "assignee_name": name or ""}
        conversations.record_event(uow, ctx.conversation.id, EventKind.ASSIGNED, None, data=data)
        uow.announce(Event.CONVERSATION_ASSIGNED, conversation_id=str(ctx.conversation.id), **data)
    return str(assignee)


async def _lead(uow: UnitOfWork, ctx: Context, step: d.LeadStep) -> uuid.UUID:
    values: dict[str, Any] = {}
    for field, answer in step.fields.items():
        value = ctx.run.answers.get(answer)
        if value is None:
            continue
        if field is d.LeadField.PHOTOS:
            values["photos"] = value if isinstance(value, list) else []
        elif field is d.LeadField.ESTIMATED_VALUE:
            number = answers.parse_number(str(value))
            if number is not None:
                values["estimated_value"] = str(number)
        elif field is d.LeadField.NOTES:
            continue  # notes are the answers themselves, kept whole below
        else:
            values[field.value] = str(value)[:200]
    referral = ctx.run.answers.get("_referral")
    lead = await leads.create_or_update(
        uow,
        ctx.contact.id,
        source=LeadSource.AD if referral else LeadSource.FLOW,
        conversation_id=ctx.conversation.id,
        referral=referral if isinstance(referral, dict) else None,
        answers={k: v for k, v in ctx.run.answers.items() if not k.startswith("_")},
        **values,
    )
    ctx.run.lead_id = lead.id
    return lead.id


async def walk(uow: UnitOfWork, ctx: Context, step_id: str | None) -> None:
    """Do steps from `step_id` until one waits (an answer, the clock, a webhook) or the run
    ends. Every send goes out in this transaction."""
    run = ctx.run
    is_open: bool | None = None
    for _ in range(MAX_STEPS_AT_ONCE):
        step = ctx.step(step_id)
        if step is None:
            _finish(uow, run, RunStatus.COMPLETED, "")
            return
        run.step_id = step.id
        run.tries = 0
        try:
            match step:
                case d.SendStep():
                    sent = await _say(uow, ctx, fill(step.text, run.answers))
                    await _journal(uow, run, step.id, step.kind, "sent", message_id=sent)
                case d.AskStep() | d.ChooseStep():
                    sent = await _ask(uow, ctx, step)
                    _wait_for(uow, ctx, step, Waiting.ANSWER)
                    await _journal(uow, run, step.id, step.kind, "asked", message_id=sent)
                    return
                case d.BranchStep():
                    if step.on is d.BranchOn.BUSINESS_HOURS and is_open is None:
                        is_open = await open_at(uow, uow.now)
                    target = _branch(ctx, step, is_open)
                    await _journal(uow, run, step.id, step.kind, "branched", to=target)
                    if target is None:
                        _finish(uow, run, RunStatus.COMPLETED, "")
                        return
                    step_id = target
                    continue
                case d.SetFieldStep():
                    value = fill(step.value, run.answers)
                    if step.field in d.CONTACT_FIELDS:
                        limit = FIELD_LIMITS.get(step.field)
                        setattr(ctx.contact, step.field, value[:limit] if limit else value)
                        ctx.contact.updated_at = uow.now
                    await _journal(uow, run, step.id, step.kind, "set", field=step.field)
                case d.TagStep():
                    tags = [t for t in ctx.contact.tags if t.lower() != step.tag.lower()]
                    ctx.contact.tags = tags if step.remove else [*tags, step.tag]
                    await _journal(uow, run, step.id, step.kind, "tagged", tag=step.tag)
                case d.LeadStep():
                    lead_id = await _lead(uow, ctx, step)
                    await _journal(uow, run, step.id, step.kind, "lead", lead_id=str(lead_id))
                case d.AssignStep():
                    who = await _assign(uow, ctx, step)
                    await _journal(uow, run, step.id, step.kind, "assigned", to=who)
                case d.NotifyStep():
                    note = fill(step.text, run.answers) or "A flow asks for the team's attention."
                    conversations.record_event(
                        uow, ctx.conversation.id, EventKind.NOTE, None, body=note
                    )
                    uow.announce(
                        Event.CONVERSATION_HANDOFF,
                        conversation_id=str(ctx.conversation.id),
                        reason=note,
                        run_id=str(run.id),
                    )
                    await _journal(uow, run, step.id, step.kind, "notified")
                case d.WaitStep():
                    _wait_for(uow, ctx, step, Waiting.TIMER)
                    await _journal(uow, run, step.id, step.kind, "waiting", seconds=step.seconds)
                    return
                case d.WebhookStep():
                    _wait_for(uow, ctx, step, Waiting.WEBHOOK)
                    uow.defer_job(
                        WEBHOOK_TASK,
                        tenant_id=str(uow.tenant_id),
                        run_id=str(run.id),
                        step_id=step.id,
                    )
                    await _journal(uow, run, step.id, step.kind, "calling")
                    return
                case d.HandoffStep():
                    await _say(uow, ctx, fill(step.text, run.answers))
                    await _hand_off(uow, ctx, step.id, "the flow hands this conversation over")
                    return
                case d.EndStep():
                    sent = await _say(uow, ctx, fill(step.text, run.answers))
                    _finish(uow, run, RunStatus.COMPLETED, "")
                    await _journal(uow, run, step.id, step.kind, "ended", message_id=sent)
                    return
        except DomainError as exc:
            # The window closed while the run waited (or the number is gone): no free text may
            # go, so a person takes over (flows have no approved templates of their own yet).
            await _hand_off(uow, ctx, step.id, f"a message could not be sent ({exc.message})")
            return
        step_id = ctx.after(step)
    await _hand_off(uow, ctx, str(run.step_id), "the flow went round without waiting")


WEBHOOK_TASK = "flows.call_webhook"
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


async def _lock_conversation(uow: UnitOfWork, conversation_id: uuid.UUID) -> None:
    await uow.session.execute(
        LOCK_CONVERSATION, {"tenant_id": str(uow.tenant_id), "id": str(conversation_id)}
    )


async def start(
    uow: UnitOfWork,
    version: FlowVersion | Trial,
    conversation: Conversation,
    *,
    trigger: str,
    started_by: uuid.UUID | None = None,
    seed: dict[str, Any] | None = None,
) -> FlowRun:
    """Begin a run on `version` (or a trial's draft) and walk it to its first pause."""
    assert uow.tenant_id is not None
    trial = version if isinstance(version, Trial) else None
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
    ctx = await _context(uow, run)
    await _journal(uow, run, "start", "start", "started", trigger=trigger)
    uow.announce(
        Event.FLOW_RUN_CHANGED,
        conversation_id=str(conversation.id),
        run_id=str(run.id),
        status=run.status,
    )
    await walk(uow, ctx, ctx.flow.steps[0].id if ctx.flow.steps else None)
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
        flow = parsed(version)
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
    await _journal(uow, run, str(run.step_id or "start"), "pause", "paused", reason=reason)
    conversations.record_event(
        uow, run.conversation_id, EventKind.NOTE, None, body=f"Flow paused: {reason}"
    )
    uow.announce(
        Event.FLOW_RUN_CHANGED,
        conversation_id=str(run.conversation_id),
        run_id=str(run.id),
        status=run.status,
    )


async def _answer(uow: UnitOfWork, ctx: Context, inbound: Inbound) -> None:
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
            await _journal(uow, run, step.id, step.kind, "answered", inbound_message_id=message_id)
            await walk(uow, ctx, ctx.after(step))
            return
        await _retry(uow, ctx, step, message_id, checked.hint, step.max_tries)
        return
    if isinstance(step, d.ChooseStep):
        option = match_option(step, inbound)
        if option is not None:
            if step.save_as:
                run.answers = {
                    **run.answers,
                    step.save_as: option.title,
                    f"{step.save_as}_id": option.id,
                }
            await _journal(
                uow,
                run,
                step.id,
                step.kind,
                "chose",
                inbound_message_id=message_id,
                option=option.id,
            )
            await walk(uow, ctx, option.next or ctx.after(step))
            return
        await _retry(uow, ctx, step, message_id, CHOICE_HINT, 3)
        return
    # Waiting on the clock or a webhook: the message is the team's to read; the run goes on.
    await _journal(uow, run, str(run.step_id), "message", "ignored", inbound_message_id=message_id)


async def _retry(
    uow: UnitOfWork,
    ctx: Context,
    step: d.AskStep | d.ChooseStep,
    message_id: uuid.UUID,
    hint: str,
    max_tries: int,
) -> None:
    run = ctx.run
    tries = run.tries + 1
    await _journal(
        uow, run, step.id, step.kind, "invalid", inbound_message_id=message_id, tries=tries
    )
    if tries >= max_tries:
        await _hand_off(uow, ctx, step.id, f"no valid answer to “{step.title}” after {tries} tries")
        return
    await _ask(uow, ctx, step, prefix=hint)
    run.tries = tries
    run.waiting_since = uow.now
    run.updated_at = uow.now
    run.wake_at = uow.now + timedelta(minutes=ctx.flow.nudge_after_minutes)


async def on_inbound(uow: UnitOfWork, inbound: Inbound) -> None:
    """The inbound pipeline's flow handler (after consent's): answer the live run, or start
    the flow this message triggers. Never messages a contact who opted out."""
    conversation = inbound.conversation
    if consent.parse(inbound.body) is not None:
        return  # STOP / START: consent's to confirm, never an answer
    await _lock_conversation(uow, conversation.id)
    run = await live_run(uow, conversation.id, lock=True)
    opted_out = await consent.opted_out(uow, conversation.contact_id)
    if run is not None:
        if run.status != RunStatus.RUNNING.value:
            return  # paused: a person has the thread
        if opted_out:
            _finish(uow, run, RunStatus.STOPPED, "the customer opted out")
            return
        if await _agent_replied_since(uow, run):
            await pause(uow, run, "a team member replied")
            return
        try:
            await _answer(uow, await _context(uow, run), inbound)
        except DomainError as exc:
            log.warning("flow answer not taken", run_id=str(run.id), reason=exc.message)
        return
    if opted_out:
        return
    trial = await _armed_trial(uow, conversation)
    if trial is not None:
        await start(uow, trial, conversation, trigger="trial", started_by=trial.member_id)
        return
    found = await triggered(uow, inbound)
    if found is None:
        return
    version, trigger = found
    referral = inbound.referral
    seed = {"_referral": referral.__dict__} if referral is not None else None
    await start(uow, version, conversation, trigger=trigger, seed=seed)


# ---- trials on the sandbox phone -----------------------------------------------------------

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


async def _armed_trial(uow: UnitOfWork, conversation: Conversation) -> Trial | None:
    armed = await get_setting(uow, TRIALS_KEY)
    if not armed:
        return None
    phone = await uow.session.scalar(
        select(Contact.phone_e164).where(
            Contact.tenant_id == uow.tenant_id, Contact.id == conversation.contact_id
        )
    )
    trial = armed.get(phone or "")
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


# ---- by hand, and the clock ---------------------------------------------------------------


async def start_by_hand(
    uow: UnitOfWork, member_id: uuid.UUID, conversation_id: uuid.UUID, flow_id: uuid.UUID
) -> FlowRun:
    """An agent starts a published flow in a thread (refused with the reason when it can't)."""
    conversation = await conversations.get_for_update(uow, conversation_id)
    await _lock_conversation(uow, conversation.id)
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
    ctx = await _context(uow, run)
    await _journal(uow, run, str(run.step_id), "resume", "resumed")
    uow.announce(
        Event.FLOW_RUN_CHANGED,
        conversation_id=str(run.conversation_id),
        run_id=str(run.id),
        status=run.status,
    )
    await walk(uow, ctx, run.step_id)
    return run


async def stop(uow: UnitOfWork, conversation_id: uuid.UUID, who: str) -> FlowRun:
    run = await live_run(uow, conversation_id, lock=True)
    if run is None:
        raise FlowNotStarted("No flow is running here.", field="run")
    _finish(uow, run, RunStatus.STOPPED, f"stopped by {who}")
    await _journal(uow, run, str(run.step_id or "start"), "stop", "stopped", by=who)
    return run


async def wake(uow: UnitOfWork, run: FlowRun) -> None:
    """The clock for one due run (locked by the caller): a wait ends, or silence is nudged
    once and then abandoned."""
    if await _agent_replied_since(uow, run):
        await pause(uow, run, "a team member replied")
        return
    ctx = await _context(uow, run)
    if run.waiting == Waiting.TIMER.value:
        step = ctx.step(run.step_id)
        await _journal(uow, run, str(run.step_id), "wait", "woke")
        await walk(uow, ctx, ctx.after(step) if step is not None else None)
        return
    if run.waiting != Waiting.ANSWER.value:
        run.wake_at = None
        return
    if run.nudged_at is None:
        run.nudged_at = uow.now
        run.wake_at = uow.now + timedelta(minutes=ctx.flow.nudge_after_minutes)
        try:
            sent = await _say(uow, ctx, ctx.flow.nudge_text or NUDGE_TEXT)
        except DomainError:
            sent = None  # the window closed: abandon at the next wake, unnudged
        await _journal(uow, run, str(run.step_id), "nudge", "nudged", message_id=sent)
        return
    _finish(uow, run, RunStatus.ABANDONED, "the customer went silent")
    await _journal(uow, run, str(run.step_id), "nudge", "abandoned")


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
    ctx = await _context(uow, run)
    step = ctx.step(step_id)
    assert isinstance(step, d.WebhookStep)
    saved = {}
    for field, answer in step.answers.items():
        if reply is not None and isinstance(reply.get(field), str | int | float | bool):
            saved[answer] = str(reply[field])
    run.answers = {**run.answers, **saved}
    await _journal(
        uow,
        run,
        step.id,
        step.kind,
        "called" if reply is not None else "failed",
        saved=sorted(saved),
    )
    await walk(uow, ctx, ctx.after(step))
