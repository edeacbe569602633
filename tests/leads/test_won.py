"""A quote made from a lead, accepted by the customer on WhatsApp, wins the lead by itself:
the durable `document.accepted` event's handler (leads/events.py) moves it, once."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg

from clientcompass.leads import events as lead_events
from clientcompass.realtime.bus import Event
from tests.conftest import LiveServer, StandinServer
from tests.support import factories
from tests.support.documents import draft
from tests.support.shop import button_tap, send, shop_with_customer
from tests.support.whatsapp import conversation_with


def accepted_events(conn: psycopg.Connection, quote_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "select args from procrastinate_jobs where task_name = 'events.after_commit' "
        "and args->>'event' = %s and args->'data'->>'document_id' = %s",
        (Event.DOCUMENT_ACCEPTED.value, quote_id),
    ).fetchall()
    return [row[0] for row in rows]


def run_handler(client: httpx.Client, job: dict[str, Any]) -> None:
    """What events.after_commit does with the handler once jobs.py wires it."""

    async def handle(services: factories.Services) -> None:
        async with services.unit_of_work(uuid.UUID(job["tenant_id"])) as uow:
            await lead_events.on_event(
                uow, Event(job["event"]), job["data"], job.get("event_id", "")
            )

    factories.run(factories.settings_of(client), handle)


def test_accepting_the_quote_wins_the_lead_once(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    conversation = conversation_with(client, shop.phone)
    created = client.post(
        "/api/v1/leads",
        json={
            "contact_id": conversation["contact"]["id"],
            "conversation_id": conversation["id"],
            "source": "flow",
            "service": "Geyser element",
        },
        headers=shop.headers,
    ).json()
    quote = draft(client, shop.headers, phone=shop.phone, lead_id=created["id"])
    lead_path = f"/api/v1/leads/{created['id']}"
    assert client.get(lead_path).json()["stage"] == "quoted"
    assert send(shop, "quotes", quote["id"]).status_code == 202
    live_server.run_jobs()
    assert button_tap(shop, shop.phone, f"accept:{quote['id']}").status_code == 200
    live_server.run_jobs()
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["status"] == "accepted"

    jobs = accepted_events(owner_conn, quote["id"])
    assert len(jobs) == 1
    for _ in range(2):  # a job that runs again changes nothing
        run_handler(client, jobs[0])
    won = client.get(lead_path).json()
    assert won["stage"] == "won"
    assert [c["to_stage"] for c in won["history"]] == ["new", "quoted", "won"]
    assert won["history"][-1]["reason"].startswith("Quote ")
    assert "accepted" in won["history"][-1]["reason"]
