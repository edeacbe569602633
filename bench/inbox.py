"""The shared inbox at scale: 1,000 tenants and 1,000,000 messages, the largest tenant with
50,000 conversations. Measures the server's answer time (one keep-alive connection, so a
request never waits behind another) for the list's first page, a deep keyset page (half way
down the largest tenant), a conversation of 500 messages (the thread shows its newest 50;
older pages load on demand), full-text searches (a message word, a contact's name and
number), and the time from a signed inbound webhook to its event on an open SSE connection.

Data is generated in PostgreSQL with generate_series (no Python loop), as the owner role
(a superuser in the bench stack, so RLS does not slow the bulk load), then ANALYZEd.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from twilio.request_validator import RequestValidator

from bench.harness import stack
from bench.webhook_ingest import connect_channel

TENANTS = int(os.environ.get("BENCH_INBOX_TENANTS", "1000"))
MESSAGES = int(os.environ.get("BENCH_INBOX_MESSAGES", "1000000"))
BIG_CONVERSATIONS = int(os.environ.get("BENCH_INBOX_BIG", "50000"))
SMALL_CONVERSATIONS = 100
THREAD = 500
SAMPLES = int(os.environ.get("BENCH_INBOX_SAMPLES", "100"))
WEBHOOKS = int(os.environ.get("BENCH_INBOX_WEBHOOKS", "200"))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WORDS = [
    "geyser",
    "leak",
    "quote",
    "tomorrow",
    "plumber",
    "blocked",
    "drain",
    "tap",
    "invoice",
    "booking",
    "electrician",
    "wiring",
    "plug",
    "circuit",
    "roof",
    "gutter",
    "paint",
    "tiles",
    "thanks",
    "please",
    "morning",
    "afternoon",
    "price",
]

GENERATE = """
INSERT INTO tenants (id, name, created_at)
SELECT gen_random_uuid(), 'Bench tenant ' || g, now() FROM generate_series(1, %(others)s) g;

INSERT INTO channels (tenant_id, id, provider, name, account_sid, auth_token_sealed, whatsapp_from,
                      messaging_service_sid, webhook_key, is_sandbox, sends_per_second, created_at)
SELECT t.id, gen_random_uuid(), 'twilio', 'Bench', 'AC' || md5(t.id::text), 'unused',
       'whatsapp:+2780' || substr(md5(t.id::text), 1, 7), '', md5(t.id::text), false, 80, now()
FROM tenants t WHERE t.name LIKE 'Bench tenant %%';

CREATE TEMP TABLE plan AS
SELECT t.id AS tenant_id, c.id AS channel_id,
       CASE WHEN t.id = %(big)s THEN %(big_n)s ELSE %(small_n)s END AS n,
       CASE WHEN t.id = %(big)s THEN %(big_per)s ELSE %(small_per)s END AS per
FROM tenants t JOIN channels c ON c.tenant_id = t.id;

CREATE TEMP TABLE gen_conversations AS
SELECT p.tenant_id, p.channel_id, p.per, g AS n, gen_random_uuid() AS contact_id,
       gen_random_uuid() AS id, now() - make_interval(mins => g * 3) AS last_at
FROM plan p, generate_series(1, p.n) g;

INSERT INTO contacts (tenant_id, id, phone_e164, wa_id, profile_name, name, email, created_at, updated_at)
SELECT tenant_id, contact_id, '+2782' || lpad(n::text, 7, '0'), '', 'Customer ' || n,
       CASE WHEN n %% 3 = 0 THEN 'Naledi ' || n ELSE '' END, '', now(), now()
FROM gen_conversations;

INSERT INTO conversations (tenant_id, id, channel_id, contact_id, status, last_inbound_at,
                           last_message_at, last_message_preview, unread_count, created_at)
SELECT tenant_id, id, channel_id, contact_id,
       (ARRAY['open', 'open', 'open', 'pending', 'resolved'])[1 + n %% 5]::conversation_status,
       last_at, last_at, 'Preview ' || n, n %% 3, last_at
FROM gen_conversations;

INSERT INTO messages (tenant_id, id, conversation_id, channel_id, direction, body, media,
                      content_sid, content_variables, details, status, status_times,
                      error_message, send_attempts, created_at)
SELECT c.tenant_id, gen_random_uuid(), c.id, c.channel_id,
       CASE WHEN m %% 2 = 0 THEN 'inbound' ELSE 'outbound' END::message_direction,
       __BODY__,
       '[]'::jsonb, '', '{}'::jsonb, '{}'::jsonb,
       CASE WHEN m %% 2 = 0 THEN 'received' ELSE 'read' END::message_status, '{}'::jsonb, '', 0,
       c.last_at - make_interval(secs => m * 60)
FROM gen_conversations c, generate_series(1, c.per) m;
"""

BODY = (
    "(ARRAY[{words}])[1 + (m * 7 + c.n) % {count}] || ' ' || (ARRAY[{words}])[1 + (m * 13 + c.n * 3) % {count}]"
    " || ' ' || (ARRAY[{words}])[1 + (m + c.n * 11) % {count}]"
    " || CASE WHEN (m * 31 + c.n) % 997 = 0 THEN ' thermostat' ELSE '' END"
)


def generate(owner_url: str, big_tenant: uuid.UUID) -> dict[str, Any]:
    """Bulk-load the data set; returns what the measurements need."""
    others = TENANTS - 1
    small_total = others * SMALL_CONVERSATIONS
    small_per = max(1, (MESSAGES // 2) // max(1, small_total))
    big_per = max(1, (MESSAGES - small_total * small_per - THREAD) // BIG_CONVERSATIONS)
    words = ", ".join(f"'{w}'" for w in WORDS)
    sql = GENERATE.replace(
        "__BODY__", BODY.format(words=words, count=len(WORDS)).replace("%", "%%")
    )
    started = time.perf_counter()
    with psycopg.connect(owner_url, autocommit=False) as conn:
        params = {
            "others": others,
            "big": big_tenant,
            "big_n": BIG_CONVERSATIONS,
            "small_n": SMALL_CONVERSATIONS,
            "big_per": big_per,
            "small_per": small_per,
        }
        for statement in sql.split(";\n"):
            if statement.strip():
                conn.execute(statement, params)
        # One conversation of the big tenant gets a 500-message thread.
        thread_id = conn.execute(
            "select id from gen_conversations where tenant_id = %s order by n limit 1",
            (big_tenant,),
        ).fetchone()[0]  # type: ignore[index]
        conn.execute(
            """
            INSERT INTO messages (tenant_id, id, conversation_id, channel_id, direction, body, media,
                                  content_sid, content_variables, details, status, status_times,
                                  error_message, send_attempts, created_at)
            SELECT c.tenant_id, gen_random_uuid(), c.id, c.channel_id, 'inbound', 'Thread line ' || g,
                   '[]'::jsonb, '', '{}'::jsonb, '{}'::jsonb, 'received', '{}'::jsonb, '', 0,
                   now() - make_interval(secs => g)
            FROM conversations c, generate_series(1, %s) g WHERE c.id = %s
            """,
            (THREAD, thread_id),
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("vacuum analyze")  # flushes GIN pending lists: a steady state
        total = conn.execute("select count(*) from messages").fetchone()[0]  # type: ignore[index]
        tenants = conn.execute("select count(*) from tenants").fetchone()[0]  # type: ignore[index]
        big = conn.execute(
            "select count(*) from conversations where tenant_id = %s", (big_tenant,)
        ).fetchone()[0]  # type: ignore[index]
        deep = conn.execute(
            """select last_message_at, id from conversations where tenant_id = %s
               order by last_message_at desc, id desc offset %s limit 1""",
            (big_tenant, big // 2),
        ).fetchone()
    assert deep is not None
    micros = (deep[0] - EPOCH) // timedelta(microseconds=1)
    return {
        "seconds": time.perf_counter() - started,
        "messages": total,
        "tenants": tenants,
        "big_conversations": big,
        "thread_id": thread_id,
        "deep_cursor": f"{micros}.{deep[1].hex}",
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def timed(client: httpx.Client, path: str, params: dict[str, str] | None = None) -> list[float]:
    for _ in range(10):  # warm-up
        client.get(path, params=params).raise_for_status()
    times = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        response = client.get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return times


def report(name: str, times: list[float]) -> None:
    print(f"BENCH inbox_{name}_p50 {statistics.median(times):.2f} ms")
    print(f"BENCH inbox_{name}_p95 {percentile(times, 95):.2f} ms", flush=True)


async def sse_latency(url: str, cookies: httpx.Cookies, channel: dict[str, str]) -> list[float]:
    """Signed inbound webhooks one at a time; each timed until its event arrives on SSE."""
    arrived: asyncio.Queue[float] = asyncio.Queue()
    validator = RequestValidator(channel["auth_token"])
    target = channel["inbound_webhook_url"]
    async with httpx.AsyncClient(base_url=url, cookies=cookies, timeout=30) as listener:

        async def listen() -> None:
            async with listener.stream("GET", "/api/v1/events") as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: ") and json.loads(line[6:]).get("type") == (
                        "message.created"
                    ):
                        arrived.put_nowait(time.perf_counter())

        task = asyncio.create_task(listen())
        await asyncio.sleep(0.5)
        latencies = []
        async with httpx.AsyncClient(timeout=30) as sender:
            for i in range(WEBHOOKS):
                sid = f"SM{uuid.uuid4().hex}"
                phone = f"+2784{1_000_000 + i % 50}"
                form = {
                    "MessageSid": sid,
                    "AccountSid": channel["account_sid"],
                    "From": f"whatsapp:{phone}",
                    "To": channel["whatsapp_from"],
                    "Body": f"Live message {i}",
                    "NumMedia": "0",
                    "WaId": phone.lstrip("+"),
                    "ProfileName": "Live customer",
                }
                signature = validator.compute_signature(target, form)
                started = time.perf_counter()
                response = await sender.post(
                    target, data=form, headers={"X-Twilio-Signature": signature}
                )
                response.raise_for_status()
                latencies.append((await asyncio.wait_for(arrived.get(), 10) - started) * 1000)
        task.cancel()
    return latencies


def main() -> None:
    with stack() as app:
        channel = connect_channel(app.url, app.twilio_url)
        with psycopg.connect(app.owner_url) as conn:
            big_tenant = conn.execute(
                "select tenant_id from channels where id = %s", (channel["id"],)
            ).fetchone()[0]  # type: ignore[index]
        data = generate(app.owner_url, big_tenant)
        print(f"BENCH inbox_generate_seconds {data['seconds']:.1f} s")
        print(f"BENCH inbox_messages {data['messages']} messages")
        print(f"BENCH inbox_tenants {data['tenants']} tenants")
        print(f"BENCH inbox_largest_tenant_conversations {data['big_conversations']} conversations")
        with httpx.Client(base_url=app.url, timeout=30) as client:
            page = client.get("/signup")  # a session for the big tenant: log in as its owner
            token = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
            login = client.post(
                "/login",
                data={
                    "email": "bench-webhooks@example.co.za",
                    "password": "bench password 1",
                    "csrf_token": token,
                },
            )
            assert login.status_code == 303, login.text[:300]
            report("list_first_page", timed(client, "/api/v1/inbox"))
            report("list_deep_page", timed(client, "/api/v1/inbox", {"after": data["deep_cursor"]}))
            report("thread_500", timed(client, f"/inbox/{data['thread_id']}/thread"))
            report("search", timed(client, "/api/v1/inbox", {"q": "thermostat"}))
            report("search_name", timed(client, "/api/v1/inbox", {"q": "naledi 4999"}))
            cookies = client.cookies
        report("webhook_to_sse", asyncio.run(sse_latency(app.url, cookies, channel)))


if __name__ == "__main__":
    main()
