"""The notification jobs: an event fanned out to people, their devices and their mailboxes."""

from __future__ import annotations

import uuid
from typing import Any

import procrastinate
import structlog
from sqlalchemy import select

from clientcompass.config import Settings
from clientcompass.conversations.inbound import Inbound, InboundHandler
from clientcompass.db import UnitOfWork
from clientcompass.models import User
from clientcompass.notifications import email, fanout
from clientcompass.notifications.fanout import Notice
from clientcompass.notifications.kinds import LABELS, Kind
from clientcompass.realtime.bus import NOTIFY_TASK, Event
from clientcompass.work import LazyResources

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
        notice = await fanout.notice_for_inbound(uow, inbound.message.id)
        if notice is not None:
            # The message's id is the notice's: a re-run of its job emails nobody twice.
            hook = emails_for(resources.settings, f"message-{inbound.message.id}")
            await fanout.deliver(uow, resources.redis, notice, email=hook)

    return notify


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    @job_app.task(
        name=NOTIFY_TASK,
        queue="notifications",
        retry=procrastinate.RetryStrategy(max_attempts=5, exponential_wait=2),
    )
    async def on_event(
        tenant_id: str, event: str, data: dict[str, Any], notice_id: str = ""
    ) -> None:
        resources = await lazy.get()
        async with resources.unit_of_work(uuid.UUID(tenant_id)) as uow:
            notice = await fanout.notice_for(uow, Event(event), data)
            if notice is None:
                return
            done = await fanout.deliver(
                uow, resources.redis, notice, email=emails_for(resources.settings, notice_id)
            )
        log.info(
            "notification fanned out",
            event_name=event,
            kind=notice.kind.value,
            pushes=done.pushes,
            skipped=done.skipped,
        )
