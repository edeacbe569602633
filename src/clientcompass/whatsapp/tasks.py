"""WhatsApp jobs: send from the outbox, reconcile unknown outcomes, fetch media, sweep."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

import procrastinate
import structlog
from procrastinate.jobs import Job
from procrastinate.retry import RetryDecision
from sqlalchemy import select, text

from clientcompass.db import UnitOfWork
from clientcompass.metrics import count_send_error
from clientcompass.models import Message, MessageStatus
from clientcompass.realtime.bus import Event
from clientcompass.twilio_client import OutcomeUnknown, TwilioRejected, TwilioUnavailable
from clientcompass.whatsapp import channels, media, outbound, outbound_media
from clientcompass.whatsapp.ratelimit import wait_for_send_slot
from clientcompass.work import LazyResources, defer

log = structlog.get_logger(__name__)

RECONCILE_CHECKS = 3


class SendAgainLater(Exception):
    """This send runs again after `delay`, as the same job: it keeps its place ahead of the
    conversation's later sends, which procrastinate holds back while it waits (same lock,
    lower id), so a retried message never arrives after one queued behind it."""

    def __init__(self, delay: timedelta, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay


class InOrderRetry(procrastinate.BaseRetryStrategy):
    """The send job's retry: only when it asks (`SendAgainLater`), after the delay it gives."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, SendAgainLater):
            seconds = max(1, math.ceil(exception.delay.total_seconds()))
            return RetryDecision(retry_in={"seconds": seconds})
        return None


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    @job_app.task(name=outbound.SEND_TASK, queue="whatsapp", retry=InOrderRetry())
    async def send_message(tenant_id: str, message_id: str) -> None:
        await _send(lazy, uuid.UUID(tenant_id), uuid.UUID(message_id))

    @job_app.task(name=outbound.RECONCILE_TASK, queue="whatsapp")
    async def reconcile_message(tenant_id: str, message_id: str, check: int = 1) -> None:
        await _reconcile(lazy, uuid.UUID(tenant_id), uuid.UUID(message_id), check)

    @job_app.task(
        name=media.FETCH_TASK,
        queue="whatsapp",
        retry=procrastinate.RetryStrategy(max_attempts=4, wait=2),
    )
    async def fetch_media(tenant_id: str, media_id: str) -> None:
        resources = await lazy.get()
        await media.fetch_inbound(resources, uuid.UUID(tenant_id), uuid.UUID(media_id))

    @job_app.periodic(cron="17 * * * *", periodic_id="whatsapp-media-purge")
    @job_app.task(name=media.PURGE_TASK, queue="whatsapp", queueing_lock=media.PURGE_TASK)
    async def purge_expired_media(timestamp: int, batch: int = media.PURGE_BATCH) -> None:
        """Hourly: media past MEDIA_RETENTION_DAYS, counted from the run's scheduled time."""
        resources = await lazy.get()
        await media.purge_expired(
            resources.unit_of_work,
            datetime.fromtimestamp(timestamp, UTC),
            resources.settings.media_retention_days,
            batch=batch,
        )

    @job_app.periodic(cron="*/5 * * * *", periodic_id="whatsapp-pending-media-sweep")
    @job_app.task(name=media.SWEEP_TASK, queue="whatsapp", queueing_lock=media.SWEEP_TASK)
    async def sweep_pending_media(timestamp: int) -> None:
        resources = await lazy.get()
        retry, _ = await media.sweep_pending(
            resources.unit_of_work,
            datetime.fromtimestamp(timestamp, UTC),
            timedelta(seconds=resources.settings.media_fetch_deadline_seconds),
        )
        for tenant_id, media_id in retry:
            await defer(
                resources.job_app,
                media.FETCH_TASK,
                {"tenant_id": str(tenant_id), "media_id": str(media_id)},
            )

    @job_app.periodic(cron="* * * * *", periodic_id="whatsapp-outbox-sweep")
    @job_app.task(
        name="whatsapp.sweep_outbox", queue="whatsapp", queueing_lock="whatsapp-outbox-sweep"
    )
    async def sweep_outbox(timestamp: int) -> None:
        await _sweep(lazy)


async def _send(lazy: LazyResources, tenant_id: uuid.UUID, message_id: uuid.UUID) -> None:
    resources = await lazy.get()
    async with resources.unit_of_work(tenant_id) as uow:
        claimed = await outbound.claim_for_sending(uow, message_id)
        if claimed is None:
            return  # another worker has it, or it was sent already
        message, channel, contact = claimed.message, claimed.channel, claimed.contact
        creds = channels.credentials(channel, resources.keyring)
        urls = channels.webhook_urls(resources.settings.base_url, channel)
        to = f"whatsapp:{contact.phone_e164}"
        body = message.body if not message.content_sid else ""
        media_urls = [
            outbound_media.public_url(
                resources.settings.base_url,
                resources.settings.secret_key,
                tenant_id,
                uuid.UUID(str(item["media_id"])),
                str(item.get("filename", "")),
            )
            for item in message.media
            if item.get("media_id")
        ]
        content_sid, content_variables = message.content_sid, dict(message.content_variables)
        # Our id rides along, so a callback that outruns `record_accepted` still finds the row.
        status_callback = f"{urls.status}?m={message.id}"
        attempts = message.send_attempts
        per_second = channel.sends_per_second
        conversation_id = message.conversation_id
    # Committed as `sending`: from here a crash leaves a row the sweeper reconciles.
    await wait_for_send_slot(resources.redis, channel.id, per_second)
    try:
        result = await resources.twilio.create_message(
            creds,
            to=to,
            from_=channel.whatsapp_from,
            body=body,
            media_urls=media_urls,
            content_sid=content_sid,
            content_variables=content_variables,
            status_callback=status_callback,
            messaging_service_sid=channel.messaging_service_sid,
        )
    except TwilioRejected as exc:
        await count_send_error(resources.redis, exc.code)
        async with resources.unit_of_work(tenant_id) as uow:
            await outbound.record_rejected(uow, message_id, exc.code, exc.message)
            _announce(uow, message_id, conversation_id, MessageStatus.FAILED, exc.code)
        return
    except TwilioUnavailable as exc:
        await count_send_error(resources.redis, exc.code)
        if attempts >= outbound.MAX_TRANSIENT_ATTEMPTS:
            async with resources.unit_of_work(tenant_id) as uow:
                await outbound.record_rejected(
                    uow, message_id, exc.code, f"Gave up after {attempts} tries: {exc.message}"
                )
                _announce(uow, message_id, conversation_id, MessageStatus.FAILED, exc.code)
            return
        delay = outbound.backoff(attempts)
        async with resources.unit_of_work(tenant_id) as uow:
            await outbound.requeue(uow, message_id, at=uow.now + delay, reason=exc.message)
        raise SendAgainLater(delay, exc.message) from exc
    except OutcomeUnknown:
        log.warning("send outcome unknown; reconciling", message_id=str(message_id))
        await defer(
            resources.job_app,
            outbound.RECONCILE_TASK,
            _ids(tenant_id, message_id),
            schedule_in=resources.settings.whatsapp_reconcile_delay_seconds,
        )
        return
    async with resources.unit_of_work(tenant_id) as uow:
        await outbound.record_accepted(
            uow, message_id, str(result["sid"]), str(result.get("status", "queued"))
        )
        _announce(uow, message_id, conversation_id, MessageStatus.ACCEPTED, None)


def _ids(tenant_id: uuid.UUID, message_id: uuid.UUID) -> dict[str, object]:
    return {"tenant_id": str(tenant_id), "message_id": str(message_id)}


def _announce(
    uow: UnitOfWork,
    message_id: uuid.UUID,
    conversation_id: uuid.UUID,
    status: MessageStatus,
    error_code: int | None,
) -> None:
    uow.announce(
        Event.MESSAGE_STATUS,
        message_id=str(message_id),
        conversation_id=str(conversation_id),
        status=status.value,
        error_code=error_code,
    )


async def _reconcile(
    lazy: LazyResources, tenant_id: uuid.UUID, message_id: uuid.UUID, check: int
) -> None:
    """Find out whether Twilio took a send whose answer we never got, before sending again."""
    resources = await lazy.get()
    async with resources.unit_of_work(tenant_id) as uow:
        row = (
            await uow.session.execute(
                select(Message)
                .where(Message.tenant_id == tenant_id)
                .where(Message.id == message_id)
            )
        ).scalar_one_or_none()
        if row is None or row.status != MessageStatus.SENDING:
            return
        message = row
        phone = await outbound.recipient_phone(uow, message)
        channel = await channels.get_channel(uow, tenant_id, message.channel_id)
        creds = channels.credentials(channel, resources.keyring)
        known = set(
            await uow.session.scalars(
                select(Message.provider_sid)
                .where(Message.tenant_id == tenant_id)
                .where(Message.conversation_id == message.conversation_id)
                .where(Message.provider_sid.is_not(None))
            )
        )
    assert message.send_started_at is not None
    try:
        listed = await resources.twilio.list_messages(
            creds,
            to=f"whatsapp:{phone}",
            from_=channel.whatsapp_from,
            sent_on_or_after=(message.send_started_at - timedelta(days=1)).date(),
        )
    except (TwilioUnavailable, OutcomeUnknown, TwilioRejected):
        await defer(
            resources.job_app,
            outbound.RECONCILE_TASK,
            {**_ids(tenant_id, message_id), "check": check},
            schedule_in=resources.settings.whatsapp_reconcile_delay_seconds,
        )
        return
    found = outbound.match_in_twilio_list(message, listed, {sid for sid in known if sid})
    if found is not None:
        async with resources.unit_of_work(tenant_id) as uow:
            await outbound.record_accepted(
                uow, message_id, str(found["sid"]), str(found.get("status", "queued"))
            )
        log.info(
            "reconciled an unknown send: Twilio has it",
            message_id=str(message_id),
            sid=found["sid"],
        )
        return
    if check < RECONCILE_CHECKS:
        await defer(
            resources.job_app,
            outbound.RECONCILE_TASK,
            {**_ids(tenant_id, message_id), "check": check + 1},
            schedule_in=resources.settings.whatsapp_reconcile_delay_seconds,
        )
        return
    async with resources.unit_of_work(tenant_id) as uow:
        await outbound.requeue(
            uow, message_id, at=uow.now, reason="Twilio never received it; sending again"
        )
    log.info(
        "reconciled an unknown send: Twilio does not have it, resending", message_id=str(message_id)
    )
    await defer(
        resources.job_app,
        outbound.SEND_TASK,
        _ids(tenant_id, message_id),
        lock=outbound.send_lock(message.conversation_id),
    )


# Which of these messages still have a send job waiting or running (one scan per sweep).
LIVE_SEND_JOBS = text(
    "SELECT args->>'message_id' FROM procrastinate_jobs WHERE task_name = :task "
    "AND status IN ('todo', 'doing') AND args->>'message_id' = ANY(:message_ids)"
)


async def sweep_outbox_now(lazy: LazyResources) -> None:
    """Run by a starting worker too, so a crash is repaired on restart, not a minute later."""
    await _sweep(lazy)


async def _sweep(lazy: LazyResources) -> None:
    """Finish what a crash left behind: queued rows whose job was lost, sends never answered.

    `sending` rows are only reconciled (asked of Twilio), never sent again directly.
    """
    resources = await lazy.get()
    after = timedelta(seconds=resources.settings.whatsapp_sweep_after_seconds)
    async with resources.db.unit_of_work() as uow:
        rows = (
            await uow.session.execute(
                text(
                    "select tenant_id, message_id, status from cc_outbox_stuck(:queued_before, :sending_before, 500)"
                ),
                {
                    "queued_before": uow.now - after,
                    "sending_before": uow.now - after,
                },
            )
        ).all()
    queued = [str(m) for _, m, status in rows if status == MessageStatus.QUEUED.value]
    waiting: set[str] = set()
    if queued:
        async with resources.db.unit_of_work() as uow:
            waiting = set(
                await uow.session.scalars(
                    LIVE_SEND_JOBS, {"task": outbound.SEND_TASK, "message_ids": queued}
                )
            )
    for tenant_id, message_id, status in rows:
        if status != MessageStatus.QUEUED.value:
            await defer(resources.job_app, outbound.RECONCILE_TASK, _ids(tenant_id, message_id))
            continue
        if str(message_id) in waiting:
            continue  # its job waits behind the conversation's earlier sends, as it should
        # Its job was lost: queued again, under the conversation's lock like every send.
        async with resources.unit_of_work(tenant_id) as uow:
            conversation_id = await uow.session.scalar(
                select(Message.conversation_id)
                .where(Message.tenant_id == tenant_id)
                .where(Message.id == message_id)
            )
        if conversation_id is not None:
            await defer(
                resources.job_app,
                outbound.SEND_TASK,
                _ids(tenant_id, message_id),
                lock=outbound.send_lock(conversation_id),
            )
    if rows:
        log.info("outbox sweep re-deferred stuck messages", count=len(rows))
