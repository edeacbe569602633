"""Flow runs through real signed webhooks, the inbound job and the Twilio stand-in: a new
customer greeted, qualified and made a lead; bad answers re-asked then handed off; a
redelivered answer taken once; a run finishing on the version it started with; a member's
reply pausing the run; silence nudged once then abandoned; an opted-out contact never
messaged."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg
import pytest

from clientcompass.config import Settings
from clientcompass.flows import runtime
from clientcompass.flows import tasks as flow_tasks
from tests.conftest import LiveServer, StandinServer
from tests.support.aio import run_async
from tests.support.flows import FLOWS, publish
from tests.support.forms import api_headers, csrf_from
from tests.support.shop import shop_with_customer
from tests.support.whatsapp import conversation_with, customer_says, sa_mobile, sent_to
from tests.support.worker import started

QUALIFY: dict[str, Any] = {
    "format": 1,
    "trigger": {"kind": "new_contact"},
    "nudge_after_minutes": 30,
    "steps": [
        {"kind": "send", "id": "hello", "title": "Hello", "text": "Hi! Thanks for writing."},
        {
            "kind": "ask",
            "id": "name",
            "title": "Name",
            "text": "What's your name?",
            "expect": "name",
            "save_as": "name",
        },
        {
            "kind": "choose",
            "id": "service",
            "title": "Service",
            "text": "Thanks {name}. What do you need?",
            "options": [
                {"id": "leak", "title": "A leak", "next": "where"},
                {"id": "geyser", "title": "Geyser", "next": "where"},
                {"id": "other", "title": "Something else", "next": "where"},
            ],
            "save_as": "service",
        },
        {
            "kind": "ask",
            "id": "where",
            "title": "Where",
            "text": "Which suburb is the job in?",
            "expect": "address",
            "save_as": "suburb",
        },
        {
            "kind": "ask",
            "id": "photo",
            "title": "Photo",
            "text": "Please send a photo of the problem.",
            "expect": "photo",
            "hint": "A photo helps us bring the right parts.",
            "max_tries": 2,
            "save_as": "photos",
        },
        {
            "kind": "lead",
            "id": "lead",
            "title": "Lead",
            "fields": {"service": "service", "suburb": "suburb", "photos": "photos"},
        },
        {"kind": "end", "id": "bye", "title": "Bye", "text": "Thanks {name}, we'll be in touch."},
    ],
}


def texts(standin: StandinServer, phone: str) -> list[str]:
    return [m["body"] for m in sent_to(standin, phone)]


def run_of(owner_conn: psycopg.Connection, phone: str) -> dict[str, Any]:
    row = owner_conn.execute(
        "select r.status, r.step_id, r.answers, r.tries, r.end_reason, r.version, r.id "
        "from flow_runs r join contacts c on c.tenant_id = r.tenant_id and c.id = r.contact_id "
        "where c.phone_e164 = %s order by r.started_at desc limit 1",
        (phone,),
    ).fetchone()
    assert row is not None, f"no run for {phone}"
    keys = ("status", "step_id", "answers", "tries", "end_reason", "version", "id")
    return dict(zip(keys, row, strict=True))


def say(
    live_server: LiveServer,
    standin: StandinServer,
    shop_channel: dict[str, Any],
    phone: str,
    body: str = "",
    **extra: Any,
) -> None:
    customer_says(standin, shop_channel, phone, body, **extra)
    live_server.run_jobs()


def sweep(settings: Settings) -> int:
    async def once() -> int:
        async with started(settings) as (_, lazy):
            return await flow_tasks.sweep(await lazy.get())

    return run_async(once)


def test_a_business_without_flows_skips_the_flow_lock_until_it_has_one(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Most businesses have no flow: their customers' messages skip the flow handler's lock
    and look (a round trip each). Once the business has a flow, every message takes them."""
    looked: list[uuid.UUID] = []
    lock_and_look = runtime._lock_and_look

    async def counted(uow: Any, conversation_id: uuid.UUID) -> runtime.Outlook:
        looked.append(conversation_id)
        return await lock_and_look(uow, conversation_id)

    monkeypatch.setattr(runtime, "_lock_and_look", counted)
    shop = shop_with_customer(client, standin)
    live_server.run_jobs()
    phone = sa_mobile()
    say(live_server, standin, shop.channel, phone, "Hi, my geyser is leaking")
    assert looked == []

    publish(client, QUALIFY)
    live_server.run_jobs()
    say(live_server, standin, shop.channel, phone, "Are you there?")
    assert len(looked) == 1
    newcomer = sa_mobile()
    say(live_server, standin, shop.channel, newcomer, "Hello")
    assert len(looked) == 2
    assert texts(standin, newcomer) == ["Hi! Thanks for writing.", "What's your name?"]


def test_a_new_customer_is_greeted_qualified_and_becomes_a_lead(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    publish(client, QUALIFY)
    live_server.run_jobs()
    phone = sa_mobile()
    say(live_server, standin, shop.channel, phone, "Hi, my geyser is leaking")
    assert texts(standin, phone) == ["Hi! Thanks for writing.", "What's your name?"]

    say(live_server, standin, shop.channel, phone, "1234")  # not a name
    assert texts(standin, phone)[-1].startswith("Please type your name.")
    say(live_server, standin, shop.channel, phone, "  Thandi   Mokoena ")
    # Published with a choice: its buttons were made in Twilio's Content API, the numbered
    # text kept for clients that can't show them.
    choice = sent_to(standin, phone)[-1]
    assert choice["body"] == "Thanks Thandi Mokoena. What do you need?"
    assert choice["content_type"] == "twilio/quick-reply"
    buttons = choice["content_types"]["twilio/quick-reply"]["actions"]
    assert [(b["id"], b["title"]) for b in buttons] == [
        ("leak", "A leak"),
        ("geyser", "Geyser"),
        ("other", "Something else"),
    ]
    fallback = choice["content_variables"]["2"]
    assert "1. A leak" in fallback and "2. Geyser" in fallback and "3. Something else" in fallback

    say(live_server, standin, shop.channel, phone, "geyser")  # typed title matches
    assert texts(standin, phone)[-1] == "Which suburb is the job in?"
    say(
        live_server,
        standin,
        shop.channel,
        phone,
        latitude=-33.9249,
        longitude=18.4241,
        address="12 Long Street, Cape Town",
        label="Home",
    )
    assert texts(standin, phone)[-1] == "Please send a photo of the problem."
    say(live_server, standin, shop.channel, phone, "I'll send it later")
    assert texts(standin, phone)[-1].startswith("A photo helps us bring the right parts.")
    say(
        live_server,
        standin,
        shop.channel,
        phone,
        media=[{"content_type": "image/jpeg", "data_base64": "/9j/4AAQSkZJRgABAQ=="}],
    )
    assert texts(standin, phone)[-1] == "Thanks Thandi Mokoena, we'll be in touch."

    run = run_of(owner_conn, phone)
    assert run["status"] == "completed"
    assert run["answers"]["service"] == "Geyser" and run["answers"]["service_id"] == "geyser"
    assert "12 Long Street" in run["answers"]["suburb"]
    leads = client.get("/api/v1/leads").json()
    lead = next(item for item in leads if item["contact_phone"] == phone)
    assert lead["source"] == "flow" and lead["service"] == "Geyser"
    assert "Cape Town" in lead["suburb"] and len(lead["photos"]) == 1
    journal = [
        r[0]
        for r in owner_conn.execute(
            "select outcome from flow_run_steps where run_id = %s order by seq", (run["id"],)
        )
    ]
    assert journal == [
        "started",
        "sent",
        "asked",
        "invalid",
        "answered",
        "asked",
        "chose",
        "asked",
        "answered",
        "asked",
        "invalid",
        "answered",
        "lead",
        "ended",
    ]


def test_a_redelivered_answer_advances_the_run_once(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    publish(client, QUALIFY)
    phone = sa_mobile()
    say(live_server, standin, shop.channel, phone, "Hello")
    say(live_server, standin, shop.channel, phone, "Sipho", deliveries=3)
    asked = texts(standin, phone)
    assert asked.count("Thanks Sipho. What do you need?") == 1
    assert run_of(owner_conn, phone)["step_id"] == "service"


def test_bad_answers_hand_off_after_the_last_try(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    publish(client, QUALIFY)
    phone = sa_mobile()
    say(live_server, standin, shop.channel, phone, "Hello")
    say(live_server, standin, shop.channel, phone, "Sipho")
    for typed in ("maybe", "7"):
        say(live_server, standin, shop.channel, phone, typed)
    run = run_of(owner_conn, phone)
    assert run["status"] == "running" and run["tries"] == 2
    say(live_server, standin, shop.channel, phone, "dunno")
    run = run_of(owner_conn, phone)
    assert run["status"] == "handed_off" and "after 3 tries" in run["end_reason"]
    thread = client.get(f"/api/v1/conversations/{conversation_with(client, phone)['id']}/messages")
    assert thread.status_code == 200


def test_a_run_finishes_on_the_version_it_started_with(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    flow_id = publish(client, QUALIFY)
    phone = sa_mobile()
    say(live_server, standin, shop.channel, phone, "Hello")
    changed = {**QUALIFY, "steps": [dict(s) for s in QUALIFY["steps"]]}
    changed["steps"][2]["text"] = "Version two asks differently, {name}."
    headers = api_headers(client)
    client.put(f"{FLOWS}/{flow_id}", json={"definition": changed}, headers=headers)
    assert client.post(f"{FLOWS}/{flow_id}/publish", headers=headers).json()["number"] == 2
    say(live_server, standin, shop.channel, phone, "Sipho")
    assert texts(standin, phone)[-1].startswith("Thanks Sipho. What do you need?")
    assert run_of(owner_conn, phone)["version"] == 1

    newcomer = sa_mobile()
    say(live_server, standin, shop.channel, newcomer, "Hello")
    say(live_server, standin, shop.channel, newcomer, "Lerato")
    assert texts(standin, newcomer)[-1].startswith("Version two asks differently, Lerato.")


def test_a_member_replying_pauses_the_run_and_silence_is_nudged_then_abandoned(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    publish(client, QUALIFY)
    taken, silent = sa_mobile(), sa_mobile()
    for phone in (taken, silent):
        say(live_server, standin, shop.channel, phone, "Hello")

    conversation = conversation_with(client, taken)["id"]
    reply = client.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"text": "Hi, this is Anna from the office. I'll help you myself."},
        headers=api_headers(client),
    )
    assert reply.status_code in (200, 201, 202), reply.text
    live_server.run_jobs()
    say(live_server, standin, shop.channel, taken, "Sipho")
    assert run_of(owner_conn, taken)["status"] == "paused"
    assert not any("What do you need?" in t for t in texts(standin, taken))

    owner_conn.execute(
        "update flow_runs set wake_at = now() - interval '1 second' where id = %s",
        (run_of(owner_conn, silent)["id"],),
    )
    assert sweep(live_server.settings) >= 1
    live_server.run_jobs()
    assert texts(standin, silent)[-1] == "Are you still there? Just reply when you're ready."
    assert run_of(owner_conn, silent)["status"] == "running"
    owner_conn.execute(
        "update flow_runs set wake_at = now() - interval '1 second' where id = %s",
        (run_of(owner_conn, silent)["id"],),
    )
    sweep(live_server.settings)
    assert run_of(owner_conn, silent)["status"] == "abandoned"
    assert sum("still there" in t for t in texts(standin, silent)) == 1


def test_a_keyword_starts_its_flow_but_never_for_a_contact_who_opted_out(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    keyworded = {
        "format": 1,
        "trigger": {"kind": "keyword", "keywords": ["quote", "Kwotasie"]},
        "steps": [{"kind": "end", "id": "bye", "title": "Bye", "text": "A quote! We'll call."}],
    }
    publish(client, keyworded, name="Quotes")
    live_server.run_jobs()
    say(live_server, standin, shop.channel, shop.phone, "kwotasie")
    assert texts(standin, shop.phone)[-1] == "A quote! We'll call."
    say(live_server, standin, shop.channel, shop.phone, "STOP")
    say(live_server, standin, shop.channel, shop.phone, "Quote")
    assert texts(standin, shop.phone).count("A quote! We'll call.") == 1
    assert uuid.UUID(str(run_of(owner_conn, shop.phone)["id"]))


MANUAL: dict[str, Any] = {
    "format": 1,
    "trigger": {"kind": "manual"},
    "steps": [
        {
            "kind": "ask",
            "id": "when",
            "title": "When",
            "text": "When may we come round?",
            "expect": "datetime",
            "save_as": "visit",
        },
        {"kind": "end", "id": "bye", "title": "Bye", "text": "Booked for {visit}."},
    ],
}


def test_an_agent_starts_resumes_and_stops_a_flow_from_the_thread(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    flow_id = publish(client, MANUAL, name="Site visit")
    live_server.run_jobs()
    conversation = conversation_with(client, shop.phone)["id"]
    run_url = f"/api/v1/conversations/{conversation}/flow-run"
    headers = api_headers(client)

    assert client.post(run_url, json={"flow_id": flow_id}).status_code == 403  # no CSRF header
    started = client.post(run_url, json={"flow_id": flow_id}, headers=headers)
    assert started.status_code == 201, started.text
    assert started.json()["trigger"] == "manual" and started.json()["step_id"] == "when"
    again = client.post(run_url, json={"flow_id": flow_id}, headers=headers)
    assert again.status_code == 422 and "already running" in again.text
    live_server.run_jobs()
    assert texts(standin, shop.phone)[-1] == "When may we come round?"

    client.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"text": "Let me check the diary for you."},
        headers=headers,
    )
    say(live_server, standin, shop.channel, shop.phone, "tomorrow 2pm")
    assert run_of(owner_conn, shop.phone)["status"] == "paused"
    resumed = client.post(f"{run_url}/resume", headers=headers)
    assert resumed.status_code == 200 and resumed.json()["status"] == "running"
    live_server.run_jobs()
    assert texts(standin, shop.phone)[-1] == "When may we come round?"
    say(live_server, standin, shop.channel, shop.phone, "25/12 14:00")
    assert texts(standin, shop.phone)[-1].startswith("Booked for ")
    assert "T14:00:00+02:00" in texts(standin, shop.phone)[-1]
    assert client.post(f"{run_url}/stop", headers=headers).status_code == 422  # ended

    runs = client.get(f"{FLOWS}/{flow_id}/runs").json()
    assert [r["status"] for r in runs] == ["completed"]
    assert runs[0]["answers"]["visit"].endswith("T14:00:00+02:00")

    started = client.post(run_url, json={"flow_id": flow_id}, headers=headers)
    stopped = client.post(f"{run_url}/stop", headers=headers)
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    assert stopped.json()["end_reason"].startswith("stopped by ")


def test_another_business_cannot_start_or_read_runs(
    client: httpx.Client, standin: StandinServer, live_server: LiveServer
) -> None:
    shop = shop_with_customer(client, standin)
    flow_id = publish(client, MANUAL, name="Site visit")
    conversation = conversation_with(client, shop.phone)["id"]
    with httpx.Client(base_url=live_server.url, timeout=20) as other:
        other_shop = shop_with_customer(other, standin)
        other_flow = publish(other, MANUAL, name="Theirs")
        headers = api_headers(other)
        mine = f"/api/v1/conversations/{conversation}/flow-run"
        assert other.post(mine, json={"flow_id": other_flow}, headers=headers).status_code == 404
        theirs = f"/api/v1/conversations/{conversation_with(other, other_shop.phone)['id']}"
        refused = other.post(f"{theirs}/flow-run", json={"flow_id": flow_id}, headers=headers)
        assert refused.status_code == 404
        assert other.get(f"{FLOWS}/{flow_id}/runs").status_code == 404


def test_the_thread_panel_starts_a_flow_and_refuses_a_bad_choice_in_plain_words(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    conversation = conversation_with(client, shop.phone)["id"]
    assert "Publish a flow" in client.get(f"/inbox/{conversation}/flow").text
    flow_id = publish(client, MANUAL, name="Site visit")
    panel = client.get(f"/inbox/{conversation}/flow").text
    assert "Start a flow" in panel and "Site visit" in panel
    token = csrf_from(client.get(f"/inbox/{conversation}").text)
    for junk in ("", "not-a-flow", str(uuid.uuid4())):
        refused = client.post(
            f"/inbox/{conversation}/flow/start", data={"flow_id": junk, "csrf_token": token}
        )
        assert refused.status_code in (404, 422), (junk, refused.status_code)
        assert "flow" in refused.text.lower()
    runs = "select count(*) from flow_runs where conversation_id = %s"
    assert owner_conn.execute(runs, (conversation,)).fetchone() == (0,)
    started = client.post(
        f"/inbox/{conversation}/flow/start", data={"flow_id": flow_id, "csrf_token": token}
    )
    assert started.status_code == 303
    panel = client.get(f"/inbox/{conversation}/flow").text
    assert "Site visit" in panel and "When may we come round?" not in panel
    assert "“When”" in panel and "Stop the flow" in panel
