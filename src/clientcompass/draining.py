"""A web process's graceful shutdown: one flag that readiness and live streams watch.

On SIGTERM a replica must leave the proxy's rotation before it stops listening, let the
requests it is serving finish, and end its Server-Sent Events streams (which never end by
themselves, so uvicorn would otherwise wait for them until its timeout and then cut them).
`DrainingServer` sets the flag first: `/readyz` answers 503 "draining" and every SSE stream
ends cleanly with a `retry:` hint, so the browser reconnects (through the proxy, to another
replica) and resumes from its Last-Event-ID. It keeps accepting for SHUTDOWN_NOTICE_SECONDS,
long enough for a health check to notice, then does uvicorn's own shutdown, bounded by
SHUTDOWN_GRACE_SECONDS.
"""

from __future__ import annotations

import asyncio
import math
import socket
import time

import structlog
import uvicorn
from starlette.types import ASGIApp

log = structlog.get_logger("clientcompass.draining")
# While it waits out the notice, the server looks this often for a second Ctrl-C.
NOTICE_POLL_SECONDS = 0.05


class Draining:
    """Set once, when the process starts its graceful shutdown; never cleared."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.since: float | None = None

    @property
    def active(self) -> bool:
        return self._event.is_set()

    def begin(self) -> None:
        """Start draining (call on the event loop's thread)."""
        if not self._event.is_set():
            self.since = time.monotonic()
            self._event.set()

    async def wait(self) -> None:
        await self._event.wait()


# What an app that was not built by `create_app` (a mounted sub-app, a bare test app) has:
# a flag nobody sets, so it never drains.
_NEVER = Draining()


def draining_of(app: ASGIApp) -> Draining:
    """The drain flag `create_app` keeps on the app's state."""
    state = getattr(app, "state", None)
    found = getattr(state, "draining", None)
    return found if isinstance(found, Draining) else _NEVER


class DrainingServer(uvicorn.Server):
    """uvicorn, with a notice period between SIGTERM and closing the listening socket."""

    def __init__(self, config: uvicorn.Config, draining: Draining, notice_seconds: float) -> None:
        super().__init__(config)
        self.draining = draining
        self.notice_seconds = notice_seconds

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.draining.begin()
        log.info(
            "draining",
            notice_seconds=self.notice_seconds,
            grace_seconds=self.config.timeout_graceful_shutdown,
        )
        # Still listening: requests keep being served while the proxy notices. A second
        # Ctrl-C (uvicorn's force_exit, a plain flag) cuts the notice short.
        for _ in range(math.ceil(self.notice_seconds / NOTICE_POLL_SECONDS)):
            if self.force_exit:
                break
            await asyncio.sleep(NOTICE_POLL_SECONDS)
        await super().shutdown(sockets)
