"""Payment reminders on WhatsApp: N days before an invoice's due date, on it, N days after.

Each reminder happens once. Its slot is keyed on the invoice
(`reminder:before:2026-12-01`, the day it is for), and the reminder's `DocumentEvent` is
inserted with ON CONFLICT DO NOTHING before anything is queued, in the same transaction as
the outbound message: a second run, or two runs at once, find the key taken and queue
nothing. A reminder that cannot be sent (no approved template, a disabled number, a value
WhatsApp refuses) is recorded under the same key as skipped, with the reason, so it is not
retried every hour and the team can see why.

Reminders go out with an approved template, which WhatsApp allows outside the 24-hour
window. A customer with no conversation on the template's number gets one: the invoice's
contact has a phone number, and a business that set reminders up wants them reminded.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from clientcompass.auth.principal import Principal
from clientcompass.business import service as business
from clientcompass.config import Settings
from clientcompass.conversations import service as conversations
from clientcompass.db import UnitOfWork
from clientcompass.documents import public
from clientcompass.documents import settings as document_settings
from clientcompass.documents.listing import BALANCE
from clientcompass.documents.money import format_zar
from clientcompass.documents.render import display_date
from clientcompass.documents.service import Kind
from clientcompass.documents.settings import ReminderSettings
from clientcompass.documents.status import AWAITING_PAYMENT, balance_cents
from clientcompass.errors import DomainError, InvalidInput, NotFound
from clientcompass.models import (
    Channel,
    Document,
    DocumentEvent,
    MessageTemplate,
    TemplateStatus,
)
from clientcompass.whatsapp import templates
from clientcompass.whatsapp.template_rules import scan

log = structlog.get_logger(__name__)

# Customers are reminded in daytime, their business's local time (a run that finds a slot
# before this hour leaves it for a later run the same day).
SEND_FROM_HOUR = 8
SEND_UNTIL_HOUR = 20
# What each template value is filled with, by its number: {{1}} the customer's name, …
VALUE_LABELS = {
    "1": "customer name",
    "2": "invoice number",
    "3": "balance due",
    "4": "due date",
    "5": "your business name",
    "6": "link to the invoice",
}


class Slot(StrEnum):
    BEFORE = "before"
    DUE = "due"
    AFTER = "after"


def slot_key(slot: Slot, day: date) -> str:
    return f"reminder:{slot.value}:{day.isoformat()}"


def due_dates_today(reminders: ReminderSettings, today: date) -> dict[date, Slot]:
    """The due dates whose reminder falls today, and which slot each is."""
    wanted: dict[date, Slot] = {}
    if reminders.days_after:
        wanted[today - timedelta(days=reminders.days_after)] = Slot.AFTER
    if reminders.on_due_date:
        wanted[today] = Slot.DUE
    if reminders.days_before:
        wanted[today + timedelta(days=reminders.days_before)] = Slot.BEFORE
    return wanted


def in_sending_hours(local_now: datetime) -> bool:
    return SEND_FROM_HOUR <= local_now.hour < SEND_UNTIL_HOUR


@dataclass
class RunReport:
    """What one run did, for logs and tests."""

    queued: list[uuid.UUID] = field(default_factory=list)  # message ids
    skipped: dict[str, str] = field(default_factory=dict)  # invoice number → reason
    waiting: str = ""  # why the run did nothing at all


async def approved_templates(uow: UnitOfWork) -> list[MessageTemplate]:
    """The templates a reminder may use."""
    return await templates.list_templates(uow, status=TemplateStatus.APPROVED)


async def configure(uow: UnitOfWork, actor: Principal, reminders: ReminderSettings) -> None:
    """Save the schedule; switching reminders on needs an approved template."""
    actor.require_manager()
    if reminders.template_id is not None:
        try:
            template = await templates.get_template(uow, reminders.template_id)
        except NotFound as error:
            raise InvalidInput("That template does not exist.", field="template_id") from error
        if reminders.enabled and template.status is not TemplateStatus.APPROVED:
            raise InvalidInput(
                f"Choose a template WhatsApp has approved; this one is {template.status.value}.",
                field="template_id",
            )
    await document_settings.save_reminders(uow, actor, reminders)


async def _claim(uow: UnitOfWork, invoice: Document, key: str, slot: Slot) -> bool:
    """Take the reminder's slot; False when a run before this one took it."""
    statement = (
        insert(DocumentEvent)
        .values(
            tenant_id=invoice.tenant_id,
            id=uuid.uuid4(),
            document_id=invoice.id,
            kind="reminder",
            key=key,
            detail={"slot": slot.value},
            actor_id=None,
            at=uow.now,
        )
        .on_conflict_do_nothing(
            index_elements=[DocumentEvent.tenant_id, DocumentEvent.document_id, DocumentEvent.key],
            index_where=DocumentEvent.key.is_not(None),
        )
        .returning(DocumentEvent.id)
    )
    return (await uow.session.scalar(statement)) is not None


def template_values(
    settings: Settings, template: MessageTemplate, invoice: Document, business_name: str
) -> dict[str, str]:
    """The template's values (only the numbers its body uses), one line each."""
    values = {
        "1": invoice.recipient_name,
        "2": invoice.number or "",
        "3": format_zar(balance_cents(invoice)),
        "4": display_date(invoice.due_date),
        "5": business_name,
        "6": public.public_link(settings, invoice),
    }
    used = {str(number) for number in scan(template.body).numbers}
    return {number: " ".join(value.split()) for number, value in values.items() if number in used}


async def _remind(
    uow: UnitOfWork,
    settings: Settings,
    template: MessageTemplate,
    channel: Channel,
    invoice: Document,
    business_name: str,
) -> uuid.UUID:
    conversation = await conversations.conversation_with(
        uow, invoice.contact_id, channel_id=channel.id
    )
    assert conversation is not None
    outgoing = await templates.outgoing_for(
        uow,
        template.id,
        template_values(settings, template, invoice, business_name),
        conversation_id=conversation.id,
    )
    message = await conversations.send(uow, None, conversation.id, outgoing)  # the system
    return message.id


async def _due_invoices(uow: UnitOfWork, due_dates: list[date]) -> list[Document]:
    assert uow.tenant_id is not None
    return list(
        await uow.session.scalars(
            select(Document)
            .where(Document.tenant_id == uow.tenant_id)
            .where(Document.kind == Kind.INVOICE.value)
            .where(Document.status.in_(AWAITING_PAYMENT))
            .where(Document.due_date.in_(due_dates))
            .where(BALANCE > 0)
            .order_by(Document.due_date, Document.number)
        )
    )


async def send_due_reminders(
    uow: UnitOfWork, settings: Settings, *, any_hour: bool = False
) -> RunReport:
    """Queue today's reminders for the unit's tenant, each once (see the module's docstring).

    `any_hour` is for a person pressing "Send due reminders now"; the schedule waits for
    daytime in the business's time zone.
    """
    assert uow.tenant_id is not None
    report = RunReport()
    reminders = await document_settings.load_reminders(uow)
    if not reminders.enabled or reminders.template_id is None:
        report.waiting = "Reminders are off."
        return report
    profile = await business.profile_of(uow, uow.tenant_id)
    local_now = uow.now.astimezone(ZoneInfo(profile.timezone))
    if not any_hour and not in_sending_hours(local_now):
        report.waiting = "Outside sending hours."
        return report
    try:
        template = await templates.get_template(uow, reminders.template_id)
    except NotFound:
        template = None
    if template is None or template.status is not TemplateStatus.APPROVED:
        report.waiting = "The reminder template is missing or no longer approved."
        log.warning("reminders waiting", tenant_id=str(uow.tenant_id), reason=report.waiting)
        return report
    channel = await uow.session.get(Channel, (uow.tenant_id, template.channel_id))
    slots = due_dates_today(reminders, local_now.date())
    for invoice in await _due_invoices(uow, list(slots)):
        assert invoice.due_date is not None
        label, document_id = invoice.number or str(invoice.id), invoice.id
        slot = slots[invoice.due_date]
        key = slot_key(slot, local_now.date())
        savepoint = await uow.session.begin_nested()
        if not await _claim(uow, invoice, key, slot):
            await savepoint.commit()
            continue  # reminded already
        try:
            if channel is None or channel.disabled_at is not None:
                raise InvalidInput("The template's WhatsApp number is disconnected.")
            message_id = await _remind(
                uow, settings, template, channel, invoice, profile.trading_name
            )
        except DomainError as exc:
            # The attempt is undone; its slot is kept as skipped, with the reason.
            await savepoint.rollback()
            await _claim_skipped(uow, uow.tenant_id, document_id, key, slot, exc.message)
            report.skipped[label] = exc.message
            log.info("reminder skipped", invoice=label, reason=exc.message)
            continue
        await savepoint.commit()
        report.queued.append(message_id)
    return report


async def _claim_skipped(
    uow: UnitOfWork,
    tenant_id: uuid.UUID,
    document_id: uuid.UUID,
    key: str,
    slot: Slot,
    reason: str,
) -> None:
    await uow.session.execute(
        insert(DocumentEvent)
        .values(
            tenant_id=tenant_id,
            id=uuid.uuid4(),
            document_id=document_id,
            kind="reminder_skipped",
            key=key,
            detail={"slot": slot.value, "reason": reason},
            actor_id=None,
            at=uow.now,
        )
        .on_conflict_do_nothing(
            index_elements=[DocumentEvent.tenant_id, DocumentEvent.document_id, DocumentEvent.key],
            index_where=DocumentEvent.key.is_not(None),
        )
    )
