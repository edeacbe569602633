"""The real `clientcompass web` and `worker` commands as child processes, to kill -9."""

from __future__ import annotations

import subprocess
import sys

import httpx

from clientcompass.config import Settings
from tests.conftest import free_port, settings_env
from tests.support.waiting import wait_for


class WebProcess:
    """`clientcompass web` on its own port, whose public URL is its own (Twilio signs that)."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings.model_copy(update={"port": self.port, "public_base_url": self.url})
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WebProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clientcompass", "web"],
            env=settings_env(self.settings),
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

        wait_for(healthy, 30, "clientcompass web to start")
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
