"""A lead's rules: create (by hand, or by the flow engine with `create_or_update`), edit,
move between stages, list with filters. Every change announces (`lead.created`,
`lead.stage_changed`: durable events, so webhooks and notifications follow once).

Stages go `new → contacted → quoted → won / lost`. A person moves a lead along `MOVES`; a
lost lead needs a reason and can be reopened. What the system knows for sure (a quote made
from the lead, the customer accepting it) moves it by itself (`system=True`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select

from clientcompass.auth.principal import Principal
from clientcompass.db import UnitOfWork
from clientcompass.errors import InvalidInput, NotFound
from clientcompass.leads.schemas import (
    LeadDetail,
    LeadFields,
    LeadIn,
    LeadOut,
    LeadPatch,
    StageChangeOut,
    format_rand,
)
from clientcompass.models import (
    Contact,
    Conversation,
    Document,
    Lead,
    LeadSource,
    LeadStage,
    LeadStageChange,
    User,
)
from clientcompass.names import display_name
from clientcompass.realtime.bus import Event

OPEN_STAGES = (LeadStage.NEW, LeadStage.CONTACTED, LeadStage.QUOTED)
MOVES: dict[LeadStage, frozenset[LeadStage]] = {
    LeadStage.NEW: frozenset({LeadStage.CONTACTED, LeadStage.QUOTED, LeadStage.LOST}),
    LeadStage.CONTACTED: frozenset({LeadStage.QUOTED, LeadStage.WON, LeadStage.LOST}),
    LeadStage.QUOTED: frozenset({LeadStage.WON, LeadStage.LOST}),
    LeadStage.WON: frozenset(),
    LeadStage.LOST: frozenset({LeadStage.NEW}),
}
STAGE_LABELS = {
    LeadStage.NEW: "New",
    LeadStage.CONTACTED: "Contacted",
    LeadStage.QUOTED: "Quoted",
    LeadStage.WON: "Won",
    LeadStage.LOST: "Lost",
}
SOURCE_LABELS = {
    LeadSource.FLOW: "Flow",
    LeadSource.AD: "Ad",
    LeadSource.MANUAL: "Manual",
    LeadSource.IMPORT: "Import",
}
MAX_LIST = 500


@dataclass(frozen=True)
class Filters:
    stage: LeadStage | None = None
    source: LeadSource | None = None
    owner_id: uuid.UUID | None = None
    text: str = ""


def lead_out(lead: Lead, contact: Contact) -> LeadOut:
    return LeadOut(
        id=lead.id,
        contact_id=lead.contact_id,
        contact_name=display_name(contact.name, contact.profile_name, contact.phone_e164),
        contact_phone=contact.phone_e164,
        conversation_id=lead.conversation_id,
        source=lead.source,
        stage=lead.stage,
        service=lead.service,
        suburb=lead.suburb,
        urgency=lead.urgency,
        photos=[str(photo) for photo in lead.photos],
        answers=lead.answers,
        estimated_value_cents=lead.estimated_value_cents,
        estimated_value=format_rand(lead.estimated_value_cents),
        owner_id=lead.owner_id,
        lost_reason=lead.lost_reason,
        referral=lead.referral,
        created_at=lead.created_at,
        updated_at=lead.updated_at,
        stage_changed_at=lead.stage_changed_at,
        first_reply_at=lead.first_reply_at,
    )


async def get_lead(uow: UnitOfWork, lead_id: uuid.UUID, *, for_update: bool = False) -> Lead:
    assert uow.tenant_id is not None
    query = select(Lead).where(Lead.tenant_id == uow.tenant_id, Lead.id == lead_id)
    if for_update:
        query = query.with_for_update()
    lead = await uow.session.scalar(query)
    if lead is None:
        raise NotFound("That lead does not exist.")
    return lead


async def _contact(uow: UnitOfWork, contact_id: uuid.UUID, *, lock: bool = False) -> Contact:
    assert uow.tenant_id is not None
    query = select(Contact).where(Contact.tenant_id == uow.tenant_id, Contact.id == contact_id)
    if lock:
        query = query.with_for_update()
    contact = await uow.session.scalar(query)
    if contact is None:
        raise InvalidInput("That contact does not exist.", field="contact_id")
    return contact


async def _check_owner(uow: UnitOfWork, owner_id: uuid.UUID | None) -> None:
    if owner_id is None:
        return
    member = await uow.session.scalar(
        select(User.id).where(
            User.tenant_id == uow.tenant_id, User.id == owner_id, User.is_active.is_(True)
        )
    )
    if member is None:
        raise InvalidInput("Choose a member of your team as the owner.", field="owner_id")


async def _check_conversation(
    uow: UnitOfWork, conversation_id: uuid.UUID | None, contact_id: uuid.UUID
) -> None:
    if conversation_id is None:
        return
    found = await uow.session.scalar(
        select(Conversation.id).where(
            Conversation.tenant_id == uow.tenant_id,
            Conversation.id == conversation_id,
            Conversation.contact_id == contact_id,
        )
    )
    if found is None:
        raise InvalidInput("That conversation is not this contact's.", field="conversation_id")


def _record(
    uow: UnitOfWork,
    lead: Lead,
    to: LeadStage,
    *,
    actor: Principal | None,
    reason: str = "",
    from_stage: str | None = None,
) -> None:
    uow.session.add(
        LeadStageChange(
            tenant_id=lead.tenant_id,
            id=uuid.uuid4(),
            lead_id=lead.id,
            from_stage=from_stage,
            to_stage=to.value,
            reason=reason,
            actor_id=actor.user_id if actor else None,
            at=uow.now,
        )
    )


async def create(uow: UnitOfWork, actor: Principal | None, data: LeadIn) -> Lead:
    """A new lead in stage `new`; announces `lead.created`."""
    assert uow.tenant_id is not None
    contact = await _contact(uow, data.contact_id)
    await _check_conversation(uow, data.conversation_id, contact.id)
    await _check_owner(uow, data.owner_id)
    lead = Lead(
        tenant_id=uow.tenant_id,
        id=uuid.uuid4(),
        contact_id=contact.id,
        conversation_id=data.conversation_id,
        source=data.source.value,
        stage=LeadStage.NEW.value,
        service=data.service,
        suburb=data.suburb,
        urgency=data.urgency,
        photos=[str(photo) for photo in data.photos],
        answers=data.answers,
        estimated_value_cents=data.estimated_value,
        owner_id=data.owner_id,
        lost_reason="",
        referral=data.referral,
        created_at=uow.now,
        updated_at=uow.now,
        stage_changed_at=uow.now,
    )
    uow.session.add(lead)
    await uow.session.flush()
    _record(uow, lead, LeadStage.NEW, actor=actor)
    await uow.session.flush()
    uow.announce(
        Event.LEAD_CREATED,
        lead_id=str(lead.id),
        contact_id=str(lead.contact_id),
        conversation_id=str(lead.conversation_id or ""),
        source=lead.source,
        stage=lead.stage,
    )
    return lead


async def create_or_update(
    uow: UnitOfWork,
    contact_id: uuid.UUID,
    *,
    source: LeadSource,
    conversation_id: uuid.UUID | None = None,
    referral: dict[str, Any] | None = None,
    actor: Principal | None = None,
    **fields: Any,
) -> Lead:
    """For the flow engine: the contact's open lead takes the new answers (photos added,
    answers merged, other given fields replaced), or a new lead is made. The contact row is
    locked first, so two runs for one customer cannot make two leads."""
    await _contact(uow, contact_id, lock=True)
    given = LeadFields.model_validate(fields)
    lead = await uow.session.scalar(
        select(Lead)
        .where(
            Lead.tenant_id == uow.tenant_id,
            Lead.contact_id == contact_id,
            Lead.stage.in_([stage.value for stage in OPEN_STAGES]),
        )
        .order_by(Lead.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    if lead is None:
        data = LeadIn.model_validate(
            {
                **given.model_dump(include=given.model_fields_set - {"estimated_value"}),
                # As given (rand): LeadIn reads it into cents itself, once.
                "estimated_value": fields.get("estimated_value"),
                "contact_id": contact_id,
                "conversation_id": conversation_id,
                "source": source,
                "referral": referral,
            }
        )
        return await create(uow, actor, data)
    await _check_owner(uow, given.owner_id)
    for name in ("service", "suburb", "urgency", "owner_id"):
        if name in given.model_fields_set:
            setattr(lead, name, getattr(given, name))
    if "estimated_value" in given.model_fields_set:
        lead.estimated_value_cents = given.estimated_value
    if given.photos:
        lead.photos = list(dict.fromkeys([*lead.photos, *(str(p) for p in given.photos)]))
    if given.answers:
        lead.answers = {**lead.answers, **given.answers}
    if conversation_id is not None and lead.conversation_id is None:
        await _check_conversation(uow, conversation_id, contact_id)
        lead.conversation_id = conversation_id
    if referral and not lead.referral:
        lead.referral = referral
    lead.updated_at = uow.now
    await uow.session.flush()
    return lead


async def update(
    uow: UnitOfWork, actor: Principal | None, lead_id: uuid.UUID, data: LeadPatch
) -> Lead:
    """Change only what was sent."""
    lead = await get_lead(uow, lead_id, for_update=True)
    sent = data.model_fields_set
    if "owner_id" in sent:
        await _check_owner(uow, data.owner_id)
        lead.owner_id = data.owner_id
    for name in ("service", "suburb", "urgency"):
        if name in sent:
            setattr(lead, name, getattr(data, name) or "")
    if "photos" in sent:
        lead.photos = [str(photo) for photo in data.photos or []]
    if "answers" in sent:
        lead.answers = data.answers or {}
    if "estimated_value" in sent:
        lead.estimated_value_cents = data.estimated_value
    lead.updated_at = uow.now
    await uow.session.flush()
    return lead


async def move_stage(
    uow: UnitOfWork,
    actor: Principal | None,
    lead_id: uuid.UUID,
    stage: LeadStage,
    reason: str = "",
    *,
    system: bool = False,
) -> Lead:
    """Move along `MOVES` (or anywhere but backwards into an open stage, for `system`);
    moving to the stage it is in changes nothing. Announces `lead.stage_changed`."""
    lead = await get_lead(uow, lead_id, for_update=True)
    current = LeadStage(lead.stage)
    if current is stage:
        return lead
    reason = reason.strip()
    if not system and stage not in MOVES[current]:
        allowed = ", ".join(STAGE_LABELS[s].lower() for s in sorted(MOVES[current])) or "nothing"
        raise InvalidInput(
            f"A {current.value} lead can't move to {stage.value} (it can move to: {allowed}).",
            field="stage",
        )
    if stage is LeadStage.LOST and not reason:
        raise InvalidInput("Say why the lead was lost.", field="reason")
    lead.stage = stage.value
    lead.lost_reason = reason if stage is LeadStage.LOST else ""
    lead.stage_changed_at = uow.now
    lead.updated_at = uow.now
    _record(uow, lead, stage, actor=actor, reason=reason, from_stage=current.value)
    await uow.session.flush()
    uow.announce(
        Event.LEAD_STAGE_CHANGED,
        lead_id=str(lead.id),
        contact_id=str(lead.contact_id),
        from_stage=current.value,
        to_stage=stage.value,
        reason=reason,
    )
    return lead


async def mark_quoted(
    uow: UnitOfWork, actor: Principal | None, lead_id: uuid.UUID, quote: Document
) -> None:
    """A quote was made from the lead: it carries the lead, and a lead still before `quoted`
    moves there."""
    try:
        lead = await get_lead(uow, lead_id, for_update=True)
    except NotFound as exc:
        raise InvalidInput(exc.message, field="lead_id") from exc
    quote.lead_id = lead.id
    if LeadStage(lead.stage) in (LeadStage.NEW, LeadStage.CONTACTED):
        await move_stage(uow, actor, lead.id, LeadStage.QUOTED, system=True)


def _conditions(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.stage is not None:
        conditions.append(Lead.stage == filters.stage.value)
    if filters.source is not None:
        conditions.append(Lead.source == filters.source.value)
    if filters.owner_id is not None:
        conditions.append(Lead.owner_id == filters.owner_id)
    words = filters.text.strip()
    if words:
        like = "%" + words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        digits = "".join(ch for ch in words if ch.isdigit())
        matches: list[ColumnElement[bool]] = [
            Lead.service.ilike(like),
            Lead.suburb.ilike(like),
            Contact.name.ilike(like),
            Contact.profile_name.ilike(like),
        ]
        if len(digits) >= 3:
            matches.append(Contact.phone_e164.contains(digits.lstrip("0")))
        conditions.append(or_(*matches))
    return conditions


async def list_leads(
    uow: UnitOfWork, filters: Filters = Filters(), *, limit: int = 100
) -> list[LeadOut]:
    """Newest first, up to `limit`."""
    assert uow.tenant_id is not None
    query = (
        select(Lead, Contact)
        .join(Contact, (Contact.tenant_id == Lead.tenant_id) & (Contact.id == Lead.contact_id))
        .where(Lead.tenant_id == uow.tenant_id)
        .order_by(Lead.created_at.desc(), Lead.id)
        .limit(min(limit, MAX_LIST))
    )
    rows = await uow.session.execute(query.where(*_conditions(filters)))
    return [lead_out(lead, contact) for lead, contact in rows]


async def get_detail(uow: UnitOfWork, lead_id: uuid.UUID) -> LeadDetail:
    lead = await get_lead(uow, lead_id)
    contact = await _contact(uow, lead.contact_id)
    history = await uow.session.scalars(
        select(LeadStageChange)
        .where(LeadStageChange.tenant_id == lead.tenant_id, LeadStageChange.lead_id == lead.id)
        .order_by(LeadStageChange.at, LeadStageChange.id)
    )
    quotes = await uow.session.scalars(
        select(Document.id)
        .where(Document.tenant_id == lead.tenant_id, Document.lead_id == lead.id)
        .order_by(Document.created_at)
    )
    return LeadDetail(
        **lead_out(lead, contact).model_dump(),
        history=[StageChangeOut.model_validate(change) for change in history],
        quote_ids=list(quotes),
    )


async def members(uow: UnitOfWork) -> list[tuple[uuid.UUID, str]]:
    """Who may own a lead: the active members, by name."""
    rows = await uow.session.execute(
        select(User.id, User.name)
        .where(User.tenant_id == uow.tenant_id, User.is_active.is_(True))
        .order_by(User.name)
    )
    return [(row.id, row.name) for row in rows]


async def count_open(uow: UnitOfWork) -> int:
    return int(
        await uow.session.scalar(
            select(func.count())
            .select_from(Lead)
            .where(
                Lead.tenant_id == uow.tenant_id,
                Lead.stage.in_([stage.value for stage in OPEN_STAGES]),
            )
        )
        or 0
    )


@dataclass(frozen=True)
class QuotePrefill:
    """What "Create quote from lead" puts in the quote editor."""

    lead_id: uuid.UUID
    contact_id: uuid.UUID
    service_address: str
    job_description: str
    photos: list[str]


def _answer_text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


async def quote_prefill(uow: UnitOfWork, lead_id: uuid.UUID) -> QuotePrefill:
    """The customer, where the job is (their address and the lead's suburb) and the job
    (the service, then each answer on its own line)."""
    lead = await get_lead(uow, lead_id)
    contact = await _contact(uow, lead.contact_id)
    address = contact.address.strip()
    if lead.suburb and lead.suburb.lower() not in address.lower():
        address = f"{address}\n{lead.suburb}" if address else lead.suburb
    parts = [lead.service] if lead.service else []
    parts += [
        f"{str(key).replace('_', ' ').capitalize()}: {_answer_text(value)}"
        for key, value in lead.answers.items()
        if value not in (None, "", [])
    ]
    if lead.urgency:
        parts.append(f"Urgency: {lead.urgency}")
    return QuotePrefill(
        lead_id=lead.id,
        contact_id=lead.contact_id,
        service_address=address[:1000],
        job_description="\n".join(parts)[:2000],
        photos=[str(photo) for photo in lead.photos],
    )
