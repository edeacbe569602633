"""Doing a flow's steps: from a step to the next pause (a question, the clock, a webhook) or
the end, every message sent with `conversations.send()` in the caller's transaction.

The caller (runtime.py) holds the run's row lock; this module only walks the pinned
definition, writes the journal and changes the run, its conversation and contact.
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
from sqlalchemy import func, select

from clientcompass.business.hours import DEFAULT_TIMEZONE, open_at
from clientcompass.conversations import service as conversations
from clientcompass.conversations.inbound import Inbound
from clientcompass.conversations.window import window_state
from clientcompass.db import UnitOfWork
from clientcompass.errors import DomainError, NotFound
from clientcompass.flows import answers, content
from clientcompass.flows import definition as d
from clientcompass.leads import service as leads
from clientcompass.models import (
    BusinessProfile,
    Contact,
    Conversation,
    ConversationStatus,
    EventKind,
    FlowRun,
    FlowRunStep,
    FlowVersion,
    RunStatus,
    User,
)
from clientcompass.models.flows import Waiting
from clientcompass.models.leads import LeadSource
from clientcompass.realtime.bus import Event
from clientcompass.whatsapp.outbound import Outgoing

log = structlog.get_logger(__name__)

# A step list is walked at most this far in one go: validate.py refuses loops without a
# pausing step, so this is only a guard against a definition that slipped past it.
MAX_STEPS_AT_ONCE = 50
# What a contact's columns hold (a set_field never fails on a long answer).
FIELD_LIMITS = {"name": 200, "email": 254}
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,39})\}")
WEBHOOK_TASK = "flows.call_webhook"


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


async def zone_of(uow: UnitOfWork) -> ZoneInfo:
    name = await uow.session.scalar(
        select(BusinessProfile.timezone).where(BusinessProfile.tenant_id == uow.tenant_id)
    )
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (KeyError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


async def context_of(uow: UnitOfWork, run: FlowRun) -> Context:
    conversation = await uow.session.get(Conversation, (uow.tenant_id, run.conversation_id))
    contact = await uow.session.get(Contact, (uow.tenant_id, run.contact_id))
    if conversation is None or contact is None:  # pragma: no cover - cascades delete the run
        raise NotFound("That conversation no longer exists.")
    return Context(run, await definition_of(uow, run), conversation, contact, await zone_of(uow))


async def journal(
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


async def say(uow: UnitOfWork, ctx: Context, body: str) -> uuid.UUID | None:
    """Send through the one send path; None (and the run handed off) when it cannot go:
    the 24-hour window closed while the run waited, or the number was disconnected."""
    if not body.strip():
        return None
    message = await conversations.send(uow, None, ctx.conversation.id, Outgoing(body=body))
    return message.id


def finish(uow: UnitOfWork, run: FlowRun, status: RunStatus, reason: str) -> None:
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


async def hand_off(uow: UnitOfWork, ctx: Context, step_id: str, reason: str) -> None:
    """Give the thread to a person: the run ends, the team is told (push and email by
    their choices: the durable `conversation.handoff` event)."""
    finish(uow, ctx.run, RunStatus.HANDED_OFF, reason)
    conversations.record_event(
        uow, ctx.conversation.id, EventKind.NOTE, None, body=f"Flow handed over: {reason}"
    )
    uow.announce(
        Event.CONVERSATION_HANDOFF,
        conversation_id=str(ctx.conversation.id),
        reason=reason,
        run_id=str(ctx.run.id),
    )
    await journal(uow, ctx.run, step_id, "handoff", "handed_off", reason=reason)


def wait_for(uow: UnitOfWork, ctx: Context, step: d.AnyStep, waiting: Waiting) -> None:
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


async def ask(
    uow: UnitOfWork, ctx: Context, step: d.AskStep | d.ChooseStep, prefix: str = ""
) -> uuid.UUID | None:
    """Send a question (after `prefix`, a hint): a choice as buttons or a list when its
    Content exists and the window is open (flows/content.py), else as numbered text."""

    def after_hint(text: str) -> str:
        return f"{prefix}\n\n{text}" if prefix else text

    if not isinstance(step, d.ChooseStep):
        return await say(uow, ctx, after_hint(fill(step.text, ctx.run.answers)))
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
    return await say(uow, ctx, numbered)


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
            finish(uow, run, RunStatus.COMPLETED, "")
            return
        run.step_id = step.id
        run.tries = 0
        try:
            match step:
                case d.SendStep():
                    sent = await say(uow, ctx, fill(step.text, run.answers))
                    await journal(uow, run, step.id, step.kind, "sent", message_id=sent)
                case d.AskStep() | d.ChooseStep():
                    sent = await ask(uow, ctx, step)
                    wait_for(uow, ctx, step, Waiting.ANSWER)
                    await journal(uow, run, step.id, step.kind, "asked", message_id=sent)
                    return
                case d.BranchStep():
                    if step.on is d.BranchOn.BUSINESS_HOURS and is_open is None:
                        is_open = await open_at(uow, uow.now)
                    target = _branch(ctx, step, is_open)
                    await journal(uow, run, step.id, step.kind, "branched", to=target)
                    if target is None:
                        finish(uow, run, RunStatus.COMPLETED, "")
                        return
                    step_id = target
                    continue
                case d.SetFieldStep():
                    value = fill(step.value, run.answers)
                    if step.field in d.CONTACT_FIELDS:
                        limit = FIELD_LIMITS.get(step.field)
                        setattr(ctx.contact, step.field, value[:limit] if limit else value)
                        ctx.contact.updated_at = uow.now
                    await journal(uow, run, step.id, step.kind, "set", field=step.field)
                case d.TagStep():
                    tags = [t for t in ctx.contact.tags if t.lower() != step.tag.lower()]
                    ctx.contact.tags = tags if step.remove else [*tags, step.tag]
                    await journal(uow, run, step.id, step.kind, "tagged", tag=step.tag)
                case d.LeadStep():
                    lead_id = await _lead(uow, ctx, step)
                    await journal(uow, run, step.id, step.kind, "lead", lead_id=str(lead_id))
                case d.AssignStep():
                    who = await _assign(uow, ctx, step)
                    await journal(uow, run, step.id, step.kind, "assigned", to=who)
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
                    await journal(uow, run, step.id, step.kind, "notified")
                case d.WaitStep():
                    wait_for(uow, ctx, step, Waiting.TIMER)
                    await journal(uow, run, step.id, step.kind, "waiting", seconds=step.seconds)
                    return
                case d.WebhookStep():
                    wait_for(uow, ctx, step, Waiting.WEBHOOK)
                    uow.defer_job(
                        WEBHOOK_TASK,
                        tenant_id=str(uow.tenant_id),
                        run_id=str(run.id),
                        step_id=step.id,
                    )
                    await journal(uow, run, step.id, step.kind, "calling")
                    return
                case d.HandoffStep():
                    await say(uow, ctx, fill(step.text, run.answers))
                    await hand_off(uow, ctx, step.id, "the flow hands this conversation over")
                    return
                case d.EndStep():
                    sent = await say(uow, ctx, fill(step.text, run.answers))
                    finish(uow, run, RunStatus.COMPLETED, "")
                    await journal(uow, run, step.id, step.kind, "ended", message_id=sent)
                    return
        except DomainError as exc:
            # The window closed while the run waited (or the number is gone): no free text may
            # go, so a person takes over (flows have no approved templates of their own yet).
            await hand_off(uow, ctx, step.id, f"a message could not be sent ({exc.message})")
            return
        step_id = ctx.after(step)
    await hand_off(uow, ctx, str(run.step_id), "the flow went round without waiting")
