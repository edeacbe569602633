"""A thread's history lines name who did it as the reader says it: "You assigned this to
yourself", "Sipho added the label geyser"; the system's own lines stay as they are."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from clientcompass.inbox.pages import _happening
from clientcompass.models import ConversationEvent, EventKind
from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import invite_and_join, sign_up
from tests.support.forms import api_headers
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile

TZ = ZoneInfo("Africa/Johannesburg")
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
SIPHO = uuid.uuid4()
THANDI = uuid.uuid4()


def line(kind: EventKind, author: uuid.UUID | None, viewer: uuid.UUID, **data: Any) -> str:
    event = ConversationEvent(
        tenant_id=uuid.uuid4(),
        id=uuid.uuid4(),
        conversation_id=uuid.uuid4(),
        kind=kind.value,
        body="",
        author_id=author,
        data=data,
        created_at=NOW,
    )
    return _happening(event, viewer, TZ, NOW).text


def test_lines_are_worded_for_the_reader() -> None:
    sipho = {"by": "Sipho Mokoena", "system": False}
    self_assign = {**sipho, "assignee_id": str(SIPHO), "assignee_name": "Sipho Mokoena"}
    assert line(EventKind.ASSIGNED, SIPHO, SIPHO, **self_assign) == "You assigned this to yourself"
    assert line(EventKind.ASSIGNED, SIPHO, THANDI, **self_assign) == (
        "Sipho assigned this to themselves"
    )
    to_thandi = {**sipho, "assignee_id": str(THANDI), "assignee_name": "Thandi Khumalo"}
    assert line(EventKind.ASSIGNED, SIPHO, THANDI, **to_thandi) == "Sipho assigned this to you"
    assert line(EventKind.ASSIGNED, SIPHO, SIPHO, **to_thandi) == (
        "You assigned this to Thandi Khumalo"
    )
    assert line(EventKind.LABELED, SIPHO, THANDI, **sipho, label="geyser") == (
        "Sipho added the label geyser"
    )
    assert line(EventKind.UNLABELED, SIPHO, SIPHO, **sipho, label="geyser") == (
        "You removed the label geyser"
    )
    assert line(EventKind.NOTE, SIPHO, SIPHO, **sipho) == "Your private note"
    assert line(EventKind.NOTE, SIPHO, THANDI, **sipho) == "Private note by Sipho"
    assert line(EventKind.STATUS, SIPHO, SIPHO, status="resolved", by="Sipho Mokoena") == (
        "You marked this resolved"
    )


def test_the_system_keeps_its_own_lines() -> None:
    system = {"by": "Client Compass", "system": True}
    assert line(EventKind.LABELED, None, SIPHO, **system, label="quote") == (
        "Client Compass added the label quote"
    )
    # Reopened by the customer's message or the snooze alarm, through the SQL function (by "").
    assert line(EventKind.REOPENED, None, SIPHO, by="", reason="message") == (
        "Reopened: the customer wrote again"
    )
    assert line(EventKind.REOPENED, None, SIPHO, by="", reason="snooze") == (
        "Reopened: the snooze ended"
    )
    assert line(EventKind.STATUS, None, SIPHO, by="", status="open") == (
        "Client Compass marked this open"
    )
    assert "Someone" not in line(EventKind.LABELED, None, SIPHO, label="x")


def events_seen(client: httpx.Client, cid: str) -> list[str]:
    html = client.get(f"/inbox/{cid}/thread").text
    lines = re.findall(r'data-testid="system-event"[^>]*>([^<]*?) · ', html)
    notes = re.findall(r'class="note-head small">🔒 ([^<]*?) · ', html)
    return lines + notes


def test_each_teammate_reads_the_thread_in_their_own_words(
    client: httpx.Client, live_server: LiveServer, standin: StandinServer
) -> None:
    owner = sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "My geyser burst")
    cid = conversation_with(client, phone)["id"]
    with httpx.Client(base_url=live_server.url, timeout=20) as agent:
        invite_and_join(client, agent)
        agent_headers = api_headers(agent)
        base = f"/api/v1/conversations/{cid}"
        taken = client.post(
            f"{base}/assignee",
            json={"assignee_id": str(owner.user_id)},
            headers=api_headers(client),
        )
        assert taken.status_code == 200, taken.text
        labelled = agent.post(f"{base}/labels", json={"label": "geyser"}, headers=agent_headers)
        assert labelled.status_code == 200, labelled.text
        noted = agent.post(f"{base}/notes", json={"body": "Call first"}, headers=agent_headers)
        assert noted.status_code == 201, noted.text

        assert events_seen(client, cid) == [
            "You assigned this to yourself",
            "Agent added the label geyser",
            "Private note by Agent",
        ]
        assert events_seen(agent, cid) == [
            "Thandi assigned this to themselves",
            "You added the label geyser",
            "Your private note",
        ]
