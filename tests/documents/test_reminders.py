"""Payment reminders on WhatsApp: each slot once (run twice → one message), never for paid
or voided invoices, with the approved template's values filled in."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import psycopg

from clientcompass.documents import reminder_tasks
from clientcompass.documents.reminders import Slot, due_dates_today, in_sending_hours
from clientcompass.documents.settings import ReminderSettings
from clientcompass.jobs import build_job_app
from tests.conftest import LiveServer, StandinServer
from tests.support.aio import run_async
from tests.support.documents import vat_business
from tests.support.forms import api_headers, post_form
from tests.support.reminders import approved_template, business_today, enable, invoice_due, run_now
from tests.support.whatsapp import connect_channel, sent_to


def schedule_scan(live_server: LiveServer) -> int:
    """What the hourly periodic job does (in this process): book a run for each business
    with reminders on. Returns how many were booked."""

    async def scan() -> int:
        job_app, lazy = build_job_app(live_server.settings)
        async with job_app.open_async():
            try:
                return await reminder_tasks.schedule_all(lazy)
            finally:
                await lazy.close()

    return run_async(scan)


def reminder_events(owner_conn: psycopg.Connection, document_id: str) -> list[tuple[str, str]]:
    rows = owner_conn.execute(
        "select kind, key from document_events where document_id = %s and key is not null",
        (document_id,),
    ).fetchall()
    return [(str(kind), str(key)) for kind, key in rows]


def test_slots_fall_on_the_right_days() -> None:
    today = date(2026, 12, 1)
    chosen = ReminderSettings(enabled=True, days_before=3, on_due_date=True, days_after=2)
    assert due_dates_today(chosen, today) == {
        date(2026, 12, 4): Slot.BEFORE,
        date(2026, 12, 1): Slot.DUE,
        date(2026, 11, 29): Slot.AFTER,
    }
    assert due_dates_today(ReminderSettings(enabled=True, on_due_date=True), today) == {
        today: Slot.DUE
    }
    zone = ZoneInfo("Africa/Johannesburg")
    assert not in_sending_hours(datetime(2026, 12, 1, 7, 59, tzinfo=zone))
    assert in_sending_hours(datetime(2026, 12, 1, 8, 0, tzinfo=zone))
    assert not in_sending_hours(datetime(2026, 12, 1, 20, 0, tzinfo=zone))


def test_each_reminder_goes_once_and_never_for_paid_or_voided_invoices(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    _, headers = vat_business(client)
    connect_channel(client, standin)
    headers = api_headers(client)
    template = approved_template(client, headers, standin)
    today = business_today()
    due_today = invoice_due(client, headers, today, "Thandeka Due-Today")
    before = invoice_due(client, headers, today + timedelta(days=3), "Bongani Before")
    after = invoice_due(client, headers, today - timedelta(days=2), "Anele After")
    not_a_slot = invoice_due(client, headers, today + timedelta(days=1), "Nobody Tomorrow")
    paid = invoice_due(client, headers, today, "Paid Already")
    response = client.post(
        f"/api/v1/invoices/{paid['id']}/payments",
        json={"amount": f"{paid['total_cents'] / 100:.2f}"},
        headers=headers,
    )
    assert response.status_code == 201 and response.json()["status"] == "paid"
    voided = invoice_due(client, headers, today, "Voided Invoice")
    response = client.post(
        f"/api/v1/invoices/{voided['id']}/credit-notes",
        json={"reason": "Raised in error"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert client.get(f"/api/v1/invoices/{voided['id']}").json()["status"] == "voided"

    saved = enable(client, template["id"])
    assert saved.status_code == 303, saved.text[:500]
    run_now(client)
    live_server.run_jobs()
    live_server.run_jobs()  # the sends the reminder job queued
    # The hourly scan books one run for this business, however often it runs.
    tenant = client.get("/api/v1/me").json()["tenant_id"]
    assert schedule_scan(live_server) >= 1
    assert schedule_scan(live_server) == 0  # this business's run is booked already
    booked = owner_conn.execute(
        "select count(*) from procrastinate_jobs where queueing_lock = %s and status = 'todo'",
        (f"documents-reminders-{tenant}",),
    ).fetchone()
    assert booked == (1,)
    reminded = {"due": due_today, "before": before, "after": after}
    for slot, invoice in reminded.items():
        [message] = sent_to(standin, invoice["phone"])
        assert message["content_sid"] == template["content_sid"]
        values = message["content_variables"]
        assert values["1"] == invoice["recipient_name"] and values["2"] == invoice["number"]
        assert values["3"] == invoice["total"].replace("\xa0", " ")
        assert values["5"] == "Zoë's Electrical"
        assert values["6"].startswith(f"{live_server.url}/d/")
        assert reminder_events(owner_conn, invoice["id"]) == [
            ("reminder", f"reminder:{slot}:{today.isoformat()}")
        ]
    for invoice in (not_a_slot, paid, voided):
        assert sent_to(standin, invoice["phone"]) == []
        assert reminder_events(owner_conn, invoice["id"]) == []

    # Again, and again by the schedule: each slot was claimed, so nothing more goes out.
    run_now(client)
    run_now(client)
    live_server.run_jobs()
    live_server.run_jobs()
    for invoice in reminded.values():
        assert len(sent_to(standin, invoice["phone"])) == 1
        assert len(reminder_events(owner_conn, invoice["id"])) == 1
    queued = owner_conn.execute(
        "select count(*) from messages m join conversations c on c.tenant_id = m.tenant_id "
        "and c.id = m.conversation_id where c.contact_id = %s and m.direction = 'outbound'",
        (due_today["contact_id"],),
    ).fetchone()
    assert queued is not None and queued[0] == 1

    # The link in the reminder opens the invoice for the customer.
    link = sent_to(standin, due_today["phone"])[0]["content_variables"]["6"]
    with httpx.Client(timeout=20) as customer:
        page = customer.get(link)
    assert page.status_code == 200 and due_today["number"] in page.text
    # The conversation the reminder started shows in the inbox, authored by no one.
    author = owner_conn.execute(
        "select m.author_id from messages m join conversations c on c.tenant_id = m.tenant_id "
        "and c.id = m.conversation_id where c.contact_id = %s",
        (due_today["contact_id"],),
    ).fetchone()
    assert author == (None,)


def test_reminders_need_an_approved_template_and_stop_when_switched_off(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    _, headers = vat_business(client)
    connect_channel(client, standin)
    headers = api_headers(client)
    no_template = enable(client, "")
    assert no_template.status_code == 422
    assert "Choose the approved WhatsApp template" in no_template.text
    created = client.post(
        "/api/v1/templates",
        json={
            "name": "not_yet_approved",
            "category": "UTILITY",
            "body": "Hi {{1}}, pay soon.",
            "variables": {"1": "Sipho"},
        },
        headers=headers,
    )
    assert created.status_code == 201
    pending = enable(client, created.json()["id"])
    assert pending.status_code == 422 and "approved" in pending.text

    template = approved_template(
        client, headers, standin, body="Hi {{1}}, invoice {{2}} is due. Thanks."
    )
    nothing_chosen = enable(client, template["id"], days_before="0", on_due_date="", days_after="0")
    assert nothing_chosen.status_code == 422 and "Choose when to remind" in nothing_chosen.text
    invoice = invoice_due(client, headers, business_today(), "Switched Off")
    assert enable(client, template["id"], enabled="").status_code == 303  # saved, but off
    refused = post_form(
        client, "/settings/documents/reminders/run", {}, csrf_page="/settings/documents"
    )
    assert refused.status_code == 422 and "Switch reminders on first" in refused.text
    live_server.run_jobs()
    assert sent_to(standin, invoice["phone"]) == []
    assert reminder_events(owner_conn, invoice["id"]) == []

    assert enable(client, template["id"]).status_code == 303
    page = client.get("/settings/documents").text
    assert f'value="{template["id"]}" selected' in page and "Send due reminders now" in page
    run_now(client)
    live_server.run_jobs()
    live_server.run_jobs()
    [message] = sent_to(standin, invoice["phone"])
    assert message["content_variables"] == {"1": "Switched Off", "2": invoice["number"]}

    # A reminder that cannot go (the number was disconnected) is kept as skipped, with why.
    stranded = invoice_due(client, headers, business_today(), "Stranded Customer")
    owner_conn.execute(
        "update channels set disabled_at = now() where id = %s", (template["channel_id"],)
    )
    run_now(client)
    live_server.run_jobs()
    run_now(client)
    live_server.run_jobs()
    assert sent_to(standin, stranded["phone"]) == []
    key = f"reminder:due:{business_today().isoformat()}"
    assert reminder_events(owner_conn, stranded["id"]) == [("reminder_skipped", key)]
    reason = owner_conn.execute(
        "select detail->>'reason' from document_events where document_id = %s and key = %s",
        (stranded["id"], key),
    ).fetchone()
    assert reason == ("The template's WhatsApp number is disconnected.",)
