"""Lead-capture flows under load: customers answering a six-step flow through signed
webhooks, each answer's next question timed to the moment it reaches the Twilio stand-in.

10 businesses (BENCH_FLOWS_BUSINESSES) each publish the same flow (tests/support/flows.py:
name, a choice, suburb, a number, a date and time, goodbye), started by a new contact's first
message. 1,000 customers (BENCH_FLOWS_CONVERSATIONS) each send that first message and then
answer every question, each answer only once the question it answers has reached the
stand-in, as a person would. Two `clientcompass worker` processes do the work, as in
production, warmed up first by a few whole conversations that are not counted.

Two phases, each with its own customers:
- capacity: BENCH_FLOWS_ACTIVE customers (16) mid-conversation at once, each answering as soon
  as its question arrives. The workers are saturated, so the answers per second here is the
  highest rate this machine sustains; the latency is mostly queueing (Little's law: ACTIVE /
  rate), reported but not the target.
- paced: the rest of the customers, their webhooks sent at BENCH_FLOWS_LOAD (0.8) of the rate
  the capacity phase reached (or BENCH_FLOWS_RATE webhooks per second if set), answers first,
  new customers starting in the gaps. This is the headline: answers per second and p50/p95
  at a rate the machine keeps up with.

Timing: the driver notes the wall clock just before POSTing an answer; the stand-in stamps
each message it accepts (`date_created`, microseconds, the same clock). The driver learns that
a question arrived by polling the stand-in's counters every BENCH_FLOWS_POLL_MS (20 ms); that
poll only decides when the customer answers next, never the measured latency.

Reported: answers per second, p50/p95 from an answer to the next message reaching the
stand-in, duplicates (a message sent twice to one customer), stuck runs (not completed at the
end), the webhook's own latency, and the bare webhook ceiling (bench/ceiling.py: a signature
check and one INSERT) measured in the same run, before the workers start. Also: the queue wait
and run time of the two jobs on an answer's path (the inbound job, which takes the answer and
writes the next question to the outbox, and the outbox's send), and the jobs per conversation.
"""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import psycopg
from tests.support.accounts import log_in
from tests.support.flows import CUSTOMER, QUESTIONS, SIX_STEPS, publish
from twilio.request_validator import RequestValidator

from bench.harness import LoadResult, free_port, stack, wait_ready
from bench.notify import business, percentile, queue_waits, workers_ready
from bench.webhook_ingest import forms, run

BUSINESSES = int(os.environ.get("BENCH_FLOWS_BUSINESSES", "10"))
CONVERSATIONS = int(os.environ.get("BENCH_FLOWS_CONVERSATIONS", "1000"))
ACTIVE = int(os.environ.get("BENCH_FLOWS_ACTIVE", "16"))
# The share of the customers in the capacity phase; the rest are paced.
CAPACITY_SHARE = float(os.environ.get("BENCH_FLOWS_CAPACITY_SHARE", "0.3"))
LOAD = float(os.environ.get("BENCH_FLOWS_LOAD", "0.8"))
RATE = float(os.environ.get("BENCH_FLOWS_RATE", "0"))  # webhooks per second; 0: LOAD times capacity
# Paced customers mid-conversation at once, at most: never reached while the machine keeps up
# (a few are), it stops a machine that falls behind from being buried under new customers.
PACED_ACTIVE_MAX = int(os.environ.get("BENCH_FLOWS_PACED_ACTIVE", str(4 * ACTIVE)))
WARMUP = int(os.environ.get("BENCH_FLOWS_WARMUP", "10"))  # whole conversations, not counted
CEILING_WEBHOOKS = int(os.environ.get("BENCH_FLOWS_CEILING_WEBHOOKS", "3000"))
POLL = float(os.environ.get("BENCH_FLOWS_POLL_MS", "20")) / 1000
# When no awaited message at all has come for this long, the customers still waiting are
# given up (their runs then count as stuck).
STALL_SECONDS = 120
WORKERS = 2
PASSWORD = "bench password 1"  # noqa: S105 (bench.notify.business signs up with it)


@dataclass
class Customer:
    channel: dict[str, str]
    phone: str
    sent_at: list[float] = field(default_factory=list)  # wall clock before each webhook

    @property
    def sent(self) -> int:
        return len(self.sent_at)


@dataclass
class Drive:
    seconds: float
    webhook_ms: list[float]
    unanswered: list[Customer]


def signed(channel: dict[str, str], phone: str, body: str) -> tuple[str, dict[str, str], str]:
    """A customer's message as Twilio posts it: url, form, X-Twilio-Signature."""
    sid = f"SM{uuid.uuid4().hex}"
    form = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": channel["account_sid"],
        "From": f"whatsapp:{phone}",
        "To": channel["whatsapp_from"],
        "Body": body,
        "NumMedia": "0",
        "WaId": phone.lstrip("+"),
        "ProfileName": "Thandi",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    url = channel["inbound_webhook_url"]
    return url, form, RequestValidator(channel["auth_token"]).compute_signature(url, form)


def publish_flow(app_url: str, owner_url: str, twilio_url: str, channel: dict[str, str]) -> None:
    """The owner signs in and publishes the six-step flow through the API; the sender is
    configured in the stand-in, as Twilio's console would have it."""
    httpx.post(
        f"{twilio_url}/_control/senders",
        json={
            "account_sid": channel["account_sid"],
            "from": channel["whatsapp_from"],
            "inbound_url": channel["inbound_webhook_url"],
            "status_url": channel["status_callback_url"],
        },
    ).raise_for_status()
    with psycopg.connect(owner_url) as conn:
        row = conn.execute(
            "select email from users where tenant_id = %s and role = 'owner'",
            (channel["tenant_id"],),
        ).fetchone()
    assert row is not None
    with httpx.Client(base_url=app_url, timeout=30) as client:
        signed_in = log_in(client, row[0], PASSWORD)
        assert signed_in.status_code == 303, signed_in.text[:300]
        publish(client, SIX_STEPS, name="Bench qualify")


async def drive(
    customers: list[Customer], twilio_url: str, *, active: int, rate: float = 0
) -> Drive:
    """Every customer through the flow, at most `active` at a time, each answer sent once the
    question before it reached the stand-in; `rate` > 0 paces the webhooks (per second)."""
    fresh = collections.deque(customers)
    ready: collections.deque[Customer] = collections.deque()
    waiting: dict[str, Customer] = {}  # "whatsapp:+27…" → customer awaiting a message
    progress = time.monotonic()  # when an awaited message last arrived
    webhook_ms: list[float] = []
    unanswered: list[Customer] = []
    done = 0
    failures: list[str] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)

    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        async def post(customer: Customer) -> None:
            url, form, signature = signed(customer.channel, customer.phone, CUSTOMER[customer.sent])
            address = f"whatsapp:{customer.phone}"
            customer.sent_at.append(time.time())
            waiting[address] = customer
            started = time.perf_counter()
            response = await http.post(url, data=form, headers={"X-Twilio-Signature": signature})
            webhook_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                failures.append(f"{customer.phone}: {response.status_code}")

        async def poll() -> None:
            nonlocal done, progress
            while done + len(unanswered) < len(customers) and not failures:
                counts = (await http.get(f"{twilio_url}/_control/stats")).json()["sends_by_to"]
                for address, customer in list(waiting.items()):
                    if counts.get(address, 0) >= customer.sent:
                        del waiting[address]
                        progress = time.monotonic()
                        if customer.sent < len(CUSTOMER):
                            ready.append(customer)
                        else:
                            done += 1
                if waiting and time.monotonic() - progress > STALL_SECONDS:
                    unanswered.extend(waiting.values())
                    waiting.clear()
                await asyncio.sleep(POLL)

        poller = asyncio.create_task(poll())
        posts: set[asyncio.Task[None]] = set()
        started = time.perf_counter()
        next_at = started
        while not poller.done():
            live = len(customers) - len(fresh) - done - len(unanswered)
            if ready:
                customer = ready.popleft()
            elif fresh and live < active:
                customer = fresh.popleft()
            else:
                await asyncio.sleep(POLL / 4)
                continue
            if rate > 0:
                next_at = max(next_at + 1 / rate, time.perf_counter())
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            task = asyncio.create_task(post(customer))
            posts.add(task)
            task.add_done_callback(posts.discard)
        elapsed = time.perf_counter() - started
        await poller
        await asyncio.gather(*posts)
    if failures:
        raise RuntimeError(f"{len(failures)} webhooks refused, e.g. {failures[0]}")
    return Drive(elapsed, webhook_ms, unanswered)


@dataclass
class Outcome:
    latencies_ms: list[float]
    duplicates: int
    wrong: int


def outcome(customers: list[Customer], messages: list[dict[str, str]]) -> Outcome:
    """Each answer's latency, from what the stand-in accepted (and when): `messages` as its
    control surface lists them, oldest first."""
    by_to: dict[str, list[dict[str, str]]] = collections.defaultdict(list)
    for message in messages:  # oldest first
        by_to[message["to"]].append(message)
    latencies: list[float] = []
    duplicates = wrong = 0
    for customer in customers:
        got = by_to.get(f"whatsapp:{customer.phone}", [])
        bodies = collections.Counter(m["body"] for m in got)
        duplicates += sum(n - 1 for n in bodies.values())
        for k in range(1, min(customer.sent, len(got))):
            if not got[k]["body"].startswith(QUESTIONS[k]):
                wrong += 1
                continue
            arrived = datetime.fromisoformat(got[k]["date_created"]).timestamp()
            latencies.append((arrived - customer.sent_at[k]) * 1000)
    return Outcome(latencies, duplicates, wrong)


def drained(owner_url: str, timeout: float = 120) -> None:
    """Wait for the answer path's queues to empty, so a run still going at the end is stuck,
    not late."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(owner_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "select count(*) from procrastinate_jobs where status in ('todo', 'doing') "
                "and task_name in ('conversations.inbound_recorded', 'whatsapp.send_message')"
            ).fetchone()
            if row == (0,):
                return
            time.sleep(0.5)


def runs_by_status(owner_url: str) -> dict[str, int]:
    with psycopg.connect(owner_url) as conn:
        rows = conn.execute("select status, count(*) from flow_runs group by status").fetchall()
    return {status: count for status, count in rows}


def ceiling(owner_url: str, channel: dict[str, str]) -> LoadResult:
    """bench/ceiling.py's bare route, loaded as bench/webhook_ingest loads it."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("create table bench_ceiling (message_sid text primary key, body text)")
    port = free_port()
    url = f"http://127.0.0.1:{port}/inbound"
    command = [sys.executable, "-m", "uvicorn", "bench.ceiling:app", "--port", str(port)]
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [*command, "--log-level", "warning"],
        env={
            **os.environ,
            "CEILING_DATABASE_URL": owner_url,
            "CEILING_AUTH_TOKEN": channel["auth_token"],
            "CEILING_PUBLIC_URL": url,
        },
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}", path="/inbound", method="GET")
        run(url, channel["auth_token"], forms(max(CEILING_WEBHOOKS // 10, 100), channel))
        return run(url, channel["auth_token"], forms(CEILING_WEBHOOKS, channel))
    finally:
        process.terminate()
        process.wait(timeout=15)


def customers_for(
    twilio_url: str, channels: list[dict[str, str]], count: int, prefix: str
) -> list[Customer]:
    """Customers spread over the businesses, each inside WhatsApp's 24-hour window at the
    stand-in (the webhooks below go to the app directly, not through the stand-in)."""
    customers = [
        Customer(channels[i % len(channels)], f"+27{prefix}{1_000_000 + i}") for i in range(count)
    ]
    with httpx.Client(base_url=f"{twilio_url}/_control", timeout=30) as http:
        for customer in customers:
            http.post(
                "/window",
                json={
                    "sender": customer.channel["whatsapp_from"],
                    "customer": f"whatsapp:{customer.phone}",
                    "last_inbound_at": datetime.now(UTC).isoformat(),
                },
            ).raise_for_status()
    return customers


def main() -> None:
    with stack() as app:
        started = time.perf_counter()
        channels = [business(app.url, app.twilio_url, i) for i in range(BUSINESSES)]
        for channel in channels:
            publish_flow(app.url, app.owner_url, app.twilio_url, channel)
        print(
            f"set up {BUSINESSES} businesses with a published flow "
            f"in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        bare = ceiling(app.owner_url, channels[0])
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "clientcompass", "worker"],
                env={**app.env, "LOG_LEVEL": os.environ.get("BENCH_FLOWS_LOG_LEVEL", "WARNING")},
            )
            for _ in range(WORKERS)
        ]
        try:
            workers_ready(app.owner_url, WORKERS)
            warm = customers_for(app.twilio_url, channels, WARMUP, "85")
            asyncio.run(drive(warm, app.twilio_url, active=ACTIVE))
            print(f"workers warm ({WARMUP} conversations); the capacity phase starts", flush=True)
            saturating = customers_for(
                app.twilio_url, channels, round(CONVERSATIONS * CAPACITY_SHARE), "86"
            )
            capacity = asyncio.run(drive(saturating, app.twilio_url, active=ACTIVE))
            capacity_rate = sum(c.sent for c in saturating) / capacity.seconds
            rate = RATE or LOAD * capacity_rate
            print(f"capacity {capacity_rate:.1f} webhooks/s; pacing at {rate:.1f}", flush=True)
            paced_customers = customers_for(
                app.twilio_url, channels, CONVERSATIONS - len(saturating), "87"
            )
            paced = asyncio.run(
                drive(paced_customers, app.twilio_url, active=PACED_ACTIVE_MAX, rate=rate)
            )
            drained(app.owner_url)
            time.sleep(2)  # anything extra (a duplicate) would arrive now
            messages = httpx.get(f"{app.twilio_url}/_control/messages", timeout=120).json()
            statuses = runs_by_status(app.owner_url)
            waits = queue_waits(app.owner_url)
            jobs = jobs_by_task(app.owner_url)
            durations = job_durations(app.owner_url)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=30)

    print(f"BENCH flows_conversations {CONVERSATIONS} conversations")
    print(f"BENCH flows_webhook_ceiling_throughput {bare.throughput:.1f} req/s")
    print(f"BENCH flows_webhook_ceiling_p50 {bare.p50:.2f} ms", flush=True)
    checked = [
        report(f"flows_capacity_{ACTIVE}_customers", saturating, capacity, messages),
        report("flows_paced", paced_customers, paced, messages),
    ]
    stuck = WARMUP + CONVERSATIONS - statuses.get("completed", 0)
    print(f"BENCH flows_duplicates {sum(c.duplicates for c in checked)} messages")
    print(f"BENCH flows_stuck_runs {stuck} runs", flush=True)
    for name, p50, p95 in waits:
        label = name.replace(".", "_")
        print(f"BENCH flows_queue_wait_{label}_p50 {p50:.0f} ms")
        print(f"BENCH flows_queue_wait_{label}_p95 {p95:.0f} ms", flush=True)
    for name, p50, p95 in durations:
        label = name.replace(".", "_")
        print(f"BENCH flows_job_{label}_p50 {p50:.0f} ms")
        print(f"BENCH flows_job_{label}_p95 {p95:.0f} ms", flush=True)
    answered = WARMUP + CONVERSATIONS
    print("jobs per conversation:", {k: round(v / answered, 2) for k, v in jobs.items()})
    print(f"runs by status: {statuses}", flush=True)
    duplicates = sum(c.duplicates for c in checked)
    wrong = sum(c.wrong for c in checked)
    waiting = len(capacity.unanswered) + len(paced.unanswered)
    if duplicates or stuck or wrong or waiting:
        raise SystemExit(
            f"{duplicates} duplicates, {stuck} stuck runs, {wrong} wrong messages, "
            f"{waiting} customers left waiting"
        )


def report(
    name: str, customers: list[Customer], result: Drive, messages: list[dict[str, str]]
) -> Outcome:
    found = outcome(customers, messages)
    answers = len(found.latencies_ms)
    webhooks = sum(c.sent for c in customers)
    print(f"BENCH {name}_answers {answers} answers")
    print(f"BENCH {name}_answers_per_second {answers / result.seconds:.1f} answers/s")
    print(f"BENCH {name}_webhooks_per_second {webhooks / result.seconds:.1f} req/s")
    print(f"BENCH {name}_answer_to_question_p50 {percentile(found.latencies_ms, 50):.0f} ms")
    print(f"BENCH {name}_answer_to_question_p95 {percentile(found.latencies_ms, 95):.0f} ms")
    print(f"BENCH {name}_answer_to_question_p99 {percentile(found.latencies_ms, 99):.0f} ms")
    print(f"BENCH {name}_webhook_p50 {percentile(result.webhook_ms, 50):.1f} ms")
    print(f"BENCH {name}_webhook_p95 {percentile(result.webhook_ms, 95):.1f} ms")
    print(f"BENCH {name}_duplicates {found.duplicates} messages")
    print(f"BENCH {name}_wrong_messages {found.wrong} messages", flush=True)
    return found


def job_durations(owner_url: str) -> list[tuple[str, float, float]]:
    """Per task on the answer's path: p50 and p95 from a worker starting it to it ending, ms."""
    with psycopg.connect(owner_url) as conn:
        rows = conn.execute(
            "select j.task_name, "
            "percentile_cont(0.5) within group (order by extract(epoch from e.at - s.at)), "
            "percentile_cont(0.95) within group (order by extract(epoch from e.at - s.at)) "
            "from procrastinate_jobs j "
            "join procrastinate_events s on s.job_id = j.id and s.type = 'started' "
            "join procrastinate_events e on e.job_id = j.id and e.type = 'succeeded' "
            "where j.task_name in ('conversations.inbound_recorded', 'whatsapp.send_message') "
            "group by j.task_name order by 1"
        ).fetchall()
    return [(name, p50 * 1000, p95 * 1000) for name, p50, p95 in rows]


def jobs_by_task(owner_url: str) -> dict[str, int]:
    with psycopg.connect(owner_url) as conn:
        rows = conn.execute(
            "select task_name, count(*) from procrastinate_jobs group by 1 order by 2 desc"
        ).fetchall()
    return {name: count for name, count in rows}


if __name__ == "__main__":
    main()
