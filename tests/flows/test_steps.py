"""Every step kind of a flow run, through real signed Twilio webhooks, the inbound job and the
Twilio stand-in: each `ask` expectation with a good and a bad answer; choices by button, list
item, number and title; branches on an answer, a contact field, a tag and business hours
(open, closed, a South African public holiday); contact fields and tags set; a lead with an
ad's referral; assignment to a member and round robin; a note and the hand-off event; a wait
swept on, or handed off when the window closed; a signed webhook with retries; the hand-off
and end texts; the triggers' rules; and a contact merge between two live runs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from clientcompass.config import Settings
from clientcompass.flows import steps
from clientcompass.flows import tasks as flow_tasks
from clientcompass.models import Role
from clientcompass.whatsapp import tasks as whatsapp_tasks
from tests.conftest import LiveServer, StandinServer
from tests.flows.test_runtime import publish as publish_draft
from tests.flows.test_runtime import run_of, say, sweep
from tests.support import factories
from tests.support.aio import run_async
from tests.support.forms import api_headers, post_form
from tests.support.shop import Shop, close_window, shop_with_customer
from tests.support.step_up import confirm_headers
from tests.support.whatsapp import conversation_with, sa_mobile, sent_to
from tests.support.worker import run_queued_jobs, started

SAST = ZoneInfo("Africa/Johannesburg")
JPEG = {"content_type": "image/jpeg", "data_base64": "/9j/4AAQSkZJRgABAQ=="}
PDF = {
    "content_type": "application/pdf",
    "data_base64": base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n").decode(),
    "filename": "plan.pdf",
}
PIN = {"latitude": -33.9249, "longitude": 18.4241, "address": "12 Long Street", "label": "Home"}
CHOICE_HINT = "Please reply with the number of your choice."
HOURS_PAGE = "/settings/business/hours"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# ---- helpers --------------------------------------------------------------------------------


def publish(client: httpx.Client, definition: dict[str, Any], name: str = "Flow") -> str:
    """Publish, then run the jobs publishing queues (a choice's Twilio Content)."""
    flow_id = publish_draft(client, definition, name=name)
    settings = factories.settings_of(client)
    run_async(lambda: run_queued_jobs(settings))
    return flow_id


def texts(standin: StandinServer, phone: str) -> list[str]:
    """What the customer reads: a message's text, or a choice's numbered text (the
    `twilio/text` fallback of its buttons or list)."""
    return [
        m["content_variables"].get("2", m["body"]) if m["content_sid"] else m["body"]
        for m in sent_to(standin, phone)
    ]


def keyword(word: str, *steps: dict[str, Any]) -> dict[str, Any]:
    return {"format": 1, "trigger": {"kind": "keyword", "keywords": [word]}, "steps": list(steps)}


def ask(id: str, text: str, expect: str, save_as: str, **more: Any) -> dict[str, Any]:
    return {
        "kind": "ask",
        "id": id,
        "title": id.title(),
        "text": text,
        "expect": expect,
        "save_as": save_as,
        **more,
    }


def choose(
    id: str, text: str, options: list[tuple[str, str]], then: str, **more: Any
) -> dict[str, Any]:
    return {
        "kind": "choose",
        "id": id,
        "title": id.title(),
        "text": text,
        "options": [{"id": o, "title": t, "next": then} for o, t in options],
        "save_as": id,
        **more,
    }


def send(id: str, text: str, then: str | None = None) -> dict[str, Any]:
    return {"kind": "send", "id": id, "title": id.title(), "text": text, "next": then}


def end(text: str, id: str = "bye") -> dict[str, Any]:
    return {"kind": "end", "id": id, "title": "Bye", "text": text}


def runs_of(owner_conn: psycopg.Connection, phone: str) -> list[dict[str, Any]]:
    rows = owner_conn.execute(
        "select r.status, r.trigger, r.waiting, r.step_id, r.end_reason, r.id, r.conversation_id "
        "from flow_runs r join contacts c on c.tenant_id = r.tenant_id and c.id = r.contact_id "
        "where c.phone_e164 = %s order by r.started_at",
        (phone,),
    ).fetchall()
    keys = ("status", "trigger", "waiting", "step_id", "end_reason", "id", "conversation_id")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def journal(owner_conn: psycopg.Connection, run_id: uuid.UUID) -> list[str]:
    rows = owner_conn.execute(
        "select outcome from flow_run_steps where run_id = %s order by seq", (run_id,)
    )
    return [row[0] for row in rows]


def events(client: httpx.Client, phone: str) -> list[dict[str, Any]]:
    conversation = conversation_with(client, phone)["id"]
    response = client.get(f"/api/v1/conversations/{conversation}/events")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def notes(client: httpx.Client, phone: str) -> list[str]:
    return [e["body"] for e in events(client, phone) if e["kind"] == "note"]


def handoff_events(owner_conn: psycopg.Connection, conversation_id: str) -> list[dict[str, Any]]:
    """The durable `conversation.handoff` events (each a job the notifications act on)."""
    rows = owner_conn.execute(
        "select args, status from procrastinate_jobs where task_name = 'events.after_commit' "
        "and args->>'event' = 'conversation.handoff' "
        "and args->'data'->>'conversation_id' = %s order by id",
        (conversation_id,),
    ).fetchall()
    return [{**args["data"], "job_status": status} for args, status in rows]


def contact_of(client: httpx.Client, phone: str) -> dict[str, Any]:
    contact_id = conversation_with(client, phone)["contact"]["id"]
    response = client.get(f"/api/v1/contacts/{contact_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def patch_contact(client: httpx.Client, phone: str, **changes: Any) -> None:
    contact_id = conversation_with(client, phone)["contact"]["id"]
    response = client.patch(
        f"/api/v1/contacts/{contact_id}", json=changes, headers=api_headers(client)
    )
    assert response.status_code == 200, response.text


def set_hours(client: httpx.Client, *, open_days: tuple[str, ...]) -> None:
    """Weekly hours through the settings page: these days open all day, the others closed."""
    form: dict[str, str] = {}
    for day in open_days:
        form |= {f"{day}_open": "on", f"{day}_start": "00:00", f"{day}_end": "23:59"}
    saved = post_form(client, HOURS_PAGE, form, csrf_page=HOURS_PAGE)
    assert saved.status_code == 303, saved.text[:500]


def reasked(hint: str, question: str) -> str:
    return f"{hint}\n\n{question}"


def customer(shop: Shop, phone: str) -> Shop:
    return Shop(shop.client, shop.headers, shop.channel, phone)


# ---- ask: every expectation ----------------------------------------------------------------

ASKS = keyword(
    "asks",
    ask("job", "Tell us about the job.", "text", "job"),
    ask("who", "Your name?", "name", "who"),
    ask("mail", "Your email?", "email", "mail"),
    ask("alt", "Another number to reach you?", "phone", "alt"),
    ask("taps", "How many taps?", "number", "taps", minimum=1, maximum=10, max_tries=4),
    ask("when1", "When? (words)", "datetime", "when1"),
    ask("when2", "When? (day/month)", "datetime", "when2"),
    ask("when3", "When? (ISO)", "datetime", "when3"),
    ask("street", "Where is the job?", "address", "street"),
    ask("pin", "Please share your location.", "address", "pin"),
    ask("photo", "A photo, please.", "photo", "photos", hint="A photo helps us bring parts."),
    ask("plan", "The floor plan as a file, please.", "document", "plan"),
    end("Thanks {who}: {taps} taps, {photos} and {plan}. See you {when2}."),
)

ASK_SCRIPT: list[tuple[str, dict[str, Any], str]] = [
    # (what the customer sends, its extras, the hint it gets back; "" for a good answer)
    ("   ", {}, "Please type your answer."),
    ("A leaking kitchen tap", {}, ""),
    ("1234", {}, "Please type your name."),
    ("  Thandi   Mokoena ", {}, ""),
    ("thandi@", {}, "That doesn't look like an email address."),
    ("Thandi@Example.co.za", {}, ""),
    ("12345", {}, "Please send a phone number like 082 123 4567."),
    ("082 123 4567", {}, ""),
    ("lots", {}, "Please answer with a number."),
    ("11", {}, "Please answer with a number."),
    ("0", {}, "Please answer with a number."),
    ("4", {}, ""),
    ("soon", {}, "Please send a date and time"),
    ("tomorrow 2pm", {}, ""),
    ("25/12 14:00", {}, ""),
    ("2027-03-01 09:30", {}, ""),
    ("ab", {}, "Please type the street address or suburb"),
    ("12 Long Street, Cape Town", {}, ""),
    ("", PIN, ""),
    ("", {"media": [PDF]}, "A photo helps us bring parts."),
    ("", {"media": [JPEG]}, ""),
    ("It's in my email", {}, "Please send the document as a file."),
    ("", {"media": [PDF]}, ""),
]


def test_every_ask_takes_a_good_answer_and_re_asks_a_bad_one_with_its_hint(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    publish(client, ASKS, name="Every answer")
    phone = sa_mobile()
    say(live_server, standin, shop.channel, phone, "asks")
    questions = {step["id"]: step.get("text", "") for step in ASKS["steps"]}
    print(
        "DBG",
        runs_of(owner_conn, phone),
        owner_conn.execute(
            "select m.body, m.handled_at, m.direction from messages m join conversations c on c.id=m.conversation_id join contacts k on k.id=c.contact_id where k.phone_e164=%s",
            (phone,),
        ).fetchall(),
        owner_conn.execute(
            "select j.task_name, j.attempts, (select array_agg(e.type::text) from procrastinate_events e where e.job_id=j.id) from procrastinate_jobs j where j.status <> 'succeeded' order by j.id desc limit 5"
        ).fetchall(),
    )
    assert texts(standin, phone) == [questions["job"]]
    for body, extra, hint in ASK_SCRIPT:
        step_id = run_of(owner_conn, phone)["step_id"]
        before = len(texts(standin, phone))
        say(live_server, standin, shop.channel, phone, body, **extra)
        replies = texts(standin, phone)[before:]
        assert len(replies) == 1, (body, replies)
        if hint:
            assert replies[0].startswith(hint), (body, replies)
            assert replies[0].endswith(f"\n\n{questions[step_id]}"), (body, replies)
            assert run_of(owner_conn, phone)["step_id"] == step_id
        else:
            assert run_of(owner_conn, phone)["step_id"] != step_id or replies[0].startswith(
                "Thanks"
            ), (body, replies)

    run = run_of(owner_conn, phone)
    assert run["status"] == "completed"
    answers = run["answers"]
    tomorrow = (datetime.now(UTC).astimezone(SAST) + timedelta(days=1)).date()
    year = datetime.now(UTC).astimezone(SAST).year
    assert answers["job"] == "A leaking kitchen tap"
    assert answers["who"] == "Thandi Mokoena"
    assert answers["mail"] == "thandi@example.co.za"
    assert answers["alt"] == "+27821234567"
    assert answers["taps"] == "4"
    assert answers["when1"] == f"{tomorrow.isoformat()}T14:00:00+02:00"
    assert answers["when2"] == f"{year}-12-25T14:00:00+02:00"
    assert answers["when3"] == "2027-03-01T09:30:00+02:00"
    assert answers["street"] == "12 Long Street, Cape Town"
    assert answers["pin"] == "Home, 12 Long Street (-33.92490, 18.42410)"
    assert len(answers["photos"]) == 1 and len(answers["plan"]) == 1
    assert answers["photos"] != answers["plan"]
    assert texts(standin, phone)[-1] == (
        f"Thanks Thandi Mokoena: 4 taps, 1 file and 1 file. See you {year}-12-25T14:00:00+02:00."
    )
    outcomes = journal(owner_conn, run["id"])
    assert outcomes.count("invalid") == sum(1 for _, _, hint in ASK_SCRIPT if hint)
    assert outcomes.count("answered") == 12


# ---- choose ----------------------------------------------------------------------------------

CHOICES = keyword(
    "pick",
    choose("service", "Which service?", [("leak", "A leak"), ("geyser", "Geyser")], "area"),
    choose(
        "area",
        "Which part of town?",
        [("north", "Northern suburbs"), ("south", "Southern suburbs"), ("city", "City bowl")],
        "urgency",
        style="list",
        button="Areas",
    ),
    choose(
        "urgency",
        "How urgent?",
        [("now", "Today"), ("week", "This week"), ("later", "Later")],
        "payer",
    ),
    choose("payer", "Who pays?", [("me", "Me"), ("landlord", "My landlord")], "call"),
    choose("call", "Shall we phone you?", [("yes", "Yes please"), ("no", "No thanks")], "bye"),
    end("Done: {service}, {area}, {urgency}, {payer}, {call}."),
)


def test_choices_by_button_list_item_number_and_title_and_bad_ones_hand_off(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    publish(client, CHOICES, name="Choices")
    phone = sa_mobile()
    say(live_server, standin, shop.channel, phone, "pick")
    assert texts(standin, phone) == [
        "Which service?\n\n1. A leak\n2. Geyser\n\nReply with a number."
    ]

    # A quick-reply button's payload.
    say(live_server, standin, shop.channel, phone, "Geyser", button_payload="geyser")
    assert texts(standin, phone)[-1].startswith("Which part of town?\n\n1. Northern suburbs")
    listed = sent_to(standin, phone)[-1]
    assert listed["content_type"] == "twilio/list-picker"
    assert [i["id"] for i in listed["content_types"]["twilio/list-picker"]["items"]] == [
        "north",
        "south",
        "city",
    ]
    # A list item's id wins over the text beside it.
    say(live_server, standin, shop.channel, phone, "City bowl", list_id="south")
    assert texts(standin, phone)[-1].startswith("How urgent?")
    # The number typed.
    say(live_server, standin, shop.channel, phone, " 2 ")
    assert texts(standin, phone)[-1].startswith("Who pays?")
    # The title typed, in any case, with a full stop.
    say(live_server, standin, shop.channel, phone, "my LANDLORD.")
    question = "Shall we phone you?\n\n1. Yes please\n2. No thanks\n\nReply with a number."
    assert texts(standin, phone)[-1] == question

    run = run_of(owner_conn, phone)
    assert run["answers"] == {
        "service": "Geyser",
        "service_id": "geyser",
        "area": "Southern suburbs",
        "area_id": "south",
        "urgency": "This week",
        "urgency_id": "week",
        "payer": "My landlord",
        "payer_id": "landlord",
    }

    # Bad choices: a word, a number out of range, a stale button; the third hands off.
    say(live_server, standin, shop.channel, phone, "maybe")
    assert texts(standin, phone)[-1] == reasked(CHOICE_HINT, question)
    say(live_server, standin, shop.channel, phone, "3")
    assert texts(standin, phone)[-1] == reasked(CHOICE_HINT, question)
    assert run_of(owner_conn, phone)["tries"] == 2
    sent_before = len(texts(standin, phone))
    say(live_server, standin, shop.channel, phone, "Old button", button_payload="stale")
    assert len(texts(standin, phone)) == sent_before, "a hand-off sends the customer nothing"
    run = run_of(owner_conn, phone)
    assert run["status"] == "handed_off"
    assert run["end_reason"] == "no valid answer to “Call” after 3 tries"
    assert f"Flow handed over: {run['end_reason']}" in notes(client, phone)
    conversation = conversation_with(client, phone)["id"]
    [handoff] = handoff_events(owner_conn, conversation)
    assert handoff["reason"] == run["end_reason"] and handoff["run_id"] == str(run["id"])
    assert handoff["job_status"] == "succeeded"


# ---- branch ----------------------------------------------------------------------------------


def branch(id: str, on: str, name: str, cases: dict[str, str], default: str) -> dict[str, Any]:
    return {
        "kind": "branch",
        "id": id,
        "title": id.title(),
        "on": on,
        "name": name,
        "cases": [{"equals": k, "next": v} for k, v in cases.items()],
        "default": default,
    }


BRANCHES = keyword(
    "branch",
    ask("what", "Leak or something else?", "text", "what"),
    branch("by_answer", "answer", "what", {"LEAK": "a_leak"}, "a_other"),
    send("a_leak", "Answer: leak", "by_field"),
    send("a_other", "Answer: other", "by_field"),
    branch("by_field", "contact_field", "email", {"vip@example.co.za": "f_yes"}, "f_no"),
    send("f_yes", "Field: match", "by_tag"),
    send("f_no", "Field: no match", "by_tag"),
    branch("by_tag", "tag", "VIP", {"yes": "t_yes", "no": "t_no"}, "t_no"),
    send("t_yes", "Tag: yes", "by_hours"),
    send("t_no", "Tag: no", "by_hours"),
    branch("by_hours", "business_hours", "", {"open": "h_open", "closed": "h_closed"}, "h_closed"),
    send("h_open", "Hours: open", "bye"),
    send("h_closed", "Hours: closed", "bye"),
    end("Bye."),
)


def test_branches_on_an_answer_a_contact_field_a_tag_and_business_hours(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop = shop_with_customer(client, standin)
    publish(client, BRANCHES, name="Branches")

    def walk(phone: str, answer: str) -> set[str]:
        """What one walk through the branches sends (as a set: see the ordering test)."""
        say(live_server, standin, shop.channel, phone, "branch")
        before = len(texts(standin, phone))
        say(live_server, standin, shop.channel, phone, answer)
        assert run_of(owner_conn, phone)["status"] == "completed"
        sent = texts(standin, phone)[before:]
        assert len(sent) == 5, sent
        return set(sent)

    # "Now" for the flow's business hours, as the hours tests pass it: a plain Tuesday
    # morning (15 December 2026, 10:00 in Johannesburg) unless a case says otherwise.
    real_open_at = steps.open_at

    def at(instant: datetime) -> None:
        async def open_then(uow: Any, _now: datetime) -> bool:
            return await real_open_at(uow, instant)

        monkeypatch.setattr(steps, "open_at", open_then)

    at(datetime(2026, 12, 15, 10, 0, tzinfo=SAST))

    # Every case matches: the answer (any case), the email, the tag (any case), open.
    set_hours(client, open_days=DAYS)
    vip = sa_mobile()
    say(live_server, standin, shop.channel, vip, "Hello")
    patch_contact(client, vip, email="vip@example.co.za", tags=["vip"])
    assert walk(vip, "leak") == {"Answer: leak", "Field: match", "Tag: yes", "Hours: open", "Bye."}

    # Every default: another answer, another email, another tag, closed all week.
    set_hours(client, open_days=())
    other = sa_mobile()
    say(live_server, standin, shop.channel, other, "Hello")
    patch_contact(client, other, email="someone@example.co.za", tags=["geyser"])
    assert walk(other, "a geyser") == {
        "Answer: other",
        "Field: no match",
        "Tag: no",
        "Hours: closed",
        "Bye.",
    }

    # Open every day, but public holidays are closed: Day of Reconciliation (Wednesday 16
    # December 2026), Good Friday 2027 (26 March), and the Monday on which National Women's
    # Day 2026 (a Sunday) is observed.
    set_hours(client, open_days=DAYS)
    for instant in (
        datetime(2026, 12, 16, 10, 0, tzinfo=SAST),
        datetime(2027, 3, 26, 11, 0, tzinfo=SAST),
        datetime(2026, 8, 10, 11, 0, tzinfo=SAST),
    ):
        at(instant)
        assert "Hours: closed" in walk(sa_mobile(), "leak"), instant
    at(datetime(2026, 8, 11, 11, 0, tzinfo=SAST))  # the Tuesday after: open again
    assert "Hours: open" in walk(sa_mobile(), "leak")


# ---- set_field and tag -----------------------------------------------------------------------

PROFILE = keyword(
    "profile",
    ask("who", "Your name?", "name", "who"),
    ask("mail", "Your email?", "email", "mail"),
    ask("where", "Your address?", "address", "where"),
    {"kind": "set_field", "id": "set_name", "title": "Name", "field": "name", "value": "{who}"},
    {"kind": "set_field", "id": "set_mail", "title": "Mail", "field": "email", "value": "{mail}"},
    {
        "kind": "set_field",
        "id": "set_addr",
        "title": "Addr",
        "field": "address",
        "value": "{where}",
    },
    {
        "kind": "set_field",
        "id": "set_notes",
        "title": "Notes",
        "field": "notes",
        "value": "Wants a call-back about {where}",
    },
    {"kind": "tag", "id": "tag_lead", "title": "Lead", "tag": "flow-lead"},
    {"kind": "tag", "id": "untag", "title": "Untag", "tag": "cold", "remove": True},
    end("Saved, {who}."),
)


def test_set_field_changes_the_contact_and_tags_are_added_and_removed(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    publish(client, PROFILE, name="Profile")
    phone = sa_mobile()
    say(live_server, standin, shop.channel, phone, "profile")
    patch_contact(client, phone, name="Old Name", tags=["Cold", "vip"], notes="old notes")
    for answer in ("Lerato Dlamini", "LERATO@example.co.za", "7 Vilakazi St, Soweto"):
        say(live_server, standin, shop.channel, phone, answer)
    assert texts(standin, phone)[-1] == "Saved, Lerato Dlamini."
    assert run_of(owner_conn, phone)["status"] == "completed"
    contact = contact_of(client, phone)
    assert contact["name"] == "Lerato Dlamini"
    assert contact["email"] == "lerato@example.co.za"
    assert contact["address"] == "7 Vilakazi St, Soweto"
    assert contact["notes"] == "Wants a call-back about 7 Vilakazi St, Soweto"
    assert contact["tags"] == ["vip", "flow-lead"], "added once; removed in any case"
    listed = client.get("/api/v1/contacts").json()
    items = listed["items"] if isinstance(listed, dict) else listed
    assert any(c["phone"] == phone and c["name"] == "Lerato Dlamini" for c in items)


# ---- lead and the ad trigger -----------------------------------------------------------------

AD_ID = "120210001"
AD_FLOW: dict[str, Any] = {
    "format": 1,
    "trigger": {"kind": "ad", "source_ids": [AD_ID]},
    "steps": [
        choose(
            "service", "What needs fixing?", [("geyser", "Geyser"), ("leak", "A leak")], "where"
        ),
        ask("where", "Which suburb?", "address", "suburb"),
        choose("urgency", "How soon?", [("today", "Today"), ("week", "This week")], "budget"),
        ask("budget", "Your budget?", "number", "budget"),
        ask("pics", "A photo, please.", "photo", "photos"),
        {
            "kind": "lead",
            "id": "lead",
            "title": "Lead",
            "fields": {
                "service": "service",
                "suburb": "suburb",
                "urgency": "urgency",
                "estimated_value": "budget",
                "photos": "photos",
            },
        },
        end("Thanks! A plumber will call about your {service}."),
    ],
}
REFERRAL = {
    "ctwa_clid": "ARAbc123xyz",
    "source_id": AD_ID,
    "source_url": "https://fb.me/2abcDEF",
    "source_type": "ad",
    "headline": "Geyser burst?",
    "body": "Tap to chat to a plumber",
}


def test_an_ads_flow_filters_by_source_id_and_its_lead_keeps_the_referral_and_answers(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    publish(client, AD_FLOW, name="Ad leads")
    other_ad, plain, from_ad = sa_mobile(), sa_mobile(), sa_mobile()
    say(
        live_server,
        standin,
        shop.channel,
        other_ad,
        "Hi from another ad",
        referral={**REFERRAL, "source_id": "999", "ctwa_clid": "ARother"},
    )
    say(live_server, standin, shop.channel, plain, "Hi")  # Twilio's ReferralNumMedia=0 only
    assert texts(standin, other_ad) == [] and texts(standin, plain) == []
    assert runs_of(owner_conn, other_ad) == [] and runs_of(owner_conn, plain) == []

    say(live_server, standin, shop.channel, from_ad, "Hi, I saw your ad", referral=REFERRAL)
    assert texts(standin, from_ad)[-1].startswith("What needs fixing?")
    assert run_of(owner_conn, from_ad)["answers"]["_referral"]["ctwa_clid"] == "ARAbc123xyz"
    for body, extra in (
        ("1", {}),
        ("Sea Point", {}),
        ("This week", {}),
        ("R2 500", {}),
        ("", {"media": [JPEG]}),
    ):
        say(live_server, standin, shop.channel, from_ad, body, **extra)
    assert texts(standin, from_ad)[-1] == "Thanks! A plumber will call about your Geyser."
    run = run_of(owner_conn, from_ad)
    assert run["status"] == "completed" and runs_of(owner_conn, from_ad)[0]["trigger"] == "ad"

    [lead] = [
        item for item in client.get("/api/v1/leads").json() if item["contact_phone"] == from_ad
    ]
    assert lead["source"] == "ad"
    assert (lead["service"], lead["suburb"], lead["urgency"]) == (
        "Geyser",
        "Sea Point",
        "This week",
    )
    assert lead["photos"] == run["answers"]["photos"] and len(lead["photos"]) == 1
    assert lead["conversation_id"] == conversation_with(client, from_ad)["id"]
    referral = lead["referral"]
    assert referral["ctwa_clid"] == "ARAbc123xyz"
    assert referral["source_id"] == AD_ID
    assert referral["source_url"] == "https://fb.me/2abcDEF"
    assert referral["headline"] == "Geyser burst?"
    assert lead["answers"]["budget"] == "2500"
    assert lead["answers"]["service_id"] == "geyser"
    assert lead["answers"]["suburb"] == "Sea Point"
    assert not [key for key in lead["answers"] if key.startswith("_")]
    assert not [i for i in client.get("/api/v1/leads").json() if i["contact_phone"] == other_ad]


# ---- assign ----------------------------------------------------------------------------------


def test_assign_to_a_named_member_and_round_robin_among_active_members(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    settings = factories.settings_of(client)
    tenant_id, owner_id = factories.signed_in_as(client)
    agents = [
        factories.teammate(
            settings,
            tenant_id,
            owner_id,
            email=factories.unique_email("agent"),
            role=Role.AGENT,
            name=f"Agent {n}",
        ).user_id
        for n in (1, 2)
    ]
    named = keyword(
        "agent",
        {"kind": "assign", "id": "to", "title": "To", "to": "member", "member_id": str(agents[0])},
        end("Agent 1 will help you."),
    )
    spread = keyword(
        "anyone",
        {"kind": "assign", "id": "to", "title": "To", "to": "round_robin"},
        end("Someone will help you."),
    )
    publish(client, named, name="Named")
    publish(client, spread, name="Round robin")

    phone = sa_mobile()
    say(live_server, standin, shop.channel, phone, "agent")
    assert texts(standin, phone) == ["Agent 1 will help you."]
    assert conversation_with(client, phone)["assignee_id"] == str(agents[0])
    [assigned] = [e for e in events(client, phone) if e["kind"] == "assigned"]
    assert assigned["data"]["assignee_id"] == str(agents[0])
    assert assigned["data"]["assignee_name"] == "Agent 1"

    members = {str(owner_id), *map(str, agents)}
    load = {member: 0 for member in members}
    load[str(agents[0])] = 1
    for _ in range(5):
        phone = sa_mobile()
        say(live_server, standin, shop.channel, phone, "anyone")
        assignee = conversation_with(client, phone)["assignee_id"]
        assert assignee in members
        load[assignee] += 1
        assert max(load.values()) - min(load.values()) <= 1, load

    removed = client.delete(f"/api/v1/members/{agents[1]}", headers=confirm_headers(client))
    assert removed.status_code == 204, removed.text
    for _ in range(3):
        phone = sa_mobile()
        say(live_server, standin, shop.channel, phone, "anyone")
        assert conversation_with(client, phone)["assignee_id"] != str(agents[1])


# ---- notify, hand-off and end texts ----------------------------------------------------------

NOTIFY = keyword(
    "help",
    ask("who", "Your name?", "name", "who"),
    ask("issue", "What's wrong?", "text", "issue"),
    {"kind": "notify", "id": "tell", "title": "Tell", "text": "{who} needs help: {issue}"},
    {
        "kind": "handoff",
        "id": "human",
        "title": "Human",
        "text": "Thanks {who}, Anna takes it from here.",
    },
)


def test_notify_leaves_a_note_and_the_hand_off_tells_the_customer_and_the_team(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    publish(client, NOTIFY, name="Help")
    phone = sa_mobile()
    for body in ("help", "Sipho Ndlovu", "The geyser burst"):
        say(live_server, standin, shop.channel, phone, body)
    assert texts(standin, phone)[-1] == "Thanks Sipho Ndlovu, Anna takes it from here."
    run = run_of(owner_conn, phone)
    assert run["status"] == "handed_off"
    assert run["end_reason"] == "the flow hands this conversation over"
    assert sorted(notes(client, phone)) == [
        "Flow handed over: the flow hands this conversation over",
        "Sipho Ndlovu needs help: The geyser burst",
    ]
    conversation = conversation_with(client, phone)["id"]
    found = handoff_events(owner_conn, conversation)
    assert {e["job_status"] for e in found} == {"succeeded"}
    assert [e["reason"] for e in found] == [
        "Sipho Ndlovu needs help: The geyser burst",
        "the flow hands this conversation over",
    ]
    assert journal(owner_conn, run["id"])[-2:] == ["notified", "handed_off"]
    # The run is over: the next message is the team's, not an answer.
    say(live_server, standin, shop.channel, phone, "Hello?")
    assert texts(standin, phone)[-1] == "Thanks Sipho Ndlovu, Anna takes it from here."


# ---- wait ------------------------------------------------------------------------------------

WAIT = keyword(
    "later",
    ask("who", "Your name?", "name", "who"),
    {"kind": "wait", "id": "pause", "title": "Pause", "seconds": 3600},
    send("check", "Checking in, {who}: is it still leaking?"),
    end("Bye {who}."),
)


def wake_now(owner_conn: psycopg.Connection, run_id: uuid.UUID) -> None:
    owner_conn.execute(
        "update flow_runs set wake_at = now() - interval '1 second' where id = %s", (run_id,)
    )


def test_a_wait_is_swept_on_and_one_ending_outside_the_window_hands_off(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    publish(client, WAIT, name="Wait")
    patient, gone_quiet = sa_mobile(), sa_mobile()
    for phone in (patient, gone_quiet):
        say(live_server, standin, shop.channel, phone, "later")
        say(live_server, standin, shop.channel, phone, "Sipho")
        [run] = runs_of(owner_conn, phone)
        assert (run["status"], run["waiting"], run["step_id"]) == ("running", "timer", "pause")
        assert texts(standin, phone) == ["Your name?"]

    # A message while waiting is the team's to read; the run keeps waiting for the clock.
    say(live_server, standin, shop.channel, patient, "Hello? Anyone?")
    sweep(live_server.settings)  # not due yet
    [run] = runs_of(owner_conn, patient)
    assert (run["status"], run["waiting"]) == ("running", "timer")
    assert journal(owner_conn, run["id"])[-1] == "ignored"
    assert texts(standin, patient) == ["Your name?"]

    wake_now(owner_conn, run["id"])
    assert sweep(live_server.settings) >= 1
    live_server.run_jobs()
    assert texts(standin, patient)[0] == "Your name?"
    assert sorted(texts(standin, patient)[1:]) == [
        "Bye Sipho.",
        "Checking in, Sipho: is it still leaking?",
    ]
    assert run_of(owner_conn, patient)["status"] == "completed"
    assert journal(owner_conn, run["id"])[-4:] == ["ignored", "woke", "sent", "ended"]

    close_window(customer(shop, gone_quiet), standin, owner_conn)
    [quiet_run] = runs_of(owner_conn, gone_quiet)
    wake_now(owner_conn, quiet_run["id"])
    sweep(live_server.settings)
    live_server.run_jobs()
    assert texts(standin, gone_quiet) == ["Your name?"], "no free text outside the window"
    [quiet_run] = runs_of(owner_conn, gone_quiet)
    assert quiet_run["status"] == "handed_off"
    assert quiet_run["end_reason"].startswith("a message could not be sent")
    assert any(
        n.startswith("Flow handed over: a message could not be sent")
        for n in notes(client, gone_quiet)
    )
    conversation = conversation_with(client, gone_quiet)["id"]
    assert len(handoff_events(owner_conn, conversation)) == 1


# ---- webhook ---------------------------------------------------------------------------------


@dataclass
class Receiver:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def at(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook endpoint on loopback: /ok answers JSON, /fail answers 500."""
    found = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with found.lock:
                found.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
            if self.path == "/ok":
                answer = json.dumps({"ref": "CC-42", "eta": 3, "nested": {"x": 1}}).encode()
                self.send_response(200)
            else:
                answer = b'{"error": "down"}'
                self.send_response(500)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.url = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def hook_flow(word: str, url: str) -> dict[str, Any]:
    return keyword(
        word,
        ask("who", "Your name?", "name", "who"),
        {
            "kind": "webhook",
            "id": "crm",
            "title": "CRM",
            "url": url,
            "answers": {"ref": "ref", "eta": "eta", "nested": "nested"},
        },
        end("Booked, {who}: ref {ref}, {eta} days."),
    )


def verify_standard_webhook(secret: str, request: dict[str, Any]) -> None:
    """The Standard Webhooks reference check: HMAC-SHA256 of "{id}.{timestamp}.{body}" with
    the base64-decoded key after `whsec_`, any of the space-separated `v1,` signatures."""
    headers = {k.lower(): v for k, v in request["headers"].items()}
    message_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    assert abs(time.time() - int(timestamp)) < 300
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + request["body"]
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [s.split(",", 1) for s in headers["webhook-signature"].split(" ")]
    assert any(
        version == "v1" and hmac.compare_digest(sig, expected) for version, sig in offered
    ), "no valid v1 signature"
    assert headers["content-type"] == "application/json"


def flow_secret(settings: Settings, tenant_id: uuid.UUID) -> str:
    async def read() -> str:
        async with started(settings) as (_, lazy):
            resources = await lazy.get()
            async with resources.unit_of_work(tenant_id) as uow:
                return await flow_tasks.webhook_secret(uow, resources.keyring)

    return run_async(read)


def run_retries_now(owner_conn: psycopg.Connection, run_id: uuid.UUID) -> int:
    """Make the run's scheduled webhook retry due now; how many were moved."""
    moved = owner_conn.execute(
        "update procrastinate_jobs set scheduled_at = now() where task_name = %s "
        "and status = 'todo' and args->>'run_id' = %s",
        (steps.WEBHOOK_TASK, str(run_id)),
    )
    return moved.rowcount


def test_a_webhook_step_is_signed_maps_its_reply_and_retries_then_goes_on(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop = shop_with_customer(client, standin)
    # Flows accept only https webhooks; the loopback receiver speaks plain http, which the
    # SSRF-safe client allows in tests (WEBHOOK_ALLOW_PRIVATE_TARGETS): the step keeps its
    # https URL and only the scheme of the connection is swapped.
    real_post = flow_tasks.post

    async def over_http(http: httpx.AsyncClient, url: str, *args: Any, **kwargs: Any) -> Any:
        assert url.startswith("https://")
        return await real_post(http, "http://" + url.removeprefix("https://"), *args, **kwargs)

    monkeypatch.setattr(flow_tasks, "post", over_http)
    flow_id = publish(client, hook_flow("hook", f"https://{receiver.url}/ok"), name="Hook")
    publish(client, hook_flow("hookfail", f"https://{receiver.url}/fail"), name="Failing hook")
    tenant_id, _ = factories.signed_in_as(client)

    good = sa_mobile()
    say(live_server, standin, shop.channel, good, "hook")
    say(live_server, standin, shop.channel, good, "Thandi")
    assert texts(standin, good)[-1] == "Booked, Thandi: ref CC-42, 3 days."
    [call] = receiver.at("/ok")
    verify_standard_webhook(flow_secret(live_server.settings, tenant_id), call)
    run = run_of(owner_conn, good)
    payload = json.loads(call["body"])
    assert payload["type"] == "flow.step" and payload["step_id"] == "crm"
    assert payload["run_id"] == str(run["id"]) and payload["flow_id"] == flow_id
    assert payload["answers"] == {"who": "Thandi"}
    assert payload["conversation_id"] == conversation_with(client, good)["id"]
    assert run["status"] == "completed"
    assert run["answers"] == {"who": "Thandi", "ref": "CC-42", "eta": "3"}, "objects are skipped"
    assert journal(owner_conn, run["id"])[-3:] == ["calling", "called", "ended"]

    failing = sa_mobile()
    say(live_server, standin, shop.channel, failing, "hookfail")
    say(live_server, standin, shop.channel, failing, "Sipho")
    run = run_of(owner_conn, failing)
    assert (run["status"], run["step_id"]) == ("running", "crm")
    assert len(receiver.at("/fail")) == 1
    assert texts(standin, failing) == ["Your name?"]
    # The retries are 5 s and 30 s later: bring each forward.
    for attempt in (2, 3):
        assert run_retries_now(owner_conn, run["id"]) == 1
        live_server.run_jobs()
        assert len(receiver.at("/fail")) == attempt
    assert run_retries_now(owner_conn, run["id"]) == 0, "no fourth try"
    calls = receiver.at("/fail")
    ids = {{k.lower(): v for k, v in c["headers"].items()}["webhook-id"] for c in calls}
    assert len(ids) == 1, "one webhook-id across the retries"
    secret = flow_secret(live_server.settings, tenant_id)
    for each in calls:
        verify_standard_webhook(secret, each)
    run = run_of(owner_conn, failing)
    assert run["status"] == "completed"
    assert texts(standin, failing)[-1] == "Booked, Sipho: ref ,  days.", "missing answers: empty"
    assert journal(owner_conn, run["id"])[-3:] == ["calling", "failed", "ended"]


# ---- triggers --------------------------------------------------------------------------------


def test_triggers_new_contact_once_outside_hours_quietly_and_one_run_at_a_time(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    set_hours(client, open_days=())  # closed all week
    welcome = {"format": 1, "trigger": {"kind": "new_contact"}, "steps": [end("Welcome!")]}
    closed = {
        "format": 1,
        "trigger": {"kind": "outside_hours"},
        "steps": [end("We're closed; we'll reply at 8.")],
    }
    menu = keyword("menu", ask("what", "What's up?", "text", "what"), end("Noted: {what}."))
    publish(client, welcome, name="Welcome")
    publish(client, closed, name="After hours")
    publish(client, menu, name="Menu")

    # A new contact outside hours: the new-contact flow wins, and only it runs.
    phone = sa_mobile()
    say(live_server, standin, shop.channel, phone, "Hello")
    assert texts(standin, phone) == ["Welcome!"]
    assert [r["trigger"] for r in runs_of(owner_conn, phone)] == ["new_contact"]
    # Not the first message any more: after hours, once.
    say(live_server, standin, shop.channel, phone, "Hello again")
    say(live_server, standin, shop.channel, phone, "Anyone there?")
    assert texts(standin, phone) == ["Welcome!", "We're closed; we'll reply at 8."]
    assert [r["trigger"] for r in runs_of(owner_conn, phone)] == ["new_contact", "outside_hours"]
    # Twelve hours later it answers again.
    owner_conn.execute(
        "update flow_runs set started_at = started_at - interval '12 hours 1 minute' where id = %s",
        (runs_of(owner_conn, phone)[-1]["id"],),
    )
    say(live_server, standin, shop.channel, phone, "Still closed?")
    assert texts(standin, phone)[-1] == "We're closed; we'll reply at 8."
    assert texts(standin, phone).count("We're closed; we'll reply at 8.") == 2
    assert len(runs_of(owner_conn, phone)) == 3

    # Three triggers match a new contact's "menu" after hours: the keyword's flow alone runs,
    # and while it waits, "menu" again is its answer, not a new run.
    keen = sa_mobile()
    say(live_server, standin, shop.channel, keen, "menu")
    assert texts(standin, keen) == ["What's up?"]
    say(live_server, standin, shop.channel, keen, "menu")
    assert texts(standin, keen) == ["What's up?", "Noted: menu."]
    assert [(r["trigger"], r["status"]) for r in runs_of(owner_conn, keen)] == [
        ("keyword", "completed")
    ]
    live = owner_conn.execute(
        "select conversation_id, count(*) from flow_runs where status in ('running', 'paused') "
        "group by conversation_id having count(*) > 1"
    ).fetchall()
    assert live == []


# ---- contact merge ---------------------------------------------------------------------------


def test_merging_two_contacts_with_live_runs_on_one_channel_leaves_one_live_run(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    publish(client, keyword("book", ask("who", "Your name?", "name", "who"), end("Hi {who}.")))
    kept_phone, duplicate_phone = sa_mobile(), sa_mobile()
    for phone in (kept_phone, duplicate_phone):
        say(live_server, standin, shop.channel, phone, "book")
        assert run_of(owner_conn, phone)["status"] == "running"
    kept = conversation_with(client, kept_phone)
    duplicate = conversation_with(client, duplicate_phone)
    assert kept["channel_id"] == duplicate["channel_id"]

    merged = client.post(
        f"/api/v1/contacts/{kept['contact']['id']}/merge",
        json={"duplicate_id": duplicate["contact"]["id"]},
        headers=api_headers(client),
    )
    assert merged.status_code == 200, merged.text
    statuses = owner_conn.execute(
        "select status, end_reason from flow_runs where conversation_id = %s order by started_at",
        (kept["id"],),
    ).fetchall()
    assert len(statuses) == 2, "the folded thread's run history moves with it"
    assert [s for s, _ in statuses].count("running") == 1
    assert ("stopped", "the conversation was merged into another") in statuses

    say(live_server, standin, shop.channel, kept_phone, "Thandi")
    assert texts(standin, kept_phone)[-1] == "Hi Thandi."
    after = owner_conn.execute(
        "select status from flow_runs where conversation_id = %s order by started_at",
        (kept["id"],),
    ).fetchall()
    assert sorted(s for (s,) in after) == ["completed", "stopped"]


# ---- once bugs: kept as regressions ------------------------------------------------------


def test_a_lead_steps_estimated_value_is_kept_in_rand(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
) -> None:
    shop = shop_with_customer(client, standin)
    value = keyword(
        "budget",
        ask("budget", "Your budget?", "number", "budget"),
        {"kind": "lead", "id": "lead", "title": "Lead", "fields": {"estimated_value": "budget"}},
        end("Noted: R{budget}."),
    )
    publish(client, value, name="Budget")
    phone = sa_mobile()
    say(live_server, standin, shop.channel, phone, "budget")
    say(live_server, standin, shop.channel, phone, "R2 500")
    assert texts(standin, phone)[-1] == "Noted: R2500."
    [lead] = [i for i in client.get("/api/v1/leads").json() if i["contact_phone"] == phone]
    assert lead["estimated_value_cents"] == 250_000


SENDS = keyword(
    "news",
    *[send(f"s{n}", f"Part {n} of 8") for n in range(1, 9)],
    end("The end."),
)


def test_a_walks_messages_reach_the_customer_in_order(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop = shop_with_customer(client, standin)
    publish(client, SENDS, name="Eight parts")
    live_server.run_jobs()
    # The first send is slow to get its rate-limit slot (a busy Redis, a slow network): the
    # next message of the conversation must still wait for it.
    real_slot = whatsapp_tasks.wait_for_send_slot
    slots: list[object] = []

    async def slow_first(redis: Any, channel_id: Any, per_second: Any) -> None:
        slots.append(channel_id)
        if len(slots) == 1:
            await asyncio.sleep(0.5)
        await real_slot(redis, channel_id, per_second)

    monkeypatch.setattr(whatsapp_tasks, "wait_for_send_slot", slow_first)
    phone = sa_mobile()
    say(live_server, standin, shop.channel, phone, "news")
    assert texts(standin, phone) == [f"Part {n} of 8" for n in range(1, 9)] + ["The end."]
