"""The real `clientcompass web`, `worker` and `serve` commands as child processes, to kill -9
or to stop with a signal, and their JSON log lines, read as they come."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

import httpx

from clientcompass.config import Settings
from tests.conftest import free_port, settings_env
from tests.support.waiting import wait_for


class WebProcess:
    """`clientcompass web` on its own port, whose public URL is its own (Twilio signs that)."""

    def __init__(self, settings: Settings, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings.model_copy(update={"port": self.port, "public_base_url": self.url})
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WebProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clientcompass", "web"],
            env=settings_env(self.settings) | self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        process = self.process

        def healthy() -> bool:
            assert process.poll() is None, "clientcompass web exited at start"
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 60, "clientcompass web to start")
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine or container dies."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def start_worker(settings: Settings, **env: str) -> subprocess.Popen[bytes]:
    """`clientcompass worker` (the scheduler too), with extra settings as environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "clientcompass", "worker"],
        env=settings_env(settings) | env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class LogLines:
    """A child's stderr read on a thread; each JSON log line kept as a dict (others skipped).

    Reading as it comes also keeps a chatty child from blocking on a full pipe."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines: list[dict[str, Any]] = []
        # The rest (tracebacks, plain messages), kept to explain a failure.
        self.other: list[str] = []
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            try:
                line = json.loads(raw)
            except ValueError:
                line = None
            with self._lock:
                if isinstance(line, dict):
                    self.lines.append(line)
                else:
                    self.other.append(raw.decode(errors="replace").rstrip())

    def matching(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self._lock:
            return [line for line in self.lines if predicate(line)]

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, message: str
    ) -> dict[str, Any]:
        """The first line that matches, waiting for it to be logged."""
        return wait_for(lambda: next(iter(self.matching(predicate)), None), timeout, message)


def start_logged(
    command: list[str], settings: Settings, **env: str
) -> tuple[subprocess.Popen[bytes], LogLines]:
    """`clientcompass <command>` with these settings, its JSON log lines collected."""
    process = subprocess.Popen(
        [sys.executable, "-m", "clientcompass", *command],
        env=settings_env(settings) | env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    return process, LogLines(process.stderr)
