"""The shared inbox over HTTP: actions through the JSON API and the pages, filters, search,
keyset pages, snooze, canned responses, escaping and the tenant wall."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from clientcompass.config import Settings
from clientcompass.inbox import tasks as inbox_tasks
from clientcompass.jobs import build_job_app
from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import invite_and_join, sign_up
from tests.support.aio import run_async
from tests.support.forms import api_headers, post_form
from tests.support.step_up import CONFIRM, confirm_headers
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile

XSS = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def inbox(client: httpx.Client, **params: str) -> dict[str, Any]:
    response = client.get("/api/v1/inbox", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def ids(page: dict[str, Any]) -> list[str]:
    return [c["id"] for c in page["conversations"]]


def test_assign_status_labels_and_notes_through_the_api(
    client: httpx.Client, live_server: LiveServer, standin: StandinServer
) -> None:
    owner = sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "My geyser burst")
    conversation = conversation_with(client, phone)
    cid = conversation["id"]
    headers = api_headers(client)
    with httpx.Client(base_url=live_server.url, timeout=20) as agent:
        invite_and_join(client, agent)
        agent_id = agent.get("/api/v1/me").json()["id"]

    assigned = client.post(
        f"/api/v1/conversations/{cid}/assignee", json={"assignee_id": agent_id}, headers=headers
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assignee_id"] == agent_id
    assert assigned.json()["assignee_name"] == "Agent Person"
    assert ids(inbox(client, view="unassigned")) == []
    assert ids(inbox(client, view="mine")) == []
    assert ids(inbox(client)) == [cid]

    me = client.post(
        f"/api/v1/conversations/{cid}/assignee",
        json={"assignee_id": str(owner.user_id)},
        headers=headers,
    )
    assert me.json()["assignee_id"] == str(owner.user_id)
    assert ids(inbox(client, view="mine")) == [cid]

    stranger = client.post(
        f"/api/v1/conversations/{cid}/assignee",
        json={"assignee_id": str(uuid.uuid4())},
        headers=headers,
    )
    assert stranger.status_code == 422
    assert stranger.json()["error"]["fields"] == {"assignee_id": "Choose someone on your team."}

    labels = client.post(
        f"/api/v1/conversations/{cid}/labels", json={"label": "  Urgent  "}, headers=headers
    )
    assert labels.json() == {"labels": ["urgent"]}
    client.post(f"/api/v1/conversations/{cid}/labels", json={"label": "geyser"}, headers=headers)
    assert ids(inbox(client, label="urgent")) == [cid]
    assert ids(inbox(client, label="plumbing")) == []
    removed = client.delete(f"/api/v1/conversations/{cid}/labels/urgent", headers=headers)
    assert removed.json() == {"labels": ["geyser"]}
    assert ids(inbox(client, label="urgent")) == []

    note = client.post(
        f"/api/v1/conversations/{cid}/notes", json={"body": "Call before 10"}, headers=headers
    )
    assert note.status_code == 201 and note.json()["kind"] == "note"

    resolved = client.post(
        f"/api/v1/conversations/{cid}/status", json={"status": "resolved"}, headers=headers
    )
    assert resolved.json()["status"] == "resolved"
    assert ids(inbox(client, status="open")) == []
    assert ids(inbox(client, status="resolved")) == [cid]

    snooze_refused = client.post(
        f"/api/v1/conversations/{cid}/status", json={"status": "snoozed"}, headers=headers
    )
    assert snooze_refused.status_code == 422
    assert snooze_refused.json()["error"]["fields"]["until"].startswith("Choose when")

    kinds = [e["kind"] for e in client.get(f"/api/v1/conversations/{cid}/events").json()]
    assert kinds == ["assigned", "assigned", "labeled", "labeled", "unlabeled", "note", "status"]

    # A customer's new message reopens a resolved conversation.
    customer_says(standin, channel, phone, "It's leaking again")
    assert conversation_with(client, phone)["status"] == "open"

    # The thread shows the note and the system events, and the note is never sent.
    page = client.get(f"/inbox/{cid}").text
    assert "Call before 10" in page and 'data-testid="note"' in page
    assert "assigned this to Agent Person" in page and "marked this resolved" in page
    sent = standin.control("GET", "messages", params={"to": f"whatsapp:{phone}"}).json()
    assert all("Call before 10" not in (m.get("body") or "") for m in sent)


def test_actions_from_the_page_need_the_csrf_token(
    client: httpx.Client, standin: StandinServer
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "Hello")
    cid = conversation_with(client, phone)["id"]
    path = f"/inbox/{cid}"
    for action, data in (
        ("assign", {"assignee_id": "me"}),
        ("status", {"status": "resolved"}),
        ("labels", {"label": "vip"}),
        ("notes", {"note": "secret"}),
    ):
        refused = client.post(f"{path}/{action}", data=data)
        assert refused.status_code == 403, action
    assert (
        client.post("/api/v1/canned-responses", json={"shortcut": "x", "body": "y"}).status_code
        == 403
    )
    assert conversation_with(client, phone)["status"] == "open"

    assert (
        post_form(client, f"{path}/assign", {"assignee_id": "me"}, csrf_page=path).status_code
        == 303
    )
    assert post_form(client, f"{path}/labels", {"label": "VIP"}, csrf_page=path).status_code == 303
    assert (
        post_form(client, f"{path}/notes", {"note": "Quote sent"}, csrf_page=path).status_code
        == 303
    )
    done = post_form(client, f"{path}/status", {"status": "resolved"}, csrf_page=path)
    assert done.status_code == 303 and done.headers["location"] == path
    [row] = inbox(client, status="resolved")["conversations"]
    assert row["labels"] == ["vip"] and row["assignee_name"] == "Thandi Owner"
    assert "Quote sent" in client.get(path).text

    # Snooze from the page's presets; the list and the thread say so.
    preset = re.search(r'<option value="([^"]+)">For 1 hour</option>', client.get(path).text)
    assert preset, "no snooze presets on the page"
    snoozed = post_form(
        client, f"{path}/status", {"status": "snoozed", "until": preset.group(1)}, csrf_page=path
    )
    assert snoozed.status_code == 303
    [row] = inbox(client, status="snoozed")["conversations"]
    assert row["snoozed_until"] is not None
    assert "snoozed this until" in client.get(f"{path}/thread").text
    bad = post_form(
        client, f"{path}/status", {"status": "snoozed", "until": "soon"}, csrf_page=path
    )
    assert bad.status_code == 422 and "wake up" in bad.text


def test_another_tenants_conversation_is_not_found(
    client: httpx.Client, live_server: LiveServer, standin: StandinServer
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "Private to tenant A")
    cid = conversation_with(client, phone)["id"]
    client.post(
        f"/api/v1/conversations/{cid}/notes", json={"body": "A's note"}, headers=api_headers(client)
    )
    with httpx.Client(base_url=live_server.url, timeout=20) as other:
        sign_up(other)
        headers = api_headers(other)
        for method, path, body in (
            ("GET", f"/inbox/{cid}", None),
            ("GET", f"/inbox/{cid}/thread", None),
            ("GET", f"/api/v1/conversations/{cid}/events", None),
            ("GET", f"/api/v1/conversations/{cid}/labels", None),
            ("POST", f"/api/v1/conversations/{cid}/assignee", {"assignee_id": None}),
            ("POST", f"/api/v1/conversations/{cid}/status", {"status": "resolved"}),
            ("POST", f"/api/v1/conversations/{cid}/labels", {"label": "mine"}),
            ("POST", f"/api/v1/conversations/{cid}/notes", {"body": "hi"}),
        ):
            response = other.request(method, path, json=body, headers=headers)
            assert response.status_code == 404, (method, path, response.status_code)
            assert "Private to tenant A" not in response.text and "A's note" not in response.text
        assert inbox(other)["conversations"] == []
        assert inbox(other, q="Private")["conversations"] == []
    assert conversation_with(client, phone)["status"] == "open"


def test_bodies_names_notes_and_labels_are_escaped(
    client: httpx.Client, standin: StandinServer
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, XSS, profile_name="<script>alert(2)</script>")
    cid = conversation_with(client, phone)["id"]
    headers = api_headers(client)
    client.post(f"/api/v1/conversations/{cid}/notes", json={"body": XSS}, headers=headers)
    client.post(f"/api/v1/conversations/{cid}/labels", json={"label": "<b>x</b>"}, headers=headers)
    client.post("/api/v1/canned-responses", json={"shortcut": "xss", "body": XSS}, headers=headers)
    for path in (
        "/inbox",
        "/inbox/rows",
        f"/inbox/{cid}",
        f"/inbox/{cid}/thread",
        f"/inbox/{cid}/head",
    ):
        html = client.get(path).text
        assert XSS not in html and "<script>alert(2)" not in html and "<b>x</b>" not in html, path
    page = client.get(f"/inbox/{cid}").text
    assert page.count(ESCAPED) >= 3  # the message, the note, the canned response's data-body
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page


def test_search_finds_names_numbers_and_words_with_keyset_pages(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phones = [sa_mobile() for _ in range(7)]
    for n, phone in enumerate(phones):
        customer_says(standin, channel, phone, f"Message number {n} about a blocked drain")
    customer_says(
        standin, channel, phones[2], "The geyser thermostat clicks", profile_name="Lerato"
    )
    found = inbox(client, q="thermo")
    assert [c["contact"]["phone"] for c in found["conversations"]] == [phones[2]]
    assert [c["contact"]["phone"] for c in inbox(client, q="lerato")["conversations"]] == [
        phones[2]
    ]
    local = "0" + phones[4][3:]
    assert [c["contact"]["phone"] for c in inbox(client, q=local)["conversations"]] == [phones[4]]
    assert inbox(client, q="blocked drain")["conversations"].__len__() == 7
    assert inbox(client, q="nothing-like-this")["conversations"] == []
    assert inbox(client, q="'&|!():* <->")["conversations"] == []  # no tsquery syntax error

    # Keyset pages: three pages of 3, 3, 1, newest first, no repeats, no gaps.
    seen: list[str] = []
    after = ""
    for _ in range(5):
        page = inbox(client, limit="3", **({"after": after} if after else {}))
        seen += ids(page)
        after = page["next_cursor"] or ""
        if not after:
            break
    everything = ids(inbox(client, limit="50"))
    assert seen == everything and len(seen) == 7
    assert client.get("/api/v1/inbox", params={"after": "garbage"}).status_code == 422

    # Same last_message_at for two rows: the id breaks the tie, nothing is skipped.
    owner_conn.execute(
        "update conversations set last_message_at = '2026-01-01T00:00:00Z' where id = any(%s::uuid[])",
        (everything[:4],),
    )
    seen, after = [], ""
    for _ in range(10):
        page = inbox(client, limit="2", **({"after": after} if after else {}))
        seen += ids(page)
        after = page["next_cursor"] or ""
        if not after:
            break
    assert sorted(seen) == sorted(everything) and len(set(seen)) == 7


def run_wake(settings: Settings) -> int:
    async def go() -> int:
        _job_app, resources = build_job_app(settings)
        try:
            return await inbox_tasks.wake_due(resources)
        finally:
            await resources.close()

    return run_async(go)  # the browser tests hold this thread's event loop


def test_snooze_reopens_when_due_and_on_a_new_message(
    client: httpx.Client,
    live_server: LiveServer,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    headers = api_headers(client)
    first, second = sa_mobile(), sa_mobile()
    customer_says(standin, channel, first, "Snooze me")
    customer_says(standin, channel, second, "Snooze me too")
    a, b = conversation_with(client, first)["id"], conversation_with(client, second)["id"]
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = client.post(
        f"/api/v1/conversations/{a}/status",
        json={"status": "snoozed", "until": "2020-01-01T00:00:00Z"},
        headers=headers,
    )
    assert past.status_code == 422
    for cid in (a, b):
        snoozed = client.post(
            f"/api/v1/conversations/{cid}/status",
            json={"status": "snoozed", "until": until},
            headers=headers,
        )
        assert snoozed.status_code == 200 and snoozed.json()["snoozed_until"] is not None
    assert sorted(ids(inbox(client, status="snoozed"))) == sorted([a, b])
    assert run_wake(live_server.settings) == 0  # not due yet

    owner_conn.execute(
        "update conversations set snoozed_until = now() - interval '1 minute' where id = %s", (a,)
    )
    assert run_wake(live_server.settings) >= 1
    assert conversation_with(client, first)["status"] == "open"
    assert conversation_with(client, second)["status"] == "snoozed"
    events = client.get(f"/api/v1/conversations/{a}/events").json()
    assert events[-1]["kind"] == "reopened" and events[-1]["author_id"] is None

    customer_says(standin, channel, second, "Actually, are you there?")
    assert conversation_with(client, second)["status"] == "open"


def test_canned_responses_crud_in_the_api_and_the_page(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    headers = api_headers(client)
    made = client.post(
        "/api/v1/canned-responses",
        json={"shortcut": "/Hours", "body": "Mon-Fri 8-5"},
        headers=headers,
    )
    assert made.status_code == 201 and made.json()["shortcut"] == "hours"
    again = client.post(
        "/api/v1/canned-responses", json={"shortcut": "hours", "body": "x"}, headers=headers
    )
    assert again.status_code == 409 and "taken" in again.json()["error"]["message"]
    bad = client.post(
        "/api/v1/canned-responses", json={"shortcut": "two words", "body": "x"}, headers=headers
    )
    assert bad.status_code == 422 and "shortcut" in bad.json()["error"]["fields"]
    cid = made.json()["id"]
    changed = client.put(
        f"/api/v1/canned-responses/{cid}",
        json={"shortcut": "hours", "body": "8 to 5"},
        headers=headers,
    )
    assert changed.json()["body"] == "8 to 5"
    assert [
        c["shortcut"]
        for c in client.get("/api/v1/canned-responses", params={"prefix": "ho"}).json()
    ] == ["hours"]

    page = post_form(
        client,
        "/inbox/canned",
        {"shortcut": "address", "body": "12 Main Rd"},
        csrf_page="/inbox/canned",
    )
    assert page.status_code == 303
    assert "12 Main Rd" in client.get("/inbox/canned").text
    with httpx.Client(base_url=live_server.url, timeout=20) as other:
        sign_up(other)
        assert other.get("/api/v1/canned-responses").json() == []
        assert (
            other.delete(
                f"/api/v1/canned-responses/{cid}", headers=confirm_headers(other)
            ).status_code
            == 404
        )
    deleted = client.delete(f"/api/v1/canned-responses/{cid}", headers={**headers, **CONFIRM})
    assert deleted.status_code == 204
    assert [c["shortcut"] for c in client.get("/api/v1/canned-responses").json()] == ["address"]


@pytest.mark.parametrize("status", ["open", "pending", "resolved", "snoozed", "all"])
def test_the_list_page_keeps_its_filters(client: httpx.Client, status: str) -> None:
    sign_up(client)
    response = client.get("/inbox", params={"status": status, "view": "mine", "q": "geyser"})
    assert response.status_code == 200
    assert f'<option value="{status}" selected>' in response.text
    assert 'data-testid="view-mine"' in response.text and 'value="geyser"' in response.text
    assert "Nothing matches these filters." in response.text


def test_a_long_thread_shows_its_latest_page_and_loads_earlier_ones(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "The newest message")
    cid = conversation_with(client, phone)["id"]
    owner_conn.execute(
        """insert into messages (tenant_id, id, conversation_id, channel_id, direction, body, media,
               content_sid, content_variables, details, status, status_times, error_message,
               send_attempts, created_at)
           select c.tenant_id, gen_random_uuid(), c.id, c.channel_id, 'inbound', 'Old line ' || g,
                  '[]', '', '{}', '{}', 'received', '{}', '', 0, now() - make_interval(mins => g)
           from conversations c, generate_series(1, 129) g where c.id = %s""",
        (cid,),
    )
    thread = client.get(f"/inbox/{cid}/thread").text
    assert thread.count('data-testid="bubble"') == 50
    assert "The newest message" in thread and "Old line 49<" in thread
    assert "Old line 50<" not in thread
    pages = []
    while link := re.search(r'hx-get="(/inbox/[^"]+/earlier\?before=[^"]+)"', thread):
        thread = client.get(link.group(1).replace("&amp;", "&")).text
        pages.append(thread)
    assert [page.count('data-testid="bubble"') for page in pages] == [50, 30]
    assert "Old line 50<" in pages[0] and "Old line 99<" in pages[0]
    assert "Old line 49<" not in pages[0] and "Old line 100<" not in pages[0]
    assert "Old line 100<" in pages[1] and "Old line 129<" in pages[1]
    assert "load-earlier" not in pages[1]
    assert client.get(f"/inbox/{cid}/earlier", params={"before": "nonsense"}).status_code == 422


def test_the_search_function_stays_inside_the_transactions_tenant(
    client: httpx.Client,
    live_server: LiveServer,
    standin: StandinServer,
    app_conn: psycopg.Connection,
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    word = f"zebra{uuid.uuid4().hex[:6]}"
    customer_says(standin, channel, phone, f"A {word} in the garden")
    cid = conversation_with(client, phone)["id"]
    with httpx.Client(base_url=live_server.url, timeout=20) as other:
        other_tenant = sign_up(other).tenant_id
    query = "select conversation_id from cc_inbox_search(to_tsquery('simple', %s), null)"
    # As the app's role: no tenant set, nothing; another tenant set, nothing.
    assert app_conn.execute(query, (f"{word}:*",)).fetchall() == []
    app_conn.execute("select set_config('app.tenant_id', %s, true)", (str(other_tenant),))
    assert app_conn.execute(query, (f"{word}:*",)).fetchall() == []
    app_conn.rollback()
    assert ids(inbox(client, q=word)) == [cid]
