"""Webhook deliveries end to end: a subscription made through the API, an event handled by
the webhook handler, the delivery job run by the worker, and a real HTTP receiver on loopback
whose requests are verified with the reference Standard Webhooks library."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from standardwebhooks.webhooks import Webhook

from clientcompass.integrations import service
from clientcompass.realtime.bus import Event
from tests.conftest import LiveServer
from tests.integrations.conftest import Receiver, run_jobs
from tests.support import factories
from tests.support.accounts import sign_up
from tests.support.documents import quote_for
from tests.support.factories import Services
from tests.support.forms import api_headers
from tests.support.step_up import CONFIRM

ALL = ["lead.created", "lead.stage_changed", "quote.accepted", "invoice.paid"]


def subscribe(
    client: httpx.Client, url: str, events: list[str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    headers = api_headers(client)
    made = client.post(
        "/api/v1/webhooks", json={"url": url, "events": events or ALL}, headers=headers
    )
    assert made.status_code == 201, made.text
    return made.json(), headers


def deliveries(client: httpx.Client, webhook_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def fire(
    client: httpx.Client, tenant_id: uuid.UUID, event: Event, data: dict[str, Any], event_id: str
) -> None:
    """The durable event's handler, as the event job runs it in the tenant's unit of work."""

    async def handle(services: Services) -> None:
        async with services.unit_of_work(tenant_id) as uow:
            await service.on_event(uow, event, data, event_id)

    factories.run(factories.settings_of(client), handle)


def test_a_test_event_reaches_the_receiver_signed_and_is_logged(
    live_server: LiveServer, client: httpx.Client, receiver: Receiver
) -> None:
    sign_up(client)
    webhook, headers = subscribe(client, f"{receiver.url}/zap")
    assert webhook["secret"].startswith("whsec_") and webhook["status"] == "active"
    queued = client.post(f"/api/v1/webhooks/{webhook['id']}/test", headers=headers)
    assert queued.status_code == 202 and queued.json()["status"] == "pending"

    run_jobs(live_server.settings)

    [request] = receiver.at("/zap")
    assert request.headers["content-type"] == "application/json"
    payload = Webhook(webhook["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "webhook.test"
    assert payload["data"]["subscription_id"] == webhook["id"]
    [logged] = deliveries(client, webhook["id"])
    assert logged["status"] == "delivered" and logged["attempts"] == 1
    assert logged["last_status_code"] == 200 and logged["next_attempt_at"] is None
    assert logged["message_id"] == request.headers["webhook-id"]
    # The secret is shown once: never again in the API.
    again = client.get(f"/api/v1/webhooks/{webhook['id']}")
    assert again.status_code == 200 and "secret" not in again.json()
    assert webhook["secret"] not in client.get("/settings/integrations").text


def test_a_500_is_retried_later_with_the_same_webhook_id_then_delivered(
    live_server: LiveServer,
    client: httpx.Client,
    receiver: Receiver,
    owner_conn: psycopg.Connection,
) -> None:
    sign_up(client)
    webhook, headers = subscribe(client, f"{receiver.url}/flaky")
    receiver.answer_with(500)
    delivery = client.post(f"/api/v1/webhooks/{webhook['id']}/test", headers=headers).json()

    run_jobs(live_server.settings)

    [logged] = deliveries(client, webhook["id"])
    assert (logged["status"], logged["attempts"], logged["last_status_code"]) == (
        "retrying",
        1,
        500,
    )
    assert logged["last_error"] == "HTTP 500" and logged["next_attempt_at"] is not None
    [(job_id, scheduled_at)] = owner_conn.execute(
        "select id, scheduled_at from procrastinate_jobs where task_name = %s "
        "and status = 'todo' and args->>'delivery_id' = %s",
        (service.DELIVER_TASK, delivery["id"]),
    ).fetchall()
    assert scheduled_at > datetime.now(UTC), "the retry waits its backoff"
    owner_conn.execute(
        "update procrastinate_jobs set scheduled_at = now() where id = %s", (job_id,)
    )

    run_jobs(live_server.settings)

    [logged] = deliveries(client, webhook["id"])
    assert (logged["status"], logged["attempts"], logged["last_status_code"]) == (
        "delivered",
        2,
        200,
    )
    first, second = receiver.at("/flaky")
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == logged["message_id"]
    assert first.body == second.body
    Webhook(webhook["secret"]).verify(second.body, second.headers)


def test_410_gone_disables_the_webhook_and_stops_retrying(
    live_server: LiveServer,
    client: httpx.Client,
    receiver: Receiver,
    owner_conn: psycopg.Connection,
) -> None:
    account = sign_up(client)
    webhook, headers = subscribe(client, f"{receiver.url}/gone")
    receiver.answer_with(410)
    delivery = client.post(f"/api/v1/webhooks/{webhook['id']}/test", headers=headers).json()

    run_jobs(live_server.settings)

    [logged] = deliveries(client, webhook["id"])
    assert (logged["status"], logged["last_status_code"]) == ("failed", 410)
    now = client.get(f"/api/v1/webhooks/{webhook['id']}").json()
    assert now["status"] == "disabled" and "410" in now["disabled_reason"]
    left = owner_conn.execute(
        "select count(*) from procrastinate_jobs where status = 'todo' and args->>'delivery_id' = %s",
        (delivery["id"],),
    ).fetchone()
    assert left == (0,)
    # A disabled webhook gets no events; resumed, it does again.
    fire(client, account.tenant_id, Event.LEAD_CREATED, {"lead_id": str(uuid.uuid4())}, "e-410-1")
    assert len(deliveries(client, webhook["id"])) == 1
    resumed = client.patch(
        f"/api/v1/webhooks/{webhook['id']}", json={"active": True}, headers=headers
    )
    assert resumed.json()["status"] == "active"
    fire(client, account.tenant_id, Event.LEAD_CREATED, {"lead_id": str(uuid.uuid4())}, "e-410-2")
    run_jobs(live_server.settings)
    assert [d["status"] for d in deliveries(client, webhook["id"])] == ["delivered", "failed"]


def test_a_quote_accepted_goes_only_to_its_own_business_once(
    live_server: LiveServer, client: httpx.Client, receiver: Receiver
) -> None:
    quote, headers = quote_for(client)
    accepted = client.post(f"/api/v1/quotes/{quote['id']}/accept", headers=headers)
    assert accepted.status_code == 200, accepted.text
    # The acceptance's own event job runs before anyone subscribes: this test hands the
    # handler the event itself, twice, as a re-run of that job would.
    run_jobs(live_server.settings)
    tenant_id = uuid.UUID(quote["tenant_id"])
    mine, _ = subscribe(client, f"{receiver.url}/mine", ["quote.accepted"])
    leads_only, _ = subscribe(client, f"{receiver.url}/leads", ["lead.created"])
    with httpx.Client(base_url=live_server.url, timeout=20) as other_client:
        other = sign_up(other_client)
        theirs, _ = subscribe(other_client, f"{receiver.url}/theirs")

        data = {"document_id": quote["id"], "number": quote["number"]}
        fire(client, tenant_id, Event.DOCUMENT_ACCEPTED, data, "event-q-1")
        fire(client, tenant_id, Event.DOCUMENT_ACCEPTED, data, "event-q-1")  # the job ran again
        # The other business's handler, handed this quote's id: the wall hides the quote.
        fire(other_client, other.tenant_id, Event.DOCUMENT_ACCEPTED, data, "event-q-2")
        run_jobs(live_server.settings)

        assert deliveries(other_client, theirs["id"]) == []
    assert deliveries(client, leads_only["id"]) == []
    [request] = [r for r in receiver.requests if r.path in ("/mine", "/leads", "/theirs")]
    assert request.path == "/mine"
    payload = Webhook(mine["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "quote.accepted"
    assert payload["data"]["id"] == quote["id"]
    assert payload["data"]["number"] == quote["number"]
    assert payload["data"]["status"] == "accepted"
    assert payload["data"]["total_cents"] == quote["total_cents"]
    assert payload["data"]["customer"]["id"] == quote["contact_id"]


def test_a_lead_event_carries_the_lead_id_and_its_public_fields(
    live_server: LiveServer, client: httpx.Client, receiver: Receiver
) -> None:
    account = sign_up(client)
    webhook, _ = subscribe(client, f"{receiver.url}/lead-events", ["lead.stage_changed"])
    lead_id = str(uuid.uuid4())
    data = {
        "lead_id": lead_id,
        "stage": "quoted",
        "previous_stage": "contacted",
        "name": "Sipho Dlamini",
        "internal_note": "not for integrators",
    }
    fire(client, account.tenant_id, Event.LEAD_STAGE_CHANGED, data, "event-l-1")
    fire(client, account.tenant_id, Event.LEAD_CREATED, {"lead_id": lead_id}, "event-l-2")

    run_jobs(live_server.settings)

    [request] = [r for r in receiver.requests if r.path == "/lead-events"]
    payload = Webhook(webhook["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "lead.stage_changed"
    assert payload["data"] == {
        "id": lead_id,
        "stage": "quoted",
        "previous_stage": "contacted",
        "name": "Sipho Dlamini",
    }


def test_after_a_rotation_both_secrets_sign_until_the_old_one_lapses(
    live_server: LiveServer, client: httpx.Client, receiver: Receiver
) -> None:
    sign_up(client)
    webhook, headers = subscribe(client, f"{receiver.url}/rotated")
    rotated = client.post(f"/api/v1/webhooks/{webhook['id']}/rotate-secret", headers=headers)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != webhook["secret"]
    assert rotated.json()["previous_valid_until"] is not None
    client.post(f"/api/v1/webhooks/{webhook['id']}/test", headers=headers)

    run_jobs(live_server.settings)

    [request] = receiver.at("/rotated")
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(new_secret).verify(request.body, request.headers)
    Webhook(webhook["secret"]).verify(request.body, request.headers)


def test_a_paused_webhook_gets_no_events_and_a_delivery_queued_before_is_skipped(
    live_server: LiveServer, client: httpx.Client, receiver: Receiver
) -> None:
    account = sign_up(client)
    webhook, headers = subscribe(client, f"{receiver.url}/paused")
    fire(client, account.tenant_id, Event.LEAD_CREATED, {"lead_id": str(uuid.uuid4())}, "p-1")
    paused = client.patch(
        f"/api/v1/webhooks/{webhook['id']}", json={"active": False}, headers=headers
    )
    assert paused.json()["status"] == "paused"
    fire(client, account.tenant_id, Event.LEAD_CREATED, {"lead_id": str(uuid.uuid4())}, "p-2")

    run_jobs(live_server.settings)

    assert receiver.at("/paused") == []
    [logged] = deliveries(client, webhook["id"])
    assert logged["status"] == "skipped" and logged["attempts"] == 0
    deleted = client.delete(f"/api/v1/webhooks/{webhook['id']}", headers={**headers, **CONFIRM})
    assert deleted.status_code == 204
    assert client.get(f"/api/v1/webhooks/{webhook['id']}").status_code == 404
