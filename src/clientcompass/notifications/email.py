"""The new-lead email: sent two minutes after a new customer first writes, unless someone
has read the conversation by then (Chatwoot's rule: the team saw it, so nobody needs mail).

The fan-out defers `NEW_LEAD_TASK` with `schedule_in=LEAD_DELAY_SECONDS` in the transaction
that stored the message. When it runs it writes, per person, a receipt (`new-lead:<id>`) and
that person's `send_email` job in one transaction: a re-run finds the receipt and sends
nothing twice, and a crash before the commit leaves neither. Every email is HTML and plain
text, with RFC 8058 one-click unsubscribe headers (notifications/unsubscribe.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import procrastinate
import structlog
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from clientcompass.config import Settings
from clientcompass.db import UnitOfWork
from clientcompass.models import (
    BusinessProfile,
    Contact,
    Conversation,
    Direction,
    Message,
    NotificationReceipt,
    Tenant,
    User,
)
from clientcompass.names import display_name
from clientcompass.notifications import preferences
from clientcompass.notifications.kinds import Channel, Kind
from clientcompass.notifications.unsubscribe import (
    token_for,
    unsubscribe_headers,
    unsubscribe_url,
)
from clientcompass.work import LazyResources, Resources

log = structlog.get_logger(__name__)

NEW_LEAD_TASK = "notifications.new_lead_email"
LEAD_DELAY_SECONDS = 120
EMAIL_TASK = "send_email"  # jobs.py: the one way email leaves, with retries
RETRY = procrastinate.RetryStrategy(max_attempts=5, wait=30)
PREVIEW_CHARS = 140
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"

# Email bodies: HTML escaped, text not (a text part shows `<` as typed).
_html = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_text = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=False,  # noqa: S701 (plain text: no markup to escape)
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]


def render(name: str, context: dict[str, Any]) -> tuple[str, str]:
    """(text, html) of `email/<name>.txt` and `email/<name>.html`."""
    return _text.get_template(f"{name}.txt").render(context), _html.get_template(
        f"{name}.html"
    ).render(context)


def compose(
    settings: Settings,
    user: User,
    kind: Kind,
    template: str,
    subject: str,
    context: dict[str, Any],
) -> Email:
    """One person's email of a kind, with the link and headers that stop that kind for them."""
    assert settings.secret_key, "an unsubscribe link is signed with the app's secret"
    url = unsubscribe_url(
        settings.base_url, token_for(settings.secret_key, user.tenant_id, user.id, kind)
    )
    text, html = render(template, {**context, "unsubscribe_url": url, "name": user.name})
    # A customer's WhatsApp name may hold a line break: never one in a header.
    return Email(user.email, " ".join(subject.split()), text, html, unsubscribe_headers(url))


def queue(uow: UnitOfWork, email: Email) -> None:
    """The send, as a job in the caller's transaction (sent exactly when that commits)."""
    uow.defer_job(
        EMAIL_TASK,
        to=email.to,
        subject=email.subject,
        body=email.text,
        html=email.html,
        headers=email.headers,
    )


async def claim(uow: UnitOfWork, user_id: uuid.UUID, key: str) -> bool:
    """Record that `key` went to this person; False when it already had (send nothing)."""
    assert uow.tenant_id is not None
    claimed = await uow.session.scalar(
        insert(NotificationReceipt)
        .values(tenant_id=uow.tenant_id, user_id=user_id, key=key, created_at=uow.now)
        .on_conflict_do_nothing()
        .returning(NotificationReceipt.user_id)
    )
    return claimed is not None


async def members_wanting(uow: UnitOfWork, kind: Kind) -> list[User]:
    """The business's active members who want this kind by email."""
    users = list(
        (
            await uow.session.scalars(
                select(User)
                .where(User.tenant_id == uow.tenant_id)
                .where(User.is_active)
                .where(User.removed_at.is_(None))
                .order_by(User.created_at, User.id)
            )
        ).all()
    )
    chosen = await preferences.load_many(uow, [user.id for user in users])
    return [user for user in users if chosen[user.id].wants(kind, Channel.EMAIL)]


async def business_name(uow: UnitOfWork) -> str:
    assert uow.tenant_id is not None
    profile = await uow.session.get(BusinessProfile, uow.tenant_id)
    if profile is not None and profile.trading_name.strip():
        return profile.trading_name.strip()
    tenant = await uow.session.get(Tenant, uow.tenant_id)
    return tenant.name if tenant is not None else ""


def short(text: str, limit: int = PREVIEW_CHARS) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


async def _first_words(uow: UnitOfWork, conversation_id: uuid.UUID) -> str:
    first = (
        await uow.session.execute(
            select(Message.body, Message.media)
            .where(Message.tenant_id == uow.tenant_id)
            .where(Message.conversation_id == conversation_id)
            .where(Message.direction == Direction.INBOUND)
            .order_by(Message.created_at, Message.id)
            .limit(1)
        )
    ).first()
    if first is None:
        return ""
    body, media = first
    if body.strip():
        return short(body)
    return "Sent a photo or file" if media else ""


async def send_new_lead(
    resources: Resources, tenant_id: uuid.UUID, conversation_id: uuid.UUID
) -> int:
    """Queue the new-lead email to everyone who wants it; how many were queued (0 when the
    conversation was read meanwhile or everyone had it already)."""
    settings = resources.settings
    async with resources.unit_of_work(tenant_id) as uow:
        conversation = await uow.session.get(Conversation, (tenant_id, conversation_id))
        if conversation is None or conversation.unread_count == 0:
            return 0
        contact = await uow.session.get(Contact, (tenant_id, conversation.contact_id))
        who = (
            display_name(contact.name, contact.profile_name, contact.phone_e164)
            if contact is not None
            else "A new customer"
        )
        business = await business_name(uow)
        context = {
            "who": who,
            "preview": await _first_words(uow, conversation_id),
            "url": f"{settings.base_url.rstrip('/')}/inbox/{conversation_id}",
            "business": business,
        }
        subject = f"New lead for {business}: {who}"
        key = f"new-lead:{conversation_id}"
        queued = 0
        for user in await members_wanting(uow, Kind.NEW_CONVERSATION):
            if not await claim(uow, user.id, key):
                continue
            queue(uow, compose(settings, user, Kind.NEW_CONVERSATION, "new_lead", subject, context))
            queued += 1
    if queued:
        log.info("new-lead email queued", tenant_id=str(tenant_id), recipients=queued)
    return queued


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    @job_app.task(name=NEW_LEAD_TASK, retry=RETRY)
    async def new_lead_email(tenant_id: str, conversation_id: str) -> None:
        await send_new_lead(await lazy.get(), uuid.UUID(tenant_id), uuid.UUID(conversation_id))
