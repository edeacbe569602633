"""The daily digest email: what needs the team today, at 07:00 in the business's time zone.

Four sections: new leads (conversations from new contacts in the last 24 hours),
unanswered conversations (open, the last message the customer's), quotes expiring within
3 days, and invoices overdue. Nothing to say, nothing sent.

A periodic job scans every 15 minutes. Finding businesses crosses tenants, so it goes
through one narrow SECURITY DEFINER function, `cc_digest_tenants()`, returning each open
business's id, time zone and the local date of its last digest; every business past 07:00
whose digest for today has not gone out is then handled in its own unit of work. That
transaction writes the day's marker (tenant setting `notifications.digest`) and, per
person, a receipt `digest:<local date>` with its `send_email` job: running twice, or on two
workers at once, sends nobody two digests.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import procrastinate
import structlog
from sqlalchemy import Select, func, select, text
from sqlalchemy.dialects.postgresql import insert

from clientcompass.db import UnitOfWork
from clientcompass.documents.money import format_zar
from clientcompass.documents.numbering import DocumentKind
from clientcompass.documents.status import AWAITING_ANSWER, AWAITING_PAYMENT
from clientcompass.inbox.display import zone
from clientcompass.models import (
    Contact,
    Conversation,
    ConversationStatus,
    Document,
    TenantSetting,
)
from clientcompass.names import display_name
from clientcompass.notifications.email import (
    business_name,
    claim,
    compose,
    members_wanting,
    queue,
    short,
)
from clientcompass.notifications.kinds import Kind
from clientcompass.work import LazyResources, Resources

log = structlog.get_logger(__name__)

DIGEST_TASK = "notifications.send_digests"
DIGEST_TENANTS = text("select tenant_id, timezone, last_digest from cc_digest_tenants()")
MARKER = "notifications.digest"  # tenant setting: {"date": the local date last handled}
SEND_AT = time(7, 0)
LEAD_WINDOW = timedelta(hours=24)
EXPIRING_DAYS = 3
SHOWN = 10  # items per section; the rest are counted


@dataclass(frozen=True)
class Item:
    title: str
    detail: str
    url: str


@dataclass(frozen=True)
class Section:
    key: str
    heading: str
    items: list[Item] = field(default_factory=list)
    total: int = 0

    @property
    def more(self) -> int:
        return self.total - len(self.items)


def due(now: datetime, timezone: str, last_digest: str) -> date | None:
    """The local date whose digest is due now, or None (before 07:00, or already handled)."""
    local = now.astimezone(zone(timezone))
    if local.time() < SEND_AT or last_digest == local.date().isoformat():
        return None
    return local.date()


async def _counted(uow: UnitOfWork, query: Select[*tuple[Any, ...]]) -> tuple[list[Any], int]:
    rows = list((await uow.session.execute(query.limit(SHOWN))).all())
    if len(rows) < SHOWN:
        return rows, len(rows)
    total = await uow.session.scalar(select(func.count()).select_from(query.subquery()))
    return rows, int(total or 0)


async def sections(uow: UnitOfWork, base_url: str, now: datetime, today: date) -> list[Section]:
    """The four sections for the unit of work's business, as of `now` (local date `today`)."""
    tenant = uow.tenant_id
    base = base_url.rstrip("/")
    since = now - LEAD_WINDOW
    conversations = (
        select(Conversation, Contact)
        .join(
            Contact,
            (Contact.tenant_id == Conversation.tenant_id) & (Contact.id == Conversation.contact_id),
        )
        .where(Conversation.tenant_id == tenant)
    )

    def who(contact: Contact) -> str:
        return display_name(contact.name, contact.profile_name, contact.phone_e164)

    def thread(conversation: Conversation, contact: Contact) -> Item:
        return Item(
            who(contact),
            short(conversation.last_message_preview, 80),
            f"{base}/inbox/{conversation.id}",
        )

    leads, leads_total = await _counted(
        uow,
        conversations.where(Conversation.created_at >= since)
        .where(Conversation.created_at <= now)
        .where(Contact.created_at >= since)
        .order_by(Conversation.created_at.desc(), Conversation.id),
    )
    waiting, waiting_total = await _counted(
        uow,
        conversations.where(Conversation.status == ConversationStatus.OPEN)
        .where(Conversation.last_inbound_at.is_not(None))
        .where(Conversation.last_inbound_at >= Conversation.last_message_at)
        .order_by(Conversation.last_inbound_at, Conversation.id),
    )
    documents = select(Document).where(Document.tenant_id == tenant)
    expiring, expiring_total = await _counted(
        uow,
        documents.where(Document.kind == DocumentKind.QUOTE.value)
        .where(Document.status.in_(AWAITING_ANSWER))
        .where(Document.valid_until >= today)
        .where(Document.valid_until <= today + timedelta(days=EXPIRING_DAYS))
        .order_by(Document.valid_until, Document.number),
    )
    overdue, overdue_total = await _counted(
        uow,
        documents.where(Document.kind == DocumentKind.INVOICE.value)
        .where(Document.status.in_(AWAITING_PAYMENT))
        .where(Document.due_date < today)
        .where(Document.total_cents - Document.paid_cents - Document.credited_cents > 0)
        .order_by(Document.due_date, Document.number),
    )

    def expires(quote: Document) -> str:
        assert quote.valid_until is not None
        days = (quote.valid_until - today).days
        when = "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"
        return f"{format_zar(quote.total_cents)}, expires {when}"

    def late(invoice: Document) -> str:
        assert invoice.due_date is not None
        days = (today - invoice.due_date).days
        owed = invoice.total_cents - invoice.paid_cents - invoice.credited_cents
        return f"{format_zar(owed)} owed, {days} day{'s' if days != 1 else ''} overdue"

    return [
        Section("leads", "New leads", [thread(c, k) for c, k in leads], leads_total),
        Section(
            "unanswered", "Waiting for a reply", [thread(c, k) for c, k in waiting], waiting_total
        ),
        Section(
            "quotes",
            "Quotes expiring",
            [
                Item(f"{q.number} · {q.recipient_name}", expires(q), f"{base}/quotes/{q.id}")
                for (q,) in expiring
            ],
            expiring_total,
        ),
        Section(
            "invoices",
            "Invoices overdue",
            [
                Item(f"{i.number} · {i.recipient_name}", late(i), f"{base}/invoices/{i.id}")
                for (i,) in overdue
            ],
            overdue_total,
        ),
    ]


async def _mark(uow: UnitOfWork, today: date) -> None:
    assert uow.tenant_id is not None
    value = {"date": today.isoformat()}
    await uow.session.execute(
        insert(TenantSetting)
        .values(tenant_id=uow.tenant_id, key=MARKER, value=value)
        .on_conflict_do_update(
            index_elements=[TenantSetting.tenant_id, TenantSetting.key], set_={"value": value}
        )
    )


async def send_digest(
    resources: Resources, tenant_id: uuid.UUID, now: datetime, today: date
) -> int:
    """One business's digest for its local date `today`; how many emails were queued."""
    settings = resources.settings
    async with resources.unit_of_work(tenant_id) as uow:
        await _mark(uow, today)
        recipients = await members_wanting(uow, Kind.DIGEST)
        if not recipients:
            return 0
        found = await sections(uow, settings.base_url, now, today)
        if not any(section.total for section in found):
            return 0
        business = await business_name(uow)
        counts = ", ".join(f"{s.total} {s.heading.lower()}" for s in found if s.total)
        subject = f"{business} today: {counts}"
        context = {
            "business": business,
            "day": f"{today:%A} {today.day} {today:%B}",
            "sections": [s for s in found if s.total],
            "inbox_url": f"{settings.base_url.rstrip('/')}/inbox",
        }
        key = f"digest:{today.isoformat()}"
        queued = 0
        for user in recipients:
            if await claim(uow, user.id, key):
                queue(uow, compose(settings, user, Kind.DIGEST, "digest", subject, context))
                queued += 1
    return queued


async def send_digests(resources: Resources, now: datetime) -> int:
    """Every business whose digest is due at `now`: how many emails were queued in all. One
    business failing is logged and retried at the next scan; the others still get theirs."""
    async with resources.db.unit_of_work() as uow:
        rows = (await uow.session.execute(DIGEST_TENANTS)).all()
    queued = 0
    for tenant_id, timezone, last_digest in rows:
        today = due(now, timezone, last_digest)
        if today is None:
            continue
        try:
            queued += await send_digest(resources, tenant_id, now, today)
        except Exception:
            log.exception("digest failed", tenant_id=str(tenant_id))
    if queued:
        log.info("digests queued", emails=queued)
    return queued


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    @job_app.periodic(cron="*/15 * * * *", periodic_id="notifications-digest")
    @job_app.task(name=DIGEST_TASK, queueing_lock=DIGEST_TASK)
    async def send_daily_digests(timestamp: int) -> None:
        resources = await lazy.get()
        await send_digests(resources, datetime.fromtimestamp(timestamp, tz=UTC))
