"""Bounded traffic against the topology, recording every outcome for the checks.

Everything here is a client: Twilio posting signed webhooks (and redelivering what failed,
as Twilio does), an API client sending messages and issuing invoices, browsers listening
to Server-Sent Events (reconnecting with Last-Event-ID, as EventSource does), and a prober
that measures how long requests through the proxy failed while a replica was down.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

RETRYABLE = (httpx.TransportError,)


@dataclass
class Attempt:
    at: float
    ok: bool
    status: int


@dataclass
class Ledger:
    """What the clients saw; the checks compare it with what the servers kept."""

    started: float = field(default_factory=time.monotonic)
    proxied: list[Attempt] = field(default_factory=list)
    webhooks_accepted: set[str] = field(default_factory=set)
    webhooks_refused: int = 0
    webhook_redeliveries: int = 0
    sends_accepted: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    sends_unknown: list[str] = field(default_factory=list)
    sends_refused: int = 0
    pdfs: list[tuple[str, str, bytes | None, bytes | None]] = field(default_factory=list)
    media: dict[str, bytes] = field(default_factory=dict)
    redis_down: tuple[float, float] | None = None
    replica_down: tuple[float, float] | None = None
    drain_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    documents_unavailable: int = 0
    # listener name -> (message id -> when it arrived, how many times it connected)
    sse: dict[str, tuple[dict[str, float], int]] = field(default_factory=dict)

    def now(self) -> float:
        return time.monotonic()


@dataclass
class Pace:
    """Start one request every `every` seconds until `until` is set (the faults are over),
    and never more than `limit`: bounded traffic that spans the faults however slow the
    machine is."""

    every: float
    limit: int
    until: asyncio.Event

    async def ticks(self) -> AsyncIterator[int]:
        for index in range(self.limit):
            if self.until.is_set():
                return
            yield index
            await asyncio.sleep(self.every)


def is_failure(status: int) -> bool:
    return status == 0 or status >= 500


class Clients:
    """One keep-alive client per target: the proxy and each replica, with an API token."""

    def __init__(self, proxy_url: str, replica_urls: list[str], token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        timeout = httpx.Timeout(20, connect=3)
        self.proxy = httpx.AsyncClient(base_url=proxy_url, headers=headers, timeout=timeout)
        self.replicas = [
            httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout)
            for url in replica_urls
        ]
        self.token = token

    async def aclose(self) -> None:
        await self.proxy.aclose()
        for client in self.replicas:
            await client.aclose()


async def proxied(
    ledger: Ledger, client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
) -> httpx.Response | None:
    """A request through the proxy, recorded (None when the connection itself failed)."""
    at = ledger.now()
    try:
        response = await client.request(method, url, **kwargs)
    except RETRYABLE:
        ledger.proxied.append(Attempt(at, False, 0))
        return None
    ledger.proxied.append(Attempt(at, not is_failure(response.status_code), response.status_code))
    return response


async def direct(
    client: httpx.AsyncClient, method: str, url: str, *, wait: float = 120, **kwargs: Any
) -> httpx.Response:
    """A request to one replica by its port, waiting for it while it is down (or restarting)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            response = await client.request(method, url, **kwargs)
            if response.status_code < 500 or time.monotonic() > deadline:
                return response
        except RETRYABLE:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.25)


def inbound_form(channel: dict[str, str], phone: str, sid: str, body: str) -> dict[str, str]:
    """The parameters of Twilio's inbound WhatsApp webhook (tests/support/whatsapp.py's)."""
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "AccountSid": channel["account_sid"],
        "From": f"whatsapp:{phone}",
        "To": channel["whatsapp_from"],
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "WaId": phone.lstrip("+"),
        "ProfileName": f"Customer {phone[-3:]}",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
        "MessageType": "text",
    }


async def webhooks(ledger: Ledger, clients: Clients, channel: dict[str, str], pace: Pace) -> None:
    """Signed inbound webhooks through the proxy, paced; a failed delivery is
    redelivered with the same MessageSid (Twilio's retry), so it must be stored once."""
    url = channel["inbound_webhook_url"]
    path = httpx.URL(url).raw_path.decode()
    validator = RequestValidator(channel["auth_token"])

    async def one(index: int) -> None:
        phone = f"+2784{1_000_000 + index % 25}"
        sid = f"SM{uuid.uuid4().hex}"
        form = inbound_form(channel, phone, sid, f"topology inbound {index}")
        headers = {"X-Twilio-Signature": validator.compute_signature(url, form)}
        for attempt in range(8):
            if attempt:
                ledger.webhook_redeliveries += 1
                await asyncio.sleep(0.5 * attempt)
            response = await proxied(
                ledger, clients.proxy, "POST", path, data=form, headers=headers
            )
            if response is not None and response.status_code == 200:
                ledger.webhooks_accepted.add(sid)
                return
        ledger.webhooks_refused += 1

    tasks = [asyncio.create_task(one(index)) async for index in pace.ticks()]
    await asyncio.gather(*tasks)


async def sends(
    ledger: Ledger,
    client: httpx.AsyncClient,
    via: str,
    conversations: list[str],
    pace: Pace,
    *,
    through_proxy: bool,
) -> None:
    """API sends, paced. A 202 is an accepted send; an error after the request left has an
    unknown outcome and is not retried (that would risk sending twice)."""

    async def one(index: int) -> None:
        body = f"topology send {via} {index} {uuid.uuid4().hex[:8]}"
        conversation = conversations[index % len(conversations)]
        url = f"/api/v1/conversations/{conversation}/messages"
        if through_proxy:
            response = await proxied(ledger, client, "POST", url, json={"text": body})
        else:
            try:
                response = await client.post(url, json={"text": body})
            except httpx.ConnectError:
                ledger.sends_refused += 1  # nothing reached the replica
                return
            except RETRYABLE:
                response = None
        if response is not None and response.status_code == 202:
            ledger.sends_accepted[body] = (response.json()["id"], via, ledger.now())
        elif response is None or is_failure(response.status_code):
            ledger.sends_unknown.append(body)
        else:
            raise RuntimeError(f"send refused: {response.status_code} {response.text[:300]}")

    tasks = [asyncio.create_task(one(index)) async for index in pace.ticks()]
    await asyncio.gather(*tasks)


INVOICE = {
    "new_contact": {"name": "Topology Customer", "phone": "+27825550199"},
    "billing_address": "5 Loop Street\nCape Town\n8001",
    "job_description": "Replace geyser element",
    "lines": [
        {"description": "Call-out fee", "quantity": "1", "unit_price": "450.00"},
        {"description": "Labour", "quantity": "2.5", "unit": "h", "unit_price": "520"},
    ],
}


async def documents(ledger: Ledger, clients: Clients, pace: Pace) -> None:
    """Invoices finalised on one replica and downloaded from both, by port (several at once,
    so a slow or restarting replica does not hold the others up)."""

    async def one(index: int) -> None:
        issuer = index % 2
        made = await direct(clients.replicas[issuer], "POST", "/api/v1/invoices", json=INVOICE)
        if made.status_code != 201:
            if is_failure(made.status_code):  # still refused after retrying: unavailable
                ledger.documents_unavailable += 1
            else:
                ledger.errors.append(f"invoice draft: {made.status_code} {made.text[:200]}")
            return
        document_id = made.json()["id"]
        done = await direct(
            clients.replicas[issuer], "POST", f"/api/v1/invoices/{document_id}/finalise"
        )
        if done.status_code != 200:
            if is_failure(done.status_code):
                ledger.documents_unavailable += 1
            else:
                ledger.errors.append(f"finalise: {done.status_code} {done.text[:200]}")
            return
        pdf_url = f"/api/v1/invoices/{document_id}/pdf"
        mine = await direct(clients.replicas[issuer], "GET", pdf_url)
        other = await direct(clients.replicas[1 - issuer], "GET", pdf_url)
        for response in (mine, other):
            if response.status_code != 200:
                ledger.errors.append(f"PDF download: {response.status_code} {response.text[:200]}")
        ledger.pdfs.append(
            (
                document_id,
                f"web-{'ab'[issuer]}",
                mine.content if mine.status_code == 200 else None,
                other.content if other.status_code == 200 else None,
            )
        )

    tasks = [asyncio.create_task(one(index)) async for index in pace.ticks()]
    await asyncio.gather(*tasks)


def media_bytes(index: int) -> bytes:
    """A small PNG-signed file with random content, different every time."""
    return b"\x89PNG\r\n\x1a\n" + os.urandom(2048) + index.to_bytes(4, "big")


async def media_messages(
    ledger: Ledger, standin: httpx.AsyncClient, channel: dict[str, str], pace: Pace
) -> None:
    """Customers send photos: the stand-in stores each file and posts Twilio's signed webhook
    through the proxy; a worker then fetches the file from the stand-in."""
    async for index in pace.ticks():
        data = media_bytes(index)
        payload = {
            "to": channel["whatsapp_from"],
            "from": f"whatsapp:+2785{2_000_000 + index}",
            "profile_name": "Photo sender",
            "body": f"topology photo {index}",
            "media": [
                {
                    "content_type": "image/png",
                    "data_base64": base64.b64encode(data).decode(),
                    "filename": f"photo-{index}.png",
                }
            ],
        }
        sid = f"MM{uuid.uuid4().hex}"  # ours, so a redelivery carries the same one
        payload["message_sid"] = sid
        for attempt in range(8):
            if attempt:
                await asyncio.sleep(0.5 * attempt)
            try:
                result = (await standin.post("/_control/inbound", json=payload)).json()
            except RETRYABLE:
                continue
            if result.get("status_code") == 200:
                ledger.media[sid] = data
                break


class SseListener:
    """A browser tab's EventSource: reads /api/v1/events, reconnects with Last-Event-ID."""

    def __init__(self, name: str, base_url: str, token: str) -> None:
        self.name = name
        self.client = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(10, read=30),
        )
        self.seen: dict[str, float] = {}
        self.last_id = ""
        self.connects = 0
        self.connected = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        retry = 1.5
        while True:
            headers = {"Last-Event-ID": self.last_id} if self.last_id else {}
            try:
                async with self.client.stream("GET", "/api/v1/events", headers=headers) as resp:
                    if resp.status_code == 200:
                        self.connects += 1
                        data = ""
                        async for line in resp.aiter_lines():
                            if line.startswith(": connected"):
                                self.connected.set()
                            elif line.startswith("retry: "):
                                retry = int(line[7:]) / 1000
                            elif line.startswith("id: "):
                                self.last_id = line[4:]
                            elif line.startswith("data: "):
                                data = line[6:]
                            elif line == "" and data:
                                self._event(json.loads(data))
                                data = ""
            except (httpx.HTTPError, json.JSONDecodeError):
                pass
            await asyncio.sleep(retry)

    def _event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "message.created" and "message_id" in event:
            self.seen.setdefault(event["message_id"], time.monotonic())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.client.aclose()


async def probe(ledger: Ledger, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
    """A steady read through the proxy every 200 ms: when did requests fail, and for how long."""
    while not stop.is_set():
        await proxied(ledger, client, "GET", "/api/v1/conversations?limit=1")
        await asyncio.sleep(0.2)
