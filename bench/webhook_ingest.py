"""Signed inbound webhooks at the product's real endpoint vs a bare ceiling route.

Both run in one uvicorn process each and get the same load: distinct MessageSids from 200
customers, 32 concurrent keep-alive connections. Afterwards every accepted webhook must be
in the database exactly once.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid

import httpx
import psycopg
from twilio.request_validator import RequestValidator

from bench.harness import LoadResult, free_port, report, stack, wait_ready
from bench.loadgen import blast, prepare_posts

TOTAL = int(os.environ.get("BENCH_WEBHOOKS", "6000"))
WARMUP = 600
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
CUSTOMERS = 200


def connect_channel(url: str, twilio_url: str) -> dict[str, str]:
    """Sign up a business and connect a WhatsApp sender, as a user would."""
    with httpx.Client(base_url=url, timeout=30) as client:
        token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/signup").text).group(
            1
        )  # type: ignore[union-attr]
        client.post(
            "/signup",
            data={
                "business_name": "Bench Electrical",
                "owner_name": "Bench",
                "email": "bench-webhooks@example.co.za",
                "password": "bench password 1",
                "csrf_token": token,
            },
        )
        account = httpx.post(f"{twilio_url}/_control/accounts", json={}).json()
        csrf = re.search(
            r'name="csrf-token" content="([^"]+)"', client.get("/settings/account").text
        ).group(1)  # type: ignore[union-attr]
        response = client.post(
            "/api/v1/channels",
            json={**account, "whatsapp_from": "whatsapp:+27821112222"},
            headers={"X-CSRF-Token": csrf},
        )
        response.raise_for_status()
        return {**response.json(), **account}


def forms(count: int, channel: dict[str, str]) -> list[dict[str, str]]:
    result = []
    for i in range(count):
        phone = f"+2783{1_000_000 + i % CUSTOMERS}"
        sid = f"SM{uuid.uuid4().hex}"
        result.append(
            {
                "MessageSid": sid,
                "SmsMessageSid": sid,
                "SmsSid": sid,
                "AccountSid": channel["account_sid"],
                "From": f"whatsapp:{phone}",
                "To": channel["whatsapp_from"],
                "Body": f"Hello, message {i}",
                "NumMedia": "0",
                "NumSegments": "1",
                "WaId": phone.lstrip("+"),
                "ProfileName": f"Customer {i % CUSTOMERS}",
                "SmsStatus": "received",
                "ApiVersion": "2010-04-01",
            }
        )
    return result


def signed(url: str, token: str, batch: list[dict[str, str]]):  # type: ignore[no-untyped-def]
    validator = RequestValidator(token)
    headers = [{"X-Twilio-Signature": validator.compute_signature(url, form)} for form in batch]
    return prepare_posts(url, batch, headers)


def run(url: str, token: str, batch: list[dict[str, str]]) -> LoadResult:
    result, statuses = asyncio.run(blast(signed(url, token, batch), CONCURRENCY))
    bad = [s for s in statuses if s != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} webhooks were not accepted (e.g. {bad[0]})")
    return result


def main() -> None:
    with stack() as app:
        channel = connect_channel(app.url, app.twilio_url)
        product_url, token = channel["inbound_webhook_url"], channel["auth_token"]

        with psycopg.connect(app.owner_url, autocommit=True) as conn:
            conn.execute("create table bench_ceiling (message_sid text primary key, body text)")
        port = free_port()
        ceiling_url = f"http://127.0.0.1:{port}/inbound"
        ceiling = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.ceiling:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env={
                **os.environ,
                "CEILING_DATABASE_URL": app.owner_url,
                "CEILING_AUTH_TOKEN": token,
                "CEILING_PUBLIC_URL": ceiling_url,
            },
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}", path="/inbound", method="GET")
            run(ceiling_url, token, forms(WARMUP, channel))
            run(product_url, token, forms(WARMUP, channel))
            product_batch = forms(TOTAL, channel)
            ceiling_result = run(ceiling_url, token, forms(TOTAL, channel))
            product_result = run(product_url, token, product_batch)
        finally:
            ceiling.terminate()
            ceiling.wait(timeout=15)

        with psycopg.connect(app.owner_url) as conn:
            sids = [form["MessageSid"] for form in product_batch]
            stored, distinct = conn.execute(
                "select count(*), count(distinct provider_sid) from messages where provider_sid = any(%s)",
                (sids,),
            ).fetchone()  # type: ignore[misc]
            # Each stored message's follow-up job was written with it, once.
            (follow_ups,) = conn.execute(
                "select count(*) from procrastinate_jobs j join messages m "
                "on j.args->>'message_id' = m.id::text "
                "where j.task_name = 'conversations.inbound_recorded' and m.provider_sid = any(%s)",
                (sids,),
            ).fetchone()  # type: ignore[misc]
    report("webhook_ingest_ceiling", ceiling_result)
    report("webhook_ingest_product", product_result)
    print(
        f"BENCH webhook_ingest_ratio {product_result.throughput / ceiling_result.throughput:.2f} ratio"
    )
    print(f"BENCH webhook_ingest_stored_exactly_once {int(stored == distinct == TOTAL)} bool")
    print(f"BENCH webhook_ingest_follow_up_queued_once {int(follow_ups == TOTAL)} bool")
    if stored != TOTAL or distinct != TOTAL or follow_ups != TOTAL:
        raise SystemExit(
            f"stored {stored} rows for {TOTAL} accepted webhooks ({distinct} distinct, "
            f"{follow_ups} follow-up jobs)"
        )


if __name__ == "__main__":
    main()
