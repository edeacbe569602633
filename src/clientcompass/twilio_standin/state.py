"""The stand-in's memory: accounts, senders, messages, media, templates and test knobs.

Everything lives in one object on ``app.state.standin`` so a test can reset it between
cases and so nothing leaks between two stand-ins in one process. The stand-in runs on a
single event loop; plain mutations between ``await`` points are atomic there, and
``lock`` guards the few sequences that must not interleave (fault counters with message
creation). Background work (delivery progress, callbacks, approval playback) runs as
tasks owned by this object so shutdown and ``reset()`` can cancel them.

With a ``state_file`` the accounts and senders (what Twilio's console would hold) are
kept in a JSON file, so the development sandbox stays wired across restarts; messages,
media and templates are not (they are the traffic of one run).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
import structlog

log = structlog.get_logger(__name__)

API_VERSION = "2010-04-01"
WINDOW = timedelta(hours=24)

FaultMode = Literal["timeout_after_accept", "http_500", "http_429", "none"]
ApprovalStatus = Literal[
    "unsubmitted", "received", "pending", "approved", "rejected", "paused", "disabled"
]


def now() -> datetime:
    return datetime.now(UTC)


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


@dataclass
class Account:
    sid: str
    auth_token: str
    friendly_name: str
    date_created: datetime = field(default_factory=now)


@dataclass
class Sender:
    """A WhatsApp sender as configured in Twilio's console: where its webhooks go."""

    address: str
    account_sid: str
    inbound_url: str
    status_url: str | None
    messaging_service_sid: str | None
    channel_install_sid: str = field(default_factory=lambda: new_sid("XE"))


@dataclass
class Media:
    sid: str
    account_sid: str
    message_sid: str
    content_type: str
    data: bytes | None
    cdn_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    filename: str | None = None
    source_url: str | None = None
    fetch_error: str | None = None
    not_found_remaining: int = 0
    date_created: datetime = field(default_factory=now)

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else 0


@dataclass
class Message:
    sid: str
    account_sid: str
    from_: str
    to: str
    body: str
    direction: Literal["inbound", "outbound-api"]
    status: str
    seq: int
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    content_sid: str | None = None
    content_variables: dict[str, str] = field(default_factory=dict)
    media_urls: list[str] = field(default_factory=list)
    media_sids: list[str] = field(default_factory=list)
    planned_error: int | None = None
    error_code: int | None = None
    error_message: str | None = None
    date_created: datetime = field(default_factory=now)
    date_updated: datetime = field(default_factory=now)
    date_sent: datetime | None = None
    status_history: list[tuple[str, datetime]] = field(default_factory=list)


@dataclass
class Approval:
    name: str
    category: str
    status: ApprovalStatus
    content_type: str
    rejection_reason: str = ""
    allow_category_change: bool = True


@dataclass
class Content:
    sid: str
    account_sid: str
    friendly_name: str
    language: str
    variables: dict[str, str]
    types: dict[str, Any]
    approval: Approval | None = None
    date_created: datetime = field(default_factory=now)
    date_updated: datetime = field(default_factory=now)


@dataclass
class Fault:
    mode: FaultMode = "none"
    remaining: int = 0
    delay_seconds: float = 30.0


class StandinState:
    """All state of one stand-in. ``reset()`` forgets everything and cancels its tasks."""

    accounts: dict[str, Account]
    senders: dict[str, Sender]
    messages: dict[str, Message]
    media: dict[str, Media]
    cdn: dict[str, str]
    contents: dict[str, Content]
    windows: dict[tuple[str, str], datetime]
    fault: Fault
    creates: int
    sends_by_to: Counter[str]
    media_not_found_first: int

    def __init__(
        self,
        *,
        auto_progress: bool = True,
        progress_delays: tuple[float, float, float] = (0.05, 0.1, 0.2),
        public_base_url: str = "",
        state_file: Path | None = None,
    ) -> None:
        self.auto_progress = auto_progress
        self.progress_delays = progress_delays
        self.public_base_url = public_base_url.rstrip("/")
        self.state_file = state_file
        self.lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self._http_loop: asyncio.AbstractEventLoop | None = None
        self._seq = 0
        self._forget()
        self._load()

    def reset(self) -> None:
        """Forget every account, message and template, and stop pending deliveries."""
        self._forget()
        self.persist()

    def _forget(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        self.accounts = {}
        self.senders = {}
        self.messages = {}
        self.media = {}
        self.cdn = {}
        self.contents = {}
        self.windows = {}
        self.fault = Fault()
        self.creates = 0
        self.sends_by_to = Counter()
        self.media_not_found_first = 0

    # -- persistence of the console's configuration ------------------------------------

    def persist(self) -> None:
        """Write the accounts and senders to ``state_file`` (atomically; 0600, it holds
        auth tokens). Called after every change to them; a no-op without a file."""
        if self.state_file is None:
            return
        data = {
            "accounts": [
                {
                    "sid": a.sid,
                    "auth_token": a.auth_token,
                    "friendly_name": a.friendly_name,
                    "date_created": a.date_created.isoformat(),
                }
                for a in self.accounts.values()
            ],
            "senders": [
                {
                    "address": s.address,
                    "account_sid": s.account_sid,
                    "inbound_url": s.inbound_url,
                    "status_url": s.status_url,
                    "messaging_service_sid": s.messaging_service_sid,
                    "channel_install_sid": s.channel_install_sid,
                }
                for s in self.senders.values()
            ],
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_name(self.state_file.name + ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
        os.replace(temporary, self.state_file)

    def _load(self) -> None:
        if self.state_file is None or not self.state_file.exists():
            return
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            accounts = [
                Account(
                    a["sid"],
                    a["auth_token"],
                    a["friendly_name"],
                    datetime.fromisoformat(a["date_created"]),
                )
                for a in data.get("accounts", [])
            ]
            senders = [
                Sender(
                    address=s["address"],
                    account_sid=s["account_sid"],
                    inbound_url=s["inbound_url"],
                    status_url=s.get("status_url"),
                    messaging_service_sid=s.get("messaging_service_sid"),
                    channel_install_sid=s["channel_install_sid"],
                )
                for s in data.get("senders", [])
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # A damaged file must not stop the app: start empty and say so.
            log.warning(
                "twilio_standin.state_unreadable", path=str(self.state_file), error=repr(exc)
            )
            return
        self.accounts = {a.sid: a for a in accounts}
        self.senders = {s.address: s for s in senders}

    def next_seq(self) -> int:
        """A creation counter: orders messages created within the same clock tick."""
        self._seq += 1
        return self._seq

    # -- the 24-hour customer service window -------------------------------------------

    def record_inbound(self, sender: str, customer: str, at: datetime | None = None) -> None:
        self.windows[(sender, customer)] = at or now()

    def window_open(self, sender: str, customer: str, at: datetime | None = None) -> bool:
        last = self.windows.get((sender, customer))
        return last is not None and (at or now()) - last < WINDOW

    # -- faults ---------------------------------------------------------------------

    def take_fault(self, *modes: FaultMode) -> Fault | None:
        """Consume one armed fault of one of ``modes``, if any is left."""
        if self.fault.mode in modes and self.fault.remaining > 0:
            self.fault.remaining -= 1
            return Fault(self.fault.mode, 1, self.fault.delay_seconds)
        return None

    # -- background work ------------------------------------------------------------

    def http(self) -> httpx.AsyncClient:
        """One shared client for callbacks, webhooks and media fetches.

        Created lazily inside the running loop, and again if the app is later served
        by another loop (a test client after a server, say): an httpx client's
        connections belong to the loop that opened them.
        """
        loop = asyncio.get_running_loop()
        if self._http is None or self._http_loop is not loop:
            self._http = httpx.AsyncClient(timeout=httpx.Timeout(10.0))
            self._http_loop = loop
        return self._http

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``coro`` in the background; it is cancelled on ``reset()`` and shutdown."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "twilio_standin.task_failed", task=task.get_name(), error=repr(task.exception())
            )

    async def aclose(self) -> None:
        """Cancel background work and close the HTTP client.

        Starlette does not run a mounted sub-application's lifespan, so an app that
        mounts the stand-in must call this from its own shutdown.
        """
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
