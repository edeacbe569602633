"""Notifications come from events: a notifying event's job is written in the transaction
that made the change (and only if it commits), and an inbox tab with a conversation open
marks its person as looking at it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import redis as sync_redis

from clientcompass.models import Role
from clientcompass.realtime import presence
from clientcompass.realtime.bus import EVENT_TASK
from tests.conftest import LiveServer, StandinServer
from tests.support import factories
from tests.support.documents import finalised, vat_business
from tests.support.forms import api_headers
from tests.support.shop import shop_with_customer
from tests.support.sse import SseClient
from tests.support.waiting import wait_for
from tests.support.whatsapp import conversation_with


def notify_jobs(owner_conn: psycopg.Connection, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = owner_conn.execute(
        "select args from procrastinate_jobs where task_name = %s and args->>'tenant_id' = %s "
        "order by id",
        (EVENT_TASK, str(tenant_id)),
    ).fetchall()
    return [row[0] for row in rows]


def test_an_assignment_writes_its_notification_job_and_a_refused_one_writes_none(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    shop = shop_with_customer(client, standin)
    tenant_id, owner_id = factories.signed_in_as(client)
    settings = factories.settings_of(client)
    agent = factories.teammate(
        settings,
        tenant_id,
        owner_id,
        email=factories.unique_email("a"),
        role=Role.AGENT,
        name="Lwazi",
    )
    conversation_id = conversation_with(client, shop.phone)["id"]
    url = f"/api/v1/conversations/{conversation_id}/assignee"
    headers = api_headers(client)

    refused = client.post(url, json={"assignee_id": str(uuid.uuid4())}, headers=headers)
    assert refused.status_code == 422
    assert notify_jobs(owner_conn, tenant_id) == []

    assert (
        client.post(url, json={"assignee_id": str(agent.user_id)}, headers=headers).status_code
        == 200
    )
    [job] = notify_jobs(owner_conn, tenant_id)
    assert job["event"] == "conversation.assigned"
    assert job["data"]["assignee_id"] == str(agent.user_id)
    assert job["data"]["actor_id"] == str(owner_id)


def test_an_invoice_paid_in_full_is_a_notifying_event_and_a_part_payment_is_not(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    account, headers = vat_business(client)
    invoice = finalised(client, headers, "invoices")
    url = f"/api/v1/invoices/{invoice['id']}/payments"
    assert client.post(url, json={"amount": "100.00"}, headers=headers).status_code == 201
    assert notify_jobs(owner_conn, account.tenant_id) == []
    rest = f"{(invoice['total_cents'] - 10000) / 100:.2f}"
    assert client.post(url, json={"amount": rest}, headers=headers).status_code == 201
    [job] = notify_jobs(owner_conn, account.tenant_id)
    assert job["event"] == "document.paid" and job["data"]["document_id"] == invoice["id"]


def test_an_open_conversation_marks_its_person_present_until_the_tab_goes(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    redis_client: sync_redis.Redis,
) -> None:
    shop = shop_with_customer(client, standin)
    tenant_id, owner_id = factories.signed_in_as(client)
    conversation_id = conversation_with(client, shop.phone)["id"]
    key = presence.key(tenant_id, uuid.UUID(conversation_id))

    def present() -> set[str]:
        return {m.decode().split(":")[0] for m in redis_client.zrange(key, 0, -1)}

    tab = SseClient(
        live_server.url, client.cookies, path=f"/inbox/events?viewing={conversation_id}"
    )
    try:
        assert tab.status == 200
        assert present() == {str(owner_id)}
        # Another conversation's page marks nothing here.
        other = SseClient(
            live_server.url, client.cookies, path=f"/inbox/events?viewing={uuid.uuid4()}"
        )
        other.close()
        assert present() == {str(owner_id)}
    finally:
        tab.close()
    wait_for(
        lambda: present() == set(), timeout=10, message="the closed tab still counts as looking"
    )
