"""Web push under a burst of customers' messages: from a signed webhook to the encrypted push
reaching the push service.

100 businesses, each with 5 people on 2 devices (1,000 subscribed devices). Every business
gets messages from new customers (each one "New conversation or lead", so every device of
that business is pushed), sent as Twilio-signed webhooks at a steady rate. The push service is
the test stand-in (tests/support/push_service.py): it checks each push's VAPID signature and
headers on arrival, as a browser's push service would, and decrypts every payload after the
burst, as the phone would (on its own CPU, so not on the two cores measured here). Two
`clientcompass worker` processes do the work, as in the production topology, warmed up first
by a few messages whose pushes are not counted (a long-running worker has its modules, pools
and connections ready).

Three phases, one after the other, each reported on its own lines:
- a busy spell (`notify_…`): MESSAGES at RATE per second;
- a burst (`notify_burst_…`): one message to each business within one second (100 messages,
  1,000 pushes, five times the spell's rate and past what two shared cores keep up with);
- a spike (`notify_spike_…`): one message to each business at the same instant, the worst
  moment two cores can meet. Its p95 is bound by the CPU all parties need for 1,000 pushes
  (`cpu_all_over_cores`), so it moves with the machine's speed.
For each: pushes per second delivered, p50/p95 from a webhook's send to each of its pushes
arriving, duplicates and missing pushes (both must be 0), the webhook's own latency, and the
CPU each party spent.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import psycopg
from tests.support.push_service import Delivery, PushService, PushServiceServer
from twilio.request_validator import RequestValidator

from bench.harness import Stack, stack
from clientcompass.auth.passwords import hash_password
from clientcompass.config import Settings
from clientcompass.crypto import Keyring
from clientcompass.db import Database, create_engine
from clientcompass.notifications import push as web_push
from clientcompass.notifications import subscriptions

TENANTS = int(os.environ.get("BENCH_NOTIFY_TENANTS", "100"))
PEOPLE = 5
DEVICES_PER_PERSON = 2
MESSAGES = int(os.environ.get("BENCH_NOTIFY_MESSAGES", "300"))
RATE = float(os.environ.get("BENCH_NOTIFY_RATE", "20"))  # webhooks per second
# Messages sent (and their pushes awaited) before the measured burst, so the workers are warm as
# long-running ones are: modules imported, pools open, SQL compiled, connections kept alive.
WARMUP = int(os.environ.get("BENCH_NOTIFY_WARMUP", "20"))
# The burst: one message per business within one second. The spike: all at the same instant.
BURST_RATE = float(TENANTS)
SPIKE_RATE = math.inf
WORKERS = 2
# Jobs per worker; unset, the production default (WORKER_CONCURRENCY). A push job sends to all
# its devices side by side, so more slots only add idle pollers: 16 measured slower than 4.
CONCURRENCY = os.environ.get("BENCH_NOTIFY_CONCURRENCY", "")
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def business(url: str, twilio_url: str, i: int) -> dict[str, str]:
    """A business signed up through the form, with a WhatsApp sender connected."""
    with httpx.Client(base_url=url, timeout=30) as client:
        token = CSRF.search(client.get("/signup").text).group(1)  # type: ignore[union-attr]
        client.post(
            "/signup",
            data={
                "business_name": f"Bench Plumbing {i}",
                "owner_name": f"Owner {i}",
                "email": f"bench-notify-{i}-{uuid.uuid4().hex[:6]}@example.co.za",
                "password": "bench password 1",
                "csrf_token": token,
            },
        )
        account = httpx.post(f"{twilio_url}/_control/accounts", json={}).json()
        csrf = CSRF.search(client.get("/settings/account").text).group(1)  # type: ignore[union-attr]
        response = client.post(
            "/api/v1/channels",
            json={**account, "whatsapp_from": f"whatsapp:+2782{1_000_000 + i}"},
            headers={"X-CSRF-Token": csrf},
        )
        response.raise_for_status()
        me = client.get("/api/v1/me").json()
        return {**response.json(), **account, "tenant_id": me["tenant_id"]}


def add_team(owner_url: str, tenant_id: str) -> list[uuid.UUID]:
    """Four teammates besides the owner, written directly (set-up, not what is measured)."""
    password = hash_password("bench password 1")
    with psycopg.connect(owner_url, autocommit=True) as conn:
        people = [
            row[0]
            for row in conn.execute(
                "select id from users where tenant_id = %s", (tenant_id,)
            ).fetchall()
        ]
        for n in range(PEOPLE - len(people)):
            user_id = uuid.uuid4()
            conn.execute(
                "insert into users (tenant_id, id, email, name, password_hash, role, is_active, "
                "created_at) values (%s, %s, %s, %s, %s, 'agent', true, now())",
                (
                    tenant_id,
                    user_id,
                    f"agent{n}-{user_id.hex[:8]}@example.co.za",
                    f"Agent {n}",
                    password,
                ),
            )
            people.append(user_id)
    return people


async def add_devices(
    settings: Settings, push_service: PushService, teams: dict[str, list[uuid.UUID]]
) -> int:
    """Each person subscribes two devices, as the settings page does."""
    key = web_push.vapid_public_key(settings)
    keyring = Keyring(settings.encryption_keys)
    db = Database(create_engine(settings.app_database_url(), pool_size=2))
    count = 0
    try:
        for tenant_id, people in teams.items():
            async with db.unit_of_work(uuid.UUID(tenant_id)) as uow:
                for person in people:
                    for _ in range(DEVICES_PER_PERSON):
                        browser = push_service.subscribe(key)
                        await subscriptions.subscribe(
                            uow,
                            keyring,
                            person,
                            endpoint=browser["endpoint"],
                            p256dh=browser["keys"]["p256dh"],
                            auth=browser["keys"]["auth"],
                            user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile",
                        )
                        count += 1
    finally:
        await db.dispose()
    return count


# A phone number prefix per kind of message, so each phase's customers are new ones.
PREFIXES = {"Bench": "+2784", "Warm-up": "+2785", "Burst": "+2786", "Spike": "+2787"}


def webhook(
    channel: dict[str, str], i: int, label: str = "Bench"
) -> tuple[str, dict[str, str], dict[str, str]]:
    phone = f"{PREFIXES[label]}{1_000_000 + i}"
    sid = f"SM{uuid.uuid4().hex}"
    form = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": channel["account_sid"],
        "From": f"whatsapp:{phone}",
        "To": channel["whatsapp_from"],
        "Body": f"{label} message {i}: my geyser is leaking",
        "NumMedia": "0",
        "WaId": phone.lstrip("+"),
        "ProfileName": f"Customer {i}",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    url = channel["inbound_webhook_url"]
    signature = RequestValidator(channel["auth_token"]).compute_signature(url, form)
    return url, form, {"X-Twilio-Signature": signature}


def warm_up(channels: list[dict[str, str]], push_service: PushService) -> None:
    """WARMUP messages to as many businesses, one at a time, their pushes awaited, then
    forgotten: the measured burst meets warm workers."""
    with httpx.Client(timeout=30) as http:
        for i in range(WARMUP):
            url, form, headers = webhook(channels[i % len(channels)], i, label="Warm-up")
            http.post(url, data=form, headers=headers).raise_for_status()
    push_service.wait_for_arrivals(WARMUP * PEOPLE * DEVICES_PER_PERSON, timeout=60)
    time.sleep(1)
    push_service.clear()


async def send_burst(
    channels: list[dict[str, str]], messages: int, rate: float, label: str
) -> tuple[dict[int, float], list[float]]:
    """`messages` webhooks at `rate` per second, round robin over the businesses. Sent with
    aiohttp: Twilio sends from its own machines, and httpx cost this process twice the CPU
    on the two cores measured."""
    sent: dict[int, float] = {}
    latencies: list[float] = []
    prepared = [webhook(channels[i % len(channels)], i, label) for i in range(messages)]
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:

        async def one(i: int) -> None:
            url, form, headers = prepared[i]
            sent[i] = time.time()
            started = time.perf_counter()
            async with http.post(url, data=form, headers=headers) as response:
                await response.read()
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                raise RuntimeError(f"webhook {i} answered {response.status}")

        tasks = []
        start = time.perf_counter()
        for i in range(messages):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return sent, latencies


def workers_ready(owner_url: str, count: int) -> None:
    """Wait until `count` workers have registered (and so listen for new jobs), then a
    moment more for their listeners."""
    deadline = time.monotonic() + 60
    with psycopg.connect(owner_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("select count(*) from procrastinate_workers").fetchone()
            if row is not None and row[0] >= count:
                time.sleep(1)
                return
            time.sleep(0.2)
    raise RuntimeError("the workers did not start")


def queue_waits(owner_url: str, since: float) -> list[tuple[str, float, float]]:
    """Per task: p50 and p95 from being queued (or due) to a worker starting it, in ms, for
    the jobs queued since `since` (a Unix time)."""
    with psycopg.connect(owner_url) as conn:
        rows = conn.execute(
            "select j.task_name, "
            "percentile_cont(0.5) within group (order by extract(epoch from s.at - d.at)), "
            "percentile_cont(0.95) within group (order by extract(epoch from s.at - d.at)) "
            "from procrastinate_jobs j "
            "join procrastinate_events d on d.job_id = j.id and d.type = 'deferred' "
            "join procrastinate_events s on s.job_id = j.id and s.type = 'started' "
            "where (j.task_name like 'notifications.%%' or j.task_name like 'conversations.%%') "
            "and d.at >= to_timestamp(%s) "
            "group by j.task_name order by 1",
            (since,),
        ).fetchall()
    return [(name, p50 * 1000, p95 * 1000) for name, p50, p95 in rows]


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """User plus system CPU per process (Linux /proc): a cost per push that holds even when
    something else shares the machine, unlike wall-clock throughput. A process that has
    ended is left out."""
    ticks = os.sysconf("SC_CLK_TCK")
    spent = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        spent[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (14, 15)
    return spent


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """What the processes measured both times spent in between. A PostgreSQL backend can
    end in a phase (a pool closing an idle connection); its share is lost, a small
    underestimate, where reading it as gone once raised and once counted negative."""
    return sum(after[pid] - before[pid] for pid in before.keys() & after.keys())


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on the machine (the benchmark's server is quiet otherwise)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def own_cpu_seconds() -> float:
    """This process: the load driver, the Twilio stand-in and the push stand-in's checks."""
    times = os.times()
    return times.user + times.system


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass
class Phase:
    """What one phase measured."""

    messages: int
    sent: dict[int, float]
    webhook_ms: list[float]
    deliveries: list[Delivery]
    cpu: dict[str, float]
    waits: list[tuple[str, float, float]]


def run_phase(
    app: Stack,
    channels: list[dict[str, str]],
    workers: list[subprocess.Popen[bytes]],
    push_service: PushService,
    *,
    messages: int,
    rate: float,
    label: str,
) -> Phase:
    """Send the phase's messages, wait for all their pushes, and count what each party spent."""
    push_service.clear()
    since = time.time()
    parties = {
        "workers": [w.pid for w in workers],
        "postgres": postgres_pids(),
        "web": [app.web_pid],
    }
    before = {name: cpu_by_pid(pids) for name, pids in parties.items()}
    own_before = own_cpu_seconds()
    sent, webhook_ms = asyncio.run(send_burst(channels, messages, rate, label))
    try:
        push_service.wait_for_arrivals(messages * PEOPLE * DEVICES_PER_PERSON, timeout=120)
    except AssertionError as exc:
        print(f"not every push arrived: {exc}", flush=True)
    cpu = {name: cpu_spent(before[name], cpu_by_pid(pids)) for name, pids in parties.items()}
    if any(w.poll() is not None for w in workers):
        raise RuntimeError("a worker exited during the phase")
    cpu["bench_and_standins"] = own_cpu_seconds() - own_before
    time.sleep(2)  # anything extra (a duplicate) would arrive now
    return Phase(
        messages,
        sent,
        webhook_ms,
        push_service.deliveries(),
        cpu,
        queue_waits(app.owner_url, since),
    )


def report(name: str, label: str, phase: Phase) -> int:
    """Print the phase's BENCH lines; the number of duplicate and missing pushes."""
    expected = phase.messages * PEOPLE * DEVICES_PER_PERSON
    seen: dict[tuple[int, str], int] = {}
    latencies: list[float] = []
    for delivery in phase.deliveries:
        found = re.match(rf"{label} message (\d+):", str(delivery.payload.get("body", "")))
        if found is None:
            continue
        i = int(found.group(1))
        seen[(i, delivery.endpoint)] = seen.get((i, delivery.endpoint), 0) + 1
        latencies.append((delivery.received_at - phase.sent[i]) * 1000)
    duplicates = sum(n - 1 for n in seen.values())
    missing = expected - len(seen)
    first = min(phase.sent.values())
    last = max((d.received_at for d in phase.deliveries), default=first)
    print(f"BENCH {name}_messages {phase.messages} messages")
    print(f"BENCH {name}_pushes_per_second {len(latencies) / max(last - first, 1e-9):.1f} pushes/s")
    print(f"BENCH {name}_webhook_to_push_p50 {percentile(latencies, 50):.0f} ms")
    print(f"BENCH {name}_webhook_to_push_p95 {percentile(latencies, 95):.0f} ms")
    worker_cpu = phase.cpu["workers"]
    print(f"BENCH {name}_worker_cpu_per_push {worker_cpu * 1000 / max(expected, 1):.2f} ms")
    for party, seconds in phase.cpu.items():
        print(f"BENCH {name}_cpu_{party} {seconds:.2f} s")
    # The least wall time the phase's work could take here: every party's CPU spread over
    # every core. A spike's p95 near it is the machine's limit, not a wait in the pipeline.
    cores = os.cpu_count() or 1
    print(f"BENCH {name}_cpu_all_over_cores {sum(phase.cpu.values()) * 1000 / cores:.0f} ms")
    print(f"BENCH {name}_duplicates {duplicates} pushes")
    print(f"BENCH {name}_missing {missing} pushes")
    print(f"BENCH {name}_webhook_p50 {percentile(phase.webhook_ms, 50):.1f} ms")
    print(f"BENCH {name}_webhook_p95 {percentile(phase.webhook_ms, 95):.1f} ms", flush=True)
    for task, p50, p95 in phase.waits:
        task_label = task.replace(".", "_")
        print(f"BENCH {name}_queue_wait_{task_label}_p50 {p50:.0f} ms")
        print(f"BENCH {name}_queue_wait_{task_label}_p95 {p95:.0f} ms", flush=True)
    return duplicates + missing


def main() -> None:
    # The phone decrypts a push on its own CPU, not ours: the stand-in checks each push as a
    # push service does when it arrives, and decrypts them all after the burst.
    server = PushServiceServer(decrypt_on_receipt=False)
    push_service = server.start()
    try:
        with stack() as app:
            started = time.perf_counter()
            channels = [business(app.url, app.twilio_url, i) for i in range(TENANTS)]
            teams = {c["tenant_id"]: add_team(app.owner_url, c["tenant_id"]) for c in channels}
            settings = Settings.model_validate(
                {
                    "database_url": app.owner_url,
                    "data_dir": Path(app.env["CLIENTCOMPASS_DATA_DIR"]),
                    "secret_key": app.env["SECRET_KEY"],
                    "encryption_keys": app.env["ENCRYPTION_KEYS"],
                }
            ).ensure_secrets()
            devices = asyncio.run(add_devices(settings, push_service, teams))
            print(
                f"set up {TENANTS} businesses, {devices} devices in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
            env = dict(app.env)
            if CONCURRENCY:
                env["WORKER_CONCURRENCY"] = CONCURRENCY
            workers = [
                subprocess.Popen([sys.executable, "-m", "clientcompass", "worker"], env=env)
                for _ in range(WORKERS)
            ]
            phases: list[tuple[str, str, Phase]] = []
            try:
                workers_ready(app.owner_url, WORKERS)
                warm_up(channels, push_service)
                print("workers warm", flush=True)
                # (BENCH line prefix, message label, messages, webhooks per second)
                plan = [
                    ("notify", "Bench", MESSAGES, RATE),
                    ("notify_burst", "Burst", len(channels), BURST_RATE),
                    ("notify_spike", "Spike", len(channels), SPIKE_RATE),
                ]
                for name, label, messages, rate in plan:
                    pace = "all at once" if math.isinf(rate) else f"at {rate:g} a second"
                    print(f"{name}: {messages} messages {pace}", flush=True)
                    phase = run_phase(
                        app,
                        channels,
                        workers,
                        push_service,
                        messages=messages,
                        rate=rate,
                        label=label,
                    )
                    phases.append((name, label, phase))
            finally:
                for worker in workers:
                    worker.terminate()
                for worker in workers:
                    worker.wait(timeout=30)
    finally:
        server.stop()

    print(f"BENCH notify_devices {devices} devices")
    wrong = sum(report(name, label, phase) for name, label, phase in phases)
    if wrong:
        raise SystemExit(f"{wrong} duplicate or missing pushes")


if __name__ == "__main__":
    main()
