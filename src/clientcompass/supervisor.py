"""The process supervisor behind `clientcompass serve`: web and worker run as children, a
child that dies is restarted with a capped exponential backoff, and SIGINT/SIGTERM stop them
all, each drained once with SIGTERM.

A crash-looping child backs off (1 s, 2 s, 4 s … up to 30 s) instead of spinning, and a child
that stayed up a minute starts again from the shortest delay. A child that exits with the
CLI's configuration-error code (2) would fail the same way on every restart, so the
supervisor stops everything and says so. In production, a real supervisor (deploy/systemd/,
Compose's restart policy) runs `clientcompass web` and `clientcompass worker` instead.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType

import structlog

log = structlog.get_logger("clientcompass.supervisor")

POLL_SECONDS = 0.2
# The CLI's exit code for a configuration or usage error (cli.main): restarting cannot help.
GIVE_UP_EXIT_CODE = 2
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Backoff:
    """How long to wait before restarting a child that died, by its crashes in a row."""

    first_seconds: float = 1.0
    max_seconds: float = 30.0
    # A child up at least this long before it died counts as healthy: its backoff starts over.
    reset_after_seconds: float = 60.0

    def delay(self, failures: int) -> float:
        return float(min(self.max_seconds, self.first_seconds * 2 ** max(0, failures - 1)))


@dataclass
class Child:
    """One supervised command and its current process."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restarts: int = 0
    restart_at: float | None = None


# Loaded here, in the parent: between fork and exec the child should only make the call.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM (a graceful stop) if the supervisor dies, even
    by SIGKILL, so no orphaned web keeps the port from the next `serve`."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _describe(code: int) -> str | None:
    """The signal's name for a child killed by one (Popen reports it as a negative code)."""
    if code >= 0:
        return None
    try:
        return signal.Signals(-code).name
    except ValueError:
        return None


class Supervisor:
    def __init__(
        self,
        children: Sequence[Child],
        env: dict[str, str],
        *,
        backoff: Backoff,
        stop_timeout: float,
    ) -> None:
        self.children = list(children)
        self.env = env
        self.backoff = backoff
        self.stop_timeout = stop_timeout
        self.stop_signal: int | None = None
        self.gave_up: int | None = None

    def run(self) -> int:
        """Supervise until a signal (then 0) or a child that cannot start (then its code)."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            for child in self.children:
                self._start(child)
            while self.stop_signal is None and self.gave_up is None:
                now = time.monotonic()
                for child in self.children:
                    self._tend(child, now)
                time.sleep(POLL_SECONDS)
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.gave_up if self.gave_up is not None else 0

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Only a flag: logging from a signal handler could deadlock on the logging lock.
        self.stop_signal = signum

    def _start(self, child: Child) -> None:
        # Its own process group: a terminal's Ctrl-C reaches only the supervisor, which stops
        # each child once. (A procrastinate worker takes a second signal as "die now".)
        child.process = subprocess.Popen(  # noqa: S603
            child.argv, env=self.env, process_group=0, preexec_fn=_die_with_parent
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        log.info("child started", child=child.name, pid=child.process.pid, restarts=child.restarts)

    def _tend(self, child: Child, now: float) -> None:
        """Notice a child that died and schedule its restart; restart it when its time comes."""
        if child.process is None:
            if child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._start(child)
            return
        code = child.process.poll()
        if code is None:
            return
        pid, uptime = child.process.pid, now - child.started_at
        child.process = None
        if code == GIVE_UP_EXIT_CODE:
            log.error(
                "child cannot start; stopping everything",
                child=child.name,
                pid=pid,
                exit_code=code,
            )
            self.gave_up = code
            return
        child.failures = 1 if uptime >= self.backoff.reset_after_seconds else child.failures + 1
        delay = self.backoff.delay(child.failures)
        child.restart_at = now + delay
        log.warning(
            "child exited; restarting",
            child=child.name,
            pid=pid,
            exit_code=code,
            signal=_describe(code),
            uptime_seconds=round(uptime, 1),
            delay_seconds=delay,
            restarts=child.restarts + 1,
        )

    def _stop_all(self) -> None:
        """SIGTERM every live child, wait for them to drain, SIGKILL what is left."""
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        if self.stop_signal is not None:
            log.info(
                "stopping children",
                signal=signal.Signals(self.stop_signal).name,
                children=[c.name for c in running],
            )
        for child in running:
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("child did not stop in time; killing it", child=child.name)
                child.process.kill()
                child.process.wait()


def supervise(
    commands: Sequence[tuple[str, list[str]]],
    env: dict[str, str],
    *,
    backoff: Backoff | None = None,
    stop_timeout: float = 30.0,
) -> int:
    """Run each (name, argv) as a supervised child until SIGINT/SIGTERM."""
    children = [Child(name, argv) for name, argv in commands]
    return Supervisor(children, env, backoff=backoff or Backoff(), stop_timeout=stop_timeout).run()
