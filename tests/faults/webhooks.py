"""Twilio delivering inbound WhatsApp messages without pause, signed as Twilio signs them, and
the count of what came of them: acknowledged, refused, stored, stored twice, lost."""

from __future__ import annotations

import collections
import threading
import time
import uuid
from dataclasses import dataclass

import httpx
import psycopg
from twilio.request_validator import RequestValidator

from tests.support.waiting import wait_for
from tests.support.whatsapp import sa_mobile

CUSTOMERS = 8


@dataclass(frozen=True)
class Delivery:
    sid: str
    status: int | None  # None: no HTTP answer at all
    sent_at: float  # time.monotonic()
    seconds: float


class WebhookStream:
    """`threads` connections, each posting one new message after another until stopped (about
    25 a second in all: what the worker keeps up with on two cores, so none waits long)."""

    def __init__(self, channel: dict[str, str], *, threads: int = 4, pause: float = 0.15) -> None:
        self.url = channel["inbound_webhook_url"]
        self.validator = RequestValidator(channel["auth_token"])
        self.account_sid = channel["account_sid"]
        self.to = channel["whatsapp_from"]
        self.customers = [sa_mobile() for _ in range(CUSTOMERS)]
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        self.pause = pause
        self.deliveries: list[Delivery] = []
        self.params: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def start(self) -> WebhookStream:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def message(self) -> dict[str, str]:
        sid = "SM" + uuid.uuid4().hex
        phone = self.customers[hash(sid) % CUSTOMERS]
        params = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.account_sid,
            "From": f"whatsapp:{phone}",
            "To": self.to,
            "Body": f"Fault test {sid}",
            "NumMedia": "0",
            "ProfileName": "Lindiwe",
            "WaId": phone.removeprefix("+"),
        }
        with self._lock:
            self.params[sid] = params
        return params

    def deliver(self, http: httpx.Client, params: dict[str, str]) -> Delivery:
        signature = self.validator.compute_signature(self.url, params)
        started = time.monotonic()
        try:
            response = http.post(self.url, data=params, headers={"X-Twilio-Signature": signature})
            status: int | None = response.status_code
        except httpx.HTTPError:
            status = None
        delivery = Delivery(params["MessageSid"], status, started, time.monotonic() - started)
        with self._lock:
            self.deliveries.append(delivery)
        return delivery

    def _run(self) -> None:
        with httpx.Client(timeout=15) as http:
            while not self._stop.is_set():
                self.deliver(http, self.message())
                time.sleep(self.pause)

    def acknowledged(self) -> set[str]:
        with self._lock:
            return {d.sid for d in self.deliveries if d.status == 200}

    def between(self, start: float, end: float) -> list[Delivery]:
        """The deliveries sent at `start` or later and answered by `end`."""
        with self._lock:
            return [
                d for d in self.deliveries if start <= d.sent_at and d.sent_at + d.seconds <= end
            ]

    def first_ack_after(self, moment: float) -> float | None:
        with self._lock:
            times = [d.sent_at + d.seconds for d in self.deliveries if d.status == 200]
        later = [t for t in times if t > moment]
        return min(later) if later else None

    def redeliver_unacknowledged(self, timeout: float = 30) -> int:
        """What Twilio does with a message it got no 200 for: deliver it again, until it is."""
        acknowledged = self.acknowledged()
        pending = [sid for sid in self.params if sid not in acknowledged]
        with httpx.Client(timeout=15) as http:
            for sid in pending:
                wait_for(
                    lambda sid=sid: self.deliver(http, self.params[sid]).status == 200,  # type: ignore[misc]
                    timeout,
                    f"{sid} to be acknowledged on redelivery",
                    every=0.2,
                )
        return len(pending)


@dataclass(frozen=True)
class Tally:
    sent: int
    acknowledged: int
    refused: int  # answered 503, for Twilio to deliver again
    unanswered: int  # no HTTP answer at all
    redelivered: int
    stored: int
    duplicates: int
    lost: int

    def line(self, name: str, **extra: object) -> str:
        figures = " ".join(f"{key}={value}" for key, value in {**self.__dict__, **extra}.items())
        return f"FAULT {name} {figures}"


def tally(
    stream: WebhookStream, conn: psycopg.Connection, tenant_id: uuid.UUID, redelivered: int
) -> Tally:
    """Count what the stream sent against what PostgreSQL holds, one row per MessageSid."""
    sids = list(stream.params)
    rows = conn.execute(
        "select provider_sid, count(*) from messages where tenant_id = %s "
        "and direction = 'inbound' and provider_sid = any(%s) group by provider_sid",
        (tenant_id, sids),
    ).fetchall()
    stored = collections.Counter({sid: int(count) for sid, count in rows})
    first = {}
    for delivery in stream.deliveries:
        first.setdefault(delivery.sid, delivery)
    acknowledged = {sid for sid, d in first.items() if d.status == 200}
    return Tally(
        sent=len(sids),
        acknowledged=len(acknowledged),
        refused=sum(1 for d in first.values() if d.status == 503),
        unanswered=sum(1 for d in first.values() if d.status is None),
        redelivered=redelivered,
        stored=len(stored),
        duplicates=sum(count - 1 for count in stored.values()),
        lost=len(acknowledged - set(stored)),
    )
