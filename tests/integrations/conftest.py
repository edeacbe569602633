"""A real local webhook receiver (an HTTP server on loopback that records every connection
and request and answers the statuses a test asks for), and the worker with the webhook
delivery job in it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from clientcompass import jobs
from clientcompass.config import Settings
from clientcompass.integrations import service, tasks
from tests.support.aio import run_async
from tests.support.worker import worker_options


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str = ""
    connections: int = 0
    requests: list[Received] = field(default_factory=list)
    # Statuses to answer, in order; 200 once they are used up.
    answers: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.connections = 0
            self.requests.clear()
            self.answers.clear()

    def at(self, path: str) -> list[Received]:
        """What arrived at one path (each test uses its own, so leftovers never mix in)."""
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def answer_with(self, *statuses: int) -> None:
        with self.lock:
            self.answers.extend(statuses)


def _server(receiver: Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                status = receiver.answers.pop(0) if receiver.answers else 200
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Counting(ThreadingHTTPServer):
        daemon_threads = True

        def verify_request(self, request: Any, client_address: Any) -> bool:
            with receiver.lock:
                receiver.connections += 1
            return True

    return Counting(("127.0.0.1", 0), Handler)


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[Receiver]:
    receiver = Receiver()
    server = _server(receiver)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver(receiver_server: Receiver) -> Receiver:
    receiver_server.reset()
    return receiver_server


async def _run_jobs(settings: Settings) -> None:
    job_app, lazy = jobs.build_job_app(settings)
    if service.DELIVER_TASK not in job_app.tasks:  # until jobs.py wires it
        tasks.register(job_app, lazy)
    async with job_app.open_async():
        try:
            for _ in range(10):
                await job_app.run_worker_async(**worker_options(settings, wait=False))
                if not await jobs.any_due(job_app):
                    break
        finally:
            await lazy.close()


def run_jobs(settings: Settings) -> None:
    """Run every due job (the webhook deliveries among them), as `worker --once` does."""
    run_async(lambda: _run_jobs(settings))
