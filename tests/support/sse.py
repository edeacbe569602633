"""An SSE client for tests: reads a live event stream on a thread, as a browser tab would."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
from typing import Any

import httpx


class SseClient:
    """Reads an SSE response on a thread; events arrive in a queue as (id, data)."""

    def __init__(
        self, base_url: str, cookies: httpx.Cookies, path: str = "/inbox/events", **headers: str
    ) -> None:
        self.http = httpx.Client(
            base_url=base_url, cookies=cookies, timeout=httpx.Timeout(30, read=60)
        )
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.connected = threading.Event()
        self.status = 0
        self.path, self.headers = path, headers
        self.response: httpx.Response | None = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.connected.wait(10), "the stream did not open"

    def _read(self) -> None:
        try:
            with self.http.stream("GET", self.path, headers=self.headers) as response:
                self.response = response
                self.status = response.status_code
                event_id, data = "", ""
                for line in response.iter_lines():
                    if line.startswith(": connected"):
                        self.connected.set()
                    elif line.startswith("id: "):
                        event_id = line[4:]
                    elif line.startswith("data: "):
                        data = line[6:]
                    elif line == "" and data:
                        self.events.put((event_id, json.loads(data)))
                        event_id, data = "", ""
        except (httpx.HTTPError, RuntimeError):
            pass
        finally:
            self.connected.set()

    def next(self, timeout: float = 10) -> tuple[str, dict[str, Any]]:
        return self.events.get(timeout=timeout)

    def until(self, predicate: Any, timeout: float = 10) -> list[tuple[str, dict[str, Any]]]:
        """Events up to and including the first that matches."""
        seen = []
        while True:
            event = self.next(timeout)
            seen.append(event)
            if predicate(event[1]):
                return seen

    def close(self) -> None:
        """Cut the connection as a dropped network would (unblocking the reading thread)."""
        if self.response is not None:
            stream = self.response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(5)
        self.http.close()

    def drain(self) -> list[dict[str, Any]]:
        """Every event received so far, without waiting."""
        seen = []
        while not self.events.empty():
            seen.append(self.events.get_nowait()[1])
        return seen
