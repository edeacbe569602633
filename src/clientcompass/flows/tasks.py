"""The flows' jobs: the clock (waits, nudges, abandonment) and webhook steps.

The sweep runs every minute. Finding due runs crosses tenants, so it goes through
`cc_flow_due_tenants` (tenant ids only); each business's due runs are then woken in its own
transaction, `FOR UPDATE SKIP LOCKED`.

A webhook step's call is an HTTPS POST signed per Standard Webhooks with the business's flow
secret (sealed in its settings), through the SSRF-safe client of integrations/http.py, outside
any transaction. A failure is retried 5 s and 30 s later; after the third, the run goes on
without the answer. The reply is applied under the run's row lock (runtime.webhook_replied),
which ignores a run that moved on meanwhile, so a retried job never advances it twice.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import procrastinate
import structlog
from sqlalchemy import text

from clientcompass.business.settings import get_setting, set_setting
from clientcompass.crypto import Keyring
from clientcompass.db import UnitOfWork
from clientcompass.flows import definition as d
from clientcompass.flows import runtime, steps
from clientcompass.integrations import signing
from clientcompass.integrations.http import post
from clientcompass.models import FlowRun
from clientcompass.models.flows import Waiting
from clientcompass.work import LazyResources, Resources

log = structlog.get_logger(__name__)

DUE_TENANTS = text("select tenant_id from cc_flow_due_tenants(:due)")
SIGNING_SETTING = "flows.webhook_secret"
RETRY_SECONDS = (5, 30)
QUEUE = "flows"


async def webhook_secret(uow: UnitOfWork, keyring: Keyring) -> str:
    """The business's flow-webhook signing secret (shown on the builder of a flow with a
    webhook step, for the receiver to check signatures), made on first use, sealed at rest."""
    context = f"flows-webhook:{uow.tenant_id}"
    sealed = await get_setting(uow, SIGNING_SETTING)
    if isinstance(sealed, str) and sealed:
        return keyring.decrypt(sealed, context=context)
    secret = signing.generate_secret()
    await set_setting(uow, SIGNING_SETTING, keyring.encrypt(secret, context=context))
    return secret


async def call_webhook(
    resources: Resources, tenant_id: uuid.UUID, run_id: uuid.UUID, step_id: str, attempt: int
) -> None:
    async with resources.unit_of_work(tenant_id) as uow:
        run = await uow.session.get(FlowRun, (tenant_id, run_id))
        if run is None or run.waiting != Waiting.WEBHOOK.value or run.step_id != step_id:
            return
        flow = await steps.definition_of(uow, run)
        step = next((s for s in flow.steps if s.id == step_id), None)
        if not isinstance(step, d.WebhookStep):
            return
        secret = await webhook_secret(uow, resources.keyring)
        body = json.dumps(
            {
                "type": "flow.step",
                "run_id": str(run.id),
                "flow_id": str(run.flow_id),
                "version": run.version,
                "step_id": step_id,
                "conversation_id": str(run.conversation_id),
                "contact_id": str(run.contact_id),
                "answers": {k: v for k, v in run.answers.items() if not k.startswith("_")},
            },
            separators=(",", ":"),
        ).encode()
    message_id = f"msg_{run_id.hex}_{step_id}"
    headers = signing.headers([secret], message_id, int(time.time()), body)
    answer = await post(
        resources.http,
        step.url,
        body,
        headers,
        allow_private=resources.settings.webhook_allow_private_targets,
    )
    reply: dict[str, Any] | None = None
    if answer.ok:
        try:
            decoded = json.loads(answer.body or b"{}")
        except ValueError:
            decoded = {}
        reply = decoded if isinstance(decoded, dict) else {}
    elif attempt < len(RETRY_SECONDS):
        log.info("flow webhook failed; retrying", run_id=str(run_id), status=answer.status)
        await resources.job_app.configure_task(
            steps.WEBHOOK_TASK, schedule_in={"seconds": RETRY_SECONDS[attempt]}
        ).defer_async(
            tenant_id=str(tenant_id), run_id=str(run_id), step_id=step_id, attempt=attempt + 1
        )
        return
    async with resources.unit_of_work(tenant_id) as uow:
        await runtime.webhook_replied(uow, run_id, step_id, reply)


async def sweep(resources: Resources) -> int:
    """Wake every due run; returns how many were woken."""
    async with resources.db.unit_of_work() as uow:
        tenants = list(await uow.session.scalars(DUE_TENANTS, {"due": uow.now}))
    woken = 0
    for tenant_id in tenants:
        async with resources.unit_of_work(tenant_id) as uow:
            for run in await runtime.due_runs(uow):
                await runtime.wake(uow, run)
                woken += 1
    return woken


def register(job_app: procrastinate.App, lazy: LazyResources) -> None:
    @job_app.periodic(cron="* * * * *", periodic_id="flows-sweep")
    @job_app.task(name=runtime.SWEEP_TASK, queue=QUEUE, queueing_lock="flows-sweep")
    async def sweep_flows(timestamp: int) -> None:
        woken = await sweep(await lazy.get())
        if woken:
            log.info("flow runs woken", runs=woken)

    @job_app.task(name=steps.WEBHOOK_TASK, queue=QUEUE)
    async def flow_webhook(tenant_id: str, run_id: str, step_id: str, attempt: int = 0) -> None:
        await call_webhook(
            await lazy.get(), uuid.UUID(tenant_id), uuid.UUID(run_id), step_id, attempt
        )
