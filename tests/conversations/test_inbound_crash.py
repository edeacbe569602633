"""Kill -9 in the inbound pipeline loses nothing and does nothing twice.

A stored message and its follow-up job are written in one statement, so killing the web
process mid-burst can leave neither a message without its job nor a job without its
message. A worker killed in the middle of that job leaves a transaction that never
committed; the job is found stalled, runs again, and its work happens once.
"""

from __future__ import annotations

import base64
import collections
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import httpx
import psycopg

from tests.conftest import Databases, LiveServer, StandinServer
from tests.support.documents import draft
from tests.support.processes import WebProcess, start_worker
from tests.support.shop import Shop, send, shop_with_customer
from tests.support.waiting import wait_for
from tests.support.whatsapp import conversation_with, customer_says, sa_mobile, sent_to

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
BURST = 60


def sent_quote(shop: Shop) -> dict[str, Any]:
    quote = draft(shop.client, shop.headers, phone=shop.phone)
    response = send(shop, "quotes", quote["id"])
    assert response.status_code == 202, response.text
    return response.json()["document"]  # type: ignore[no-any-return]


def point_webhooks_at(standin: StandinServer, shop: Shop, base_url: str) -> None:
    """Twilio's sender console: deliver this number's inbound webhooks to `base_url`."""
    path = httpx.URL(shop.channel["inbound_webhook_url"]).path
    standin.control(
        "POST",
        "senders",
        json={
            "account_sid": shop.channel["account_sid"],
            "from": shop.channel["whatsapp_from"],
            "inbound_url": f"{base_url}{path}",
            "status_url": shop.channel["status_callback_url"],
        },
    )


def confirmations(standin: StandinServer, phone: str) -> int:
    return sum("is accepted" in m["body"] for m in sent_to(standin, phone))


def accepted_notes(client: httpx.Client, conversation_id: str) -> int:
    events = client.get(f"/api/v1/conversations/{conversation_id}/events").json()
    return sum("accepted quote" in e["body"] for e in events)


def test_web_killed_mid_burst_keeps_every_follow_up_and_does_each_once(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    quote = sent_quote(shop)
    tenant_id = client.get("/api/v1/me").json()["tenant_id"]
    web = WebProcess(live_server.settings).start()
    point_webhooks_at(standin, shop, web.url)

    def payload(i: int) -> dict[str, Any]:
        if i == 10:
            return {"from": shop.phone, "body": "ACCEPT"}
        body: dict[str, Any] = {"from": sa_mobile(), "body": f"burst {i}"}
        if i % 3 == 0:
            body["media"] = [
                {"content_type": "image/png", "data_base64": base64.b64encode(PNG).decode()}
            ]
        return body

    def deliver(body: dict[str, Any], sid: str | None = None) -> dict[str, Any]:
        extra = {"message_sid": sid} if sid else {}
        return customer_says(
            standin, shop.channel, body["from"], body["body"], media=body.get("media", []), **extra
        )

    bodies = [payload(i) for i in range(BURST)]
    results: dict[int, dict[str, Any]] = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {pool.submit(deliver, body): i for i, body in enumerate(bodies)}
        for done, future in enumerate(as_completed(futures)):
            results[futures[future]] = future.result()
            if done == BURST // 3:
                web.kill()  # mid-burst: requests are in flight
    acknowledged = [i for i, r in results.items() if r["status_code"] == 200]
    assert 0 < len(acknowledged) < BURST, "the kill did not land mid-burst"

    # The wall that used to be missing: no stored message is without its follow-up job.
    orphans = owner_conn.execute(
        "select count(*) from messages m where m.tenant_id = %s and m.direction = 'inbound' "
        "and m.handled_at is null and not exists (select 1 from procrastinate_jobs j "
        "where j.task_name = 'conversations.inbound_recorded' "
        "and j.args->>'message_id' = m.id::text)",
        (tenant_id,),
    ).fetchone()
    assert orphans == (0,)

    # Twilio retries what was not acknowledged; some acknowledged ones arrive twice as well.
    web = WebProcess(live_server.settings).start()
    point_webhooks_at(standin, shop, web.url)
    try:
        for i, result in results.items():
            if result["status_code"] != 200 or i in (10, 11, 12):
                again = deliver(bodies[i], result["message_sid"])
                assert again["status_code"] == 200
        live_server.run_jobs()
        live_server.run_jobs()  # the confirmation's send, queued by the first run
    finally:
        web.stop()
        point_webhooks_at(standin, shop, live_server.url)

    sids = [r["message_sid"] for r in results.values()]
    stored = collections.Counter(
        row[0]
        for row in owner_conn.execute(
            "select provider_sid from messages where tenant_id = %s and provider_sid = any(%s)",
            (tenant_id, sids),
        )
    )
    duplicates = sum(n - 1 for n in stored.values())
    lost = len(set(results[i]["message_sid"] for i in acknowledged) - set(stored))
    print(  # the figures the hardening issue asks to report (pytest -s shows them)
        f"FAULT web_killed_mid_burst sent={BURST} acknowledged_first_try={len(acknowledged)} "
        f"stored={len(stored)} duplicates={duplicates} lost={lost}"
    )
    assert lost == 0 and duplicates == 0
    assert set(stored) == set(sids)
    unhandled = owner_conn.execute(
        "select count(*) from messages where tenant_id = %s and direction = 'inbound' "
        "and handled_at is null",
        (tenant_id,),
    ).fetchone()
    assert unhandled == (0,)
    media = owner_conn.execute(
        "select mm.state::text, count(*) from message_media mm join messages m "
        "on m.tenant_id = mm.tenant_id and m.id = mm.message_id "
        "where mm.tenant_id = %s and m.direction = 'inbound' group by 1",
        (tenant_id,),
    ).fetchall()
    assert media == [("stored", sum(1 for b in bodies if b.get("media")))]
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["status"] == "accepted"
    assert confirmations(standin, shop.phone) == 1
    assert accepted_notes(client, conversation_with(client, shop.phone)["id"]) == 1


def test_worker_killed_inside_the_follow_up_job_runs_it_again_once(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    migrated: Databases,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    quote = sent_quote(shop)
    answer = customer_says(standin, shop.channel, shop.phone, "ACCEPT")
    assert answer["status_code"] == 200
    message_id = owner_conn.execute(
        "select id::text from messages where provider_sid = %s", (answer["message_sid"],)
    ).fetchone()[0]
    job_state = (
        "select status::text from procrastinate_jobs "
        "where task_name = 'conversations.inbound_recorded' and args->>'message_id' = %s"
    )
    env = {"WORKER_STALLED_AFTER_SECONDS": "2"}

    # Hold the quote's row, so the job stops inside its transaction, after it has marked
    # the message handled and before it records the answer; then kill its worker there.
    with psycopg.connect(migrated.owner_url) as blocker:
        blocker.execute(
            "select id from documents where id = %s for update", (uuid.UUID(quote["id"]),)
        )
        worker = start_worker(live_server.settings, **env)
        try:
            wait_for(
                lambda: (
                    owner_conn.execute(
                        "select count(*) from pg_stat_activity "
                        "where wait_event_type = 'Lock' and query like '%%documents%%'"
                    ).fetchone()
                    == (1,)
                ),
                timeout=30,
                message="the follow-up job to wait on the quote's lock",
            )
            assert owner_conn.execute(job_state, (message_id,)).fetchone() == ("doing",)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait()
        blocker.rollback()

    time.sleep(2.5)  # the dead worker's heartbeat goes stale
    assert owner_conn.execute(job_state, (message_id,)).fetchone() == ("doing",)
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["status"] == "sent"

    worker = start_worker(live_server.settings, **env)
    try:
        wait_for(
            lambda: confirmations(standin, shop.phone) >= 1,
            timeout=60,
            message="the confirmation after the job ran again",
        )
        time.sleep(1)  # room for a duplicate to show up, if there were one
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    assert owner_conn.execute(job_state, (message_id,)).fetchone() == ("succeeded",)
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["status"] == "accepted"
    assert confirmations(standin, shop.phone) == 1
    assert accepted_notes(client, conversation_with(client, shop.phone)["id"]) == 1
