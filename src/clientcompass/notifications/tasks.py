"""The notification handlers: an event or a customer's message fanned out to people, their
devices and their mailboxes, in the job that follows it."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy import select

from clientcompass.config import Settings
from clientcompass.conversations.inbound import Inbound, InboundHandler
from clientcompass.db import UnitOfWork
from clientcompass.models import User
from clientcompass.notifications import email, fanout
from clientcompass.notifications.fanout import Notice
from clientcompass.notifications.kinds import LABELS, Kind
from clientcompass.realtime.bus import Event
from clientcompass.work import EventHandler, LazyResources

log = structlog.get_logger(__name__)


def emails_for(settings: Settings, notice_id: str) -> fanout.EmailHook:
    """What follows a notice by email, in the fan-out's transaction.

    A new customer's first message: the new-lead email, 2 minutes later, unless someone reads
    the conversation first (its job checks then). Any other kind: one email now to each
    person who chose it by email, once per notice (a receipt keyed by the notice's id, so a
    re-run of the job sends nothing twice).
    """

    async def follow(uow: UnitOfWork, notice: Notice, people: list[uuid.UUID]) -> None:
        if notice.new_lead and notice.conversation_id is not None:
            uow.defer_job(
                email.NEW_LEAD_TASK,
                schedule_in=email.LEAD_DELAY_SECONDS,
                tenant_id=str(uow.tenant_id),
                conversation_id=str(notice.conversation_id),
            )
        if notice.kind is Kind.NEW_CONVERSATION or not people or not notice_id:
            return  # a new conversation's email is the new-lead one; follow-ups get none
        users = (
            await uow.session.scalars(
                select(User).where(User.tenant_id == uow.tenant_id).where(User.id.in_(people))
            )
        ).all()
        business = await email.business_name(uow)
        context = {
            "title": notice.title,
            "body": email.short(notice.body),
            "url": f"{settings.base_url.rstrip('/')}{notice.url}",
            "business": business,
            "kind_label": LABELS[notice.kind],
        }
        for user in users:
            if await email.claim(uow, user.id, f"notice:{notice_id}"):
                email.queue(
                    uow,
                    email.compose(settings, user, notice.kind, "notice", notice.title, context),
                )

    return follow


def on_inbound(lazy: LazyResources) -> InboundHandler:
    """The inbound pipeline's notification handler: a customer's message is fanned out in
    the job that handles it, once (conversations/inbound.py), so a push needs one queue hop
    after the webhook instead of two."""

    async def notify(uow: UnitOfWork, inbound: Inbound) -> None:
        resources = await lazy.get()
        notice = fanout.message_notice(
            inbound.message, inbound.conversation, inbound.contact, first=inbound.first
        )
        # The message's id is the notice's: a re-run of its job emails nobody twice.
        hook = emails_for(resources.settings, f"message-{inbound.message.id}")
        await fanout.deliver(uow, resources.redis, notice, email=hook)

    return notify


def on_event(lazy: LazyResources) -> EventHandler:
    """The durable events' notification handler (wired in jobs.EVENT_HANDLERS)."""

    async def notify(uow: UnitOfWork, event: Event, data: dict[str, Any], event_id: str) -> None:
        notice = await fanout.notice_for(uow, event, data)
        if notice is None:
            return
        resources = await lazy.get()
        done = await fanout.deliver(
            uow, resources.redis, notice, email=emails_for(resources.settings, event_id)
        )
        log.info(
            "notification fanned out",
            event_name=event.value,
            kind=notice.kind.value,
            pushes=done.pushes,
            skipped=done.skipped,
        )

    return notify
