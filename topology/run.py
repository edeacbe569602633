"""Bring the topology up, run the traffic and the faults, check, and print the summary."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis

from clientcompass.config import generate_key_spec, generate_vapid_private_key
from clientcompass.realtime import bus
from topology import proxy, traffic
from topology.processes import (
    APP_ROLE,
    Child,
    PrivateRedis,
    WebReplica,
    app_url,
    free_port,
    fresh_database,
    run_cli,
    wait_until,
)

OWNER_EMAIL = "owner@topology.example.co.za"
OWNER_PASSWORD = "topology password 1"  # noqa: S105 (a throwaway database)
SEND_CUSTOMERS = ["+27826000001", "+27826000002", "+27826000003", "+27826000004"]
PROFILE = {
    "trading_name": "Topology Plumbing",
    "registered_name": "Topology Plumbing (Pty) Ltd",
    "vat_number": "4123456789",
    "physical_address": "1 Main Road\nCape Town\n8001",
    "default_vat_rate": "15",
    "default_invoice_terms": "Payment due within 7 days.",
}


STARTED = time.monotonic()


def say(message: str) -> None:
    """Progress on stderr, with the seconds since the start."""
    print(f"topology {time.monotonic() - STARTED:6.1f}s {message}", file=sys.stderr, flush=True)


@dataclass
class Plan:
    """The faults, in order, and how fast the traffic comes while they happen.

    The traffic runs from before the first fault until `settle` seconds after the last, so
    every fault happens under load whatever the machine's speed; `limit` bounds it anyway.
    """

    kill_after: float = 5.0  # web-b and worker-1 get SIGKILL
    down_for: float = 5.0  # then they are started again (a container restart policy)
    settle: float = 3.0  # after web-b is ready again, then Redis is restarted
    redis_down_for: float = 1.5
    webhook_every: float = 0.25
    send_every: float = 0.75  # through the proxy
    direct_send_every: float = 1.0  # straight to web-b, for the cross-replica SSE check
    document_every: float = 3.0
    media_every: float = 5.0
    limit: int = 400
    drain_timeout: float = 120.0


@dataclass
class Topology:
    scratch: Path
    owner_url: str
    redis: PrivateRedis
    standin_url: str
    proxy_url: str
    web: list[WebReplica]
    workers: list[Child]
    token: str = ""
    tenant_id: str = ""
    channel: dict[str, str] = field(default_factory=dict)
    conversations: list[str] = field(default_factory=list)


@dataclass
class Result:
    failures: list[str] = field(default_factory=list)
    figures: dict[str, str] = field(default_factory=dict)

    def check(self, ok: bool, message: str) -> None:
        if not ok:
            self.failures.append(message)


def base_env(redis_url: str, proxy_url: str, standin_url: str) -> dict[str, str]:
    """What every app process gets; the database URL differs by role."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEST_", "DATABASE_", "REDIS_", "CLIENTCOMPASS_", "TWILIO_"))
    }
    return inherited | {
        "CLIENTCOMPASS_ENV": "production",
        "SANDBOX": "false",
        "REDIS_URL": redis_url,
        "SECRET_KEY": "topology-secret-" + "k" * 40,
        "ENCRYPTION_KEYS": generate_key_spec("k1"),
        "VAPID_PRIVATE_KEY": generate_vapid_private_key(),
        "PUBLIC_BASE_URL": proxy_url,
        "TWILIO_API_BASE_URL": standin_url,
        "TWILIO_CONTENT_BASE_URL": standin_url,
        "TWILIO_TIMEOUT_SECONDS": "3",
        "WHATSAPP_RECONCILE_DELAY_SECONDS": "1",
        "WHATSAPP_SWEEP_AFTER_SECONDS": "5",
        "WORKER_STALLED_AFTER_SECONDS": "4.5",
        "WORKER_CONCURRENCY": "4",
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
        "LOGIN_MAX_FAILURES_PER_IP": "3",
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": "100",
        "LOG_LEVEL": "WARNING",
        "HOST": "127.0.0.1",
    }


@contextlib.contextmanager
def topology(scratch: Path) -> Iterator[Topology]:
    """Everything up: migrated database, Redis, stand-in, two web, two workers, nginx."""
    proxy.nginx_binary()  # installs nginx-light first, when it is missing
    with contextlib.ExitStack() as stack:
        owner_url = stack.enter_context(fresh_database(scratch))
        redis = PrivateRedis(scratch / "redis").start()
        stack.callback(redis.stop)
        logs = scratch / "logs"
        logs.mkdir()
        standin_port = free_port()
        standin_url = f"http://127.0.0.1:{standin_port}"
        standin = Child(
            "twilio-standin", ["topology.standin", str(standin_port)], dict(os.environ), logs
        )
        standin.env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
        standin.start()
        stack.callback(standin.stop)
        proxy_port = free_port()
        proxy_url = f"http://127.0.0.1:{proxy_port}"
        env = base_env(redis.url, proxy_url, standin_url)
        owner_env = env | {
            "DATABASE_URL": owner_url,
            "DATABASE_APP_ROLE": APP_ROLE,
            "CLIENTCOMPASS_DATA_DIR": str(scratch / "cli"),
        }
        run_cli(owner_env, "migrate")  # as the owner role
        role_env = env | {
            "DATABASE_URL": app_url(owner_url),
            "DATABASE_APP_URL": app_url(owner_url),
        }
        web = [
            WebReplica(
                f"web-{n}", role_env | {"CLIENTCOMPASS_DATA_DIR": str(scratch / f"web-{n}")}, logs
            )
            for n in "ab"
        ]
        workers = [
            Child(
                f"worker-{n}",
                ["clientcompass", "worker"],
                role_env | {"CLIENTCOMPASS_DATA_DIR": str(scratch / f"worker-{n}")},
                logs,
            )
            for n in "12"
        ]
        for child in [*web, *workers]:
            child.start()
            stack.callback(child.stop)
        say("migrated; web and workers starting")
        top = Topology(scratch, owner_url, redis, standin_url, proxy_url, web, workers)
        # The provisioning commands run while the replicas start (each is a Python start-up).
        wait_until(
            lambda: httpx.get(f"{standin_url}/_control/senders").status_code == 200,
            60,
            "the stand-in",
        )
        provisioning = ThreadPoolExecutor(1).submit(provision_cli, top, owner_env)
        for replica in web:
            replica.wait_ready()
        nginx_dir = scratch / "nginx"
        config = proxy.write_config(nginx_dir, proxy_port, [w.port for w in web], ["127.0.0.1/32"])
        nginx = proxy.start_nginx(nginx_dir, config)
        stack.callback(_stop_process, nginx)
        wait_until(
            lambda: httpx.get(f"{proxy_url}/readyz", timeout=2).status_code == 200, 20, "nginx"
        )
        say("web replicas ready behind nginx")
        provisioning.result()
        set_up_business(top)
        say("business, API token and WhatsApp sender provisioned")
        yield top


def _stop_process(process: Any) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except Exception:
        process.kill()


def provision_cli(top: Topology, owner_env: dict[str, str]) -> None:
    """A business, its API token and a WhatsApp sender, through the provisioning commands."""
    tenant = json.loads(
        run_cli(
            owner_env,
            "tenant",
            "create",
            "--name",
            "Topology Plumbing",
            "--owner-email",
            OWNER_EMAIL,
            "--owner-password",
            OWNER_PASSWORD,
            "--json",
        )
    )
    top.tenant_id = tenant["tenant_id"]
    account = httpx.post(f"{top.standin_url}/_control/accounts", json={}).json()
    with ThreadPoolExecutor(2) as pool:  # two independent commands, two Python start-ups
        token = pool.submit(
            run_cli,
            owner_env,
            *("token", "create", "--tenant", top.tenant_id, "--email", OWNER_EMAIL, "--json"),
        )
        connected = pool.submit(
            run_cli,
            owner_env,
            *("channel", "add-twilio", "--tenant", top.tenant_id),
            *("--account-sid", account["account_sid"], "--auth-token", account["auth_token"]),
            *("--from", "whatsapp:+27821230000", "--json"),
        )
        top.token = json.loads(token.result())["token"]
        channel = json.loads(connected.result())
    httpx.post(
        f"{top.standin_url}/_control/senders",
        json={
            "account_sid": account["account_sid"],
            "from": channel["whatsapp_from"],
            "inbound_url": channel["inbound_webhook_url"],
            "status_url": channel["status_callback_url"],
        },
    ).raise_for_status()
    top.channel = {**channel, **account}


def set_up_business(top: Topology) -> None:
    """The business profile (invoices need it) and customers who wrote in (the window)."""
    channel = top.channel
    headers = {"Authorization": f"Bearer {top.token}"}
    with httpx.Client(base_url=top.proxy_url, headers=headers, timeout=20) as api:
        api.put("/api/v1/business/profile", json=PROFILE).raise_for_status()
        for phone in SEND_CUSTOMERS:  # they write first, so the 24-hour window is open
            delivered = httpx.post(
                f"{top.standin_url}/_control/inbound",
                json={"to": channel["whatsapp_from"], "from": f"whatsapp:{phone}", "body": "Hi"},
                timeout=20,
            ).json()
            assert delivered.get("status_code") == 200, delivered
        by_phone = {c["contact"]["phone"]: c["id"] for c in api.get("/api/v1/conversations").json()}
        top.conversations = [by_phone[phone] for phone in SEND_CUSTOMERS]


def check_forwarded_headers(top: Topology, result: Result) -> None:
    """The app sees the client address the proxy forwards: the per-IP login throttle counts
    203.0.113.7 and 203.0.113.8 apart (behind a proxy that hid them, both would be the proxy)."""

    def attempt(client: httpx.Client, ip: str, n: int) -> int:
        page = client.get("/login", headers={"X-Forwarded-For": ip})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, "the login page has no CSRF field"
        return client.post(
            "/login",
            data={
                "email": f"nobody{n}@example.co.za",
                "password": "wrong password",
                "csrf_token": token.group(1),
            },
            headers={"X-Forwarded-For": ip},
        ).status_code

    with httpx.Client(base_url=top.proxy_url, timeout=20) as client:
        first = [attempt(client, "203.0.113.7", n) for n in range(4)]
        other = attempt(client, "203.0.113.8", 9)
        proto = client.get("/api/v1/conversations/", headers={"X-Forwarded-Proto": "https"})
    result.check(
        first[-1] == 429 and 429 not in first[:3] and other != 429,
        f"X-Forwarded-For not honoured: statuses {first} then {other} from another address",
    )
    location = proto.headers.get("location", "")
    result.check(
        proto.status_code in (307, 308) and location.startswith("https://"),
        f"X-Forwarded-Proto not honoured: {proto.status_code} {location!r}",
    )
    result.figures["forwarded"] = "ok" if first[-1] == 429 and other != 429 else "LOST"


async def run_traffic(top: Topology, plan: Plan) -> traffic.Ledger:
    ledger = traffic.Ledger()
    clients = traffic.Clients(top.proxy_url, [w.url for w in top.web], top.token)
    listeners = [
        traffic.SseListener("sse-on-a", top.web[0].url, top.token),
        traffic.SseListener("sse-via-proxy", top.proxy_url, top.token),
    ]
    for listener in listeners:
        listener.start()
    await asyncio.wait_for(asyncio.gather(*(lst.connected.wait() for lst in listeners)), 20)
    standin = httpx.AsyncClient(base_url=top.standin_url, timeout=30)
    stop_probe = asyncio.Event()

    faults_over = asyncio.Event()

    async def faults() -> None:
        await asyncio.sleep(plan.kill_after)
        killed_at = ledger.now()
        top.web[1].kill()  # replica B, and a worker, mid-run
        top.workers[0].kill()
        say("killed web-b and worker-1 (SIGKILL)")
        await asyncio.sleep(plan.down_for)
        top.web[1].start()
        top.workers[0].start()
        restarted_at = ledger.now()
        listening = await asyncio.to_thread(top.web[1].wait_ready)
        ledger.replica_down = (killed_at, ledger.now())
        say(
            f"web-b ready again {ledger.now() - killed_at:.1f}s after the kill "
            f"(answering {listening:.1f}s after its restart, ready "
            f"{ledger.now() - restarted_at:.1f}s after)"
        )
        await asyncio.sleep(plan.settle)
        stopped_at = ledger.now()
        await asyncio.to_thread(top.redis.stop)
        await asyncio.sleep(plan.redis_down_for)
        await asyncio.to_thread(top.redis.start)
        ledger.redis_down = (stopped_at, ledger.now())
        say(f"restarted redis ({ledger.now() - stopped_at:.1f}s down)")
        await asyncio.sleep(plan.settle)
        faults_over.set()

    def pace(every: float) -> traffic.Pace:
        return traffic.Pace(every, plan.limit, faults_over)

    prober = asyncio.create_task(traffic.probe(ledger, clients.proxy, stop_probe))
    try:
        await asyncio.gather(
            faults(),
            traffic.webhooks(ledger, clients, top.channel, pace(plan.webhook_every)),
            traffic.sends(
                ledger,
                clients.proxy,
                "proxy",
                top.conversations,
                pace(plan.send_every),
                through_proxy=True,
            ),
            traffic.sends(
                ledger,
                clients.replicas[1],
                "web-b",
                top.conversations,
                pace(plan.direct_send_every),
                through_proxy=False,
            ),
            traffic.documents(ledger, clients, pace(plan.document_every)),
            traffic.media_messages(ledger, standin, top.channel, pace(plan.media_every)),
        )
    finally:
        faults_over.set()
        stop_probe.set()
        await prober
    say("traffic over; waiting for the workers to finish")
    ledger.drain_seconds = await asyncio.to_thread(drain, top, ledger, plan.drain_timeout)
    await asyncio.sleep(3)  # let the last events reach the listeners
    for listener in listeners:
        await listener.stop()
        ledger.sse[listener.name] = (listener.seen, listener.connects)
    await standin.aclose()
    await clients.aclose()
    return ledger


def outstanding(conn: psycopg.Connection, top: Topology, ledger: traffic.Ledger) -> dict[str, int]:
    row = conn.execute(
        """
        select
          (select count(*) from messages where direction = 'outbound'
             and status in ('queued', 'sending')),
          (select count(*) from messages where direction = 'inbound' and handled_at is null),
          (select count(*) from message_media where state = 'pending')
        """
    ).fetchone()
    assert row is not None
    handed = standin_outbound(top)
    missing = sum(1 for body in ledger.sends_accepted if handed.get(body, 0) == 0)
    return {"queued": row[0], "unhandled": row[1], "media_pending": row[2], "not_handed": missing}


def standin_outbound(top: Topology) -> Counter[str]:
    messages = httpx.get(
        f"{top.standin_url}/_control/messages", params={"direction": "outbound"}, timeout=30
    ).json()
    return Counter(m["body"] for m in messages)


def drain(top: Topology, ledger: traffic.Ledger, timeout: float) -> float:
    """Wait until the workers have done everything they were given; seconds it took."""
    started = time.monotonic()
    left: dict[str, int] = {}
    with psycopg.connect(top.owner_url, autocommit=True) as conn:
        while time.monotonic() - started < timeout:
            left = outstanding(conn, top, ledger)
            if not any(left.values()):
                return time.monotonic() - started
            time.sleep(0.5)
    raise RuntimeError(f"the workers did not finish within {timeout:.0f} s: {left}")


def check(top: Topology, ledger: traffic.Ledger, result: Result) -> None:
    with psycopg.connect(top.owner_url, autocommit=True) as conn:
        stored: dict[str, int] = dict(
            conn.execute(
                "select provider_sid, count(*) from messages where direction = 'inbound' "
                "and provider_sid = any(%s) group by provider_sid",
                (list(ledger.webhooks_accepted),),
            ).fetchall()
        )
        unhandled = conn.execute(
            "select count(*) from messages where direction = 'inbound' and handled_at is null"
        ).fetchone()
        sent_rows: dict[str, str] = dict(
            conn.execute(
                "select id::text, status::text from messages where id = any(%s::uuid[])",
                ([v[0] for v in ledger.sends_accepted.values()],),
            ).fetchall()
        )
        media_rows = conn.execute(
            "select m.provider_sid, mm.id::text, mm.state::text from message_media mm "
            "join messages m on m.tenant_id = mm.tenant_id and m.id = mm.message_id "
            "where m.provider_sid = any(%s)",
            (list(ledger.media),),
        ).fetchall()

    lost = len(ledger.webhooks_accepted) - len(stored)
    dup = sum(n - 1 for n in stored.values())
    result.check(lost == 0 and dup == 0, f"webhooks: {lost} lost, {dup} stored twice")
    result.check(ledger.webhooks_refused == 0, f"{ledger.webhooks_refused} webhooks never accepted")
    result.check(unhandled == (0,), f"{unhandled} inbound messages never handled")
    result.figures["webhooks"] = (
        f"accepted={len(ledger.webhooks_accepted)} stored={len(stored)} dup={dup} "
        f"redelivered={ledger.webhook_redeliveries}"
    )

    handed = standin_outbound(top)
    accepted = ledger.sends_accepted
    not_handed = [b for b in accepted if handed.get(b, 0) == 0]
    twice = [b for b in [*accepted, *ledger.sends_unknown] if handed.get(b, 0) > 1]
    vanished = [i for i, _v, _t in accepted.values() if i not in sent_rows]
    result.check(not vanished, f"accepted sends missing from the database: {len(vanished)}")
    result.check(not not_handed, f"sends accepted but never handed to Twilio: {len(not_handed)}")
    result.check(not twice, f"sends handed to Twilio more than once: {len(twice)}")
    unknown_handed = sum(1 for b in ledger.sends_unknown if handed.get(b, 0) == 1)
    result.figures["sends"] = (
        f"accepted={len(accepted)} handed={len(accepted) - len(not_handed)} dup={len(twice)} "
        f"unknown_outcome={len(ledger.sends_unknown)}(handed {unknown_handed}) "
        f"refused_while_down={ledger.sends_refused} "
        f"statuses={dict(Counter(sent_rows.get(i, 'missing') for i, _v, _t in accepted.values()))}"
    )

    identical = sum(
        1
        for _d, _by, mine, other in ledger.pdfs
        if mine and other and mine.startswith(b"%PDF-") and mine == other
    )
    result.check(
        identical == len(ledger.pdfs) and bool(ledger.pdfs),
        f"PDFs byte-identical across replicas: {identical}/{len(ledger.pdfs)}",
    )
    result.figures["pdfs"] = (
        f"{identical}/{len(ledger.pdfs)} identical across replicas "
        f"(not issued, server busy: {ledger.documents_unavailable})"
    )
    for error in dict.fromkeys(ledger.errors):  # each distinct error once
        result.failures.append(f"request failed: {error}")

    check_media(top, ledger, media_rows, result)
    check_sse(top, ledger, result)
    check_outage(ledger, result)


def check_media(top: Topology, ledger: traffic.Ledger, rows: list[Any], result: Result) -> None:
    served = 0
    headers = {"Authorization": f"Bearer {top.token}"}
    stored = {sid: (media_id, state) for sid, media_id, state in rows}
    for sid, data in ledger.media.items():
        media_id, state = stored.get(sid, ("", "missing"))
        if state != "stored":
            continue
        bodies = [
            httpx.get(f"{replica.url}/media/{media_id}", headers=headers, timeout=20)
            for replica in top.web
        ]
        if all(r.status_code == 200 and r.content == data for r in bodies):
            served += 1
    result.check(
        served == len(ledger.media) and len(ledger.media) > 0,
        f"media fetched by a worker and served by both replicas: {served}/{len(ledger.media)}",
    )
    result.figures["media"] = f"{served}/{len(ledger.media)} served by both replicas"


def published_ids(top: Topology) -> set[str]:
    """The message ids of every message.created event that reached the tenant's Redis stream."""
    client = redis.Redis.from_url(top.redis.url)
    try:
        entries: list[Any] = client.xrange(bus.stream_name(uuid.UUID(top.tenant_id))) or []
    finally:
        client.close()
    found = set()
    for _entry_id, fields in entries:
        event = json.loads((fields or {}).get(b"event") or b"{}")
        if event.get("type") == "message.created" and "message_id" in event:
            found.add(event["message_id"])
    return found


def check_sse(top: Topology, ledger: traffic.Ledger, result: Result) -> None:
    """Every event that was published reaches a listener on A when B caused it, and a
    listener through the proxy (which reconnects with Last-Event-ID when its replica dies).
    An event the app could not publish because Redis was down is counted apart."""
    published = published_ids(top)
    accepted = {i: t for i, _via, t in ledger.sends_accepted.values()}
    assert ledger.redis_down is not None and ledger.replica_down is not None
    stop, up = ledger.redis_down
    killed = ledger.replica_down[0]
    unpublished = {i for i in accepted if i not in published}
    # The Announcer publishes a batch shortly after commit (seconds, on a loaded machine), so
    # an event committed just before Redis went down or its replica was killed may never be.
    outage = {i for i in unpublished if stop - 10 <= accepted[i] <= up + 2}
    with_replica = {i for i in unpublished - outage if killed - 5 <= accepted[i] <= killed}
    other = unpublished - outage - with_replica
    result.check(
        not other,
        "events never published, outside the Redis restart and the kill: "
        + ", ".join(f"{i} at {accepted[i] - ledger.started:.1f}s" for i in sorted(other)),
    )
    result.figures["events published"] = (
        f"{len(accepted) - len(unpublished)}/{len(accepted)} (lost to the redis restart: "
        f"{len(outage)}, with the killed replica: {len(with_replica)})"
    )
    caused_on_b = {i for i, via, _t in ledger.sends_accepted.values() if via == "web-b"}
    for name, expected, label in (
        ("sse-on-a", caused_on_b, "on A, caused on B"),
        ("sse-via-proxy", set(accepted), "via proxy"),
    ):
        arrived, connects = ledger.sse[name]
        wanted = expected & published
        seen = wanted & set(arrived)
        latencies = [(arrived[i] - accepted[i]) * 1000 for i in seen if arrived[i] >= accepted[i]]
        p50 = f" p50={statistics.median(latencies):.0f}ms" if latencies else ""
        result.check(
            len(seen) == len(wanted) and bool(wanted),
            f"SSE {label}: saw {len(seen)} of the {len(wanted)} published",
        )
        result.figures[f"sse {label}"] = f"{len(seen)}/{len(wanted)}{p50} connects={connects}"


def _failed(ledger: traffic.Ledger, start: float, end: float) -> str:
    """Requests through the proxy from `start` to a second after `end`: how many failed, with
    which statuses (0: the connection failed), and from the first failure to the last."""
    window = [a for a in ledger.proxied if start <= a.at <= end + 1]
    failed = [a for a in window if not a.ok]
    span = (failed[-1].at - failed[0].at) * 1000 if failed else 0.0
    statuses = ",".join(
        f"{code}x{n}" for code, n in sorted(Counter(a.status for a in failed).items())
    )
    return f"failed {len(failed)}/{len(window)}" + (
        f" [{statuses}] over {span:.0f}ms" if failed else ""
    )


def check_outage(ledger: traffic.Ledger, result: Result) -> None:
    """How long requests through the proxy failed while replica B was down, and Redis."""
    assert ledger.replica_down is not None and ledger.redis_down is not None
    start, end = ledger.replica_down
    result.figures["replica down"] = f"{end - start:.1f}s, proxied {_failed(ledger, start, end)}"
    start, end = ledger.redis_down
    result.figures["redis restart"] = f"{end - start:.1f}s, proxied {_failed(ledger, start, end)}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m topology", description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and logs")
    args = parser.parse_args(argv)
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="cc-topology-"))
    result = Result()
    try:
        with topology(scratch) as top:
            check_forwarded_headers(top, result)
            plan = Plan()
            ledger = asyncio.run(run_traffic(top, plan))
            result.figures["drain"] = f"{ledger.drain_seconds:.1f}s"
            check(top, ledger, result)
    except Exception as exc:
        traceback.print_exc()
        result.failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        if not args.keep and not result.failures:
            shutil.rmtree(scratch, ignore_errors=True)
    result.figures["elapsed"] = f"{time.monotonic() - started:.0f}s"
    summary = " | ".join(f"{k} {v}" for k, v in result.figures.items())
    print(f"TOPOLOGY {'PASS' if not result.failures else 'FAIL'} | {summary}", flush=True)
    for failure in result.failures:
        print(f"TOPOLOGY LOSS {failure}", flush=True)
    if result.failures:
        print(f"TOPOLOGY logs kept in {scratch}", flush=True)
    return 1 if result.failures else 0
