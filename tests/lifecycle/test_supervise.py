"""`clientcompass serve` supervises its children: a web or worker killed with SIGKILL comes
back (a new pid that serves and works), each restart is logged with the child, its exit code
and the delay, a crash loop backs off up to a cap, and SIGTERM still stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from clientcompass.config import Settings
from tests.conftest import MailSink, free_port
from tests.lifecycle.jobs import defer_email
from tests.support.accounts import unique_email
from tests.support.processes import LogLines, start_logged
from tests.support.waiting import wait_for

RESTARTING = "child exited; restarting"
STARTED = "child started"


def is_event(event: str, **fields: Any) -> Any:
    return lambda line: (
        line.get("event") == event and all(line.get(key) == value for key, value in fields.items())
    )


def answers_healthz(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def errors(logs: LogLines) -> list[dict[str, Any]]:
    """What the children logged at error level or outside the JSON log: why one died."""
    logged = logs.matching(lambda line: line.get("level") in ("error", "critical"))
    return [*logged, *({"stderr": line} for line in logs.other[-40:])]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_restarts_a_killed_web_and_worker_and_logs_each_restart(
    settings: Settings, mail_sink: MailSink
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve, logs = start_logged(
        ["serve"],
        settings,
        PORT=str(port),
        PUBLIC_BASE_URL=url,
        SANDBOX="false",
        LOG_LEVEL="INFO",
    )
    try:
        web = logs.wait_for(is_event(STARTED, child="web", restarts=0), 120, "web to start")
        worker = logs.wait_for(is_event(STARTED, child="worker", restarts=0), 30, "the worker")
        wait_for(lambda: answers_healthz(url), 90, "the web child to answer")

        os.kill(web["pid"], signal.SIGKILL)
        restart = logs.wait_for(is_event(RESTARTING, child="web"), 30, "the web restart")
        assert restart["pid"] == web["pid"]
        assert restart["exit_code"] == -signal.SIGKILL and restart["signal"] == "SIGKILL"
        assert restart["delay_seconds"] == 1.0 and restart["level"] == "warning"
        new_web = logs.wait_for(is_event(STARTED, child="web", restarts=1), 30, "a new web")
        assert new_web["pid"] != web["pid"]
        wait_for(lambda: answers_healthz(url), 90, "the new web child to answer")
        assert serve.poll() is None, "serve stopped with its web child"

        unexpected = logs.matching(is_event(RESTARTING, child="worker"))
        assert unexpected == [], f"the worker died by itself: {errors(logs)}"
        os.kill(worker["pid"], signal.SIGKILL)
        restart = logs.wait_for(is_event(RESTARTING, child="worker"), 30, "the worker restart")
        assert restart["exit_code"] == -signal.SIGKILL and restart["delay_seconds"] == 1.0
        new_worker = logs.wait_for(is_event(STARTED, child="worker", restarts=1), 30, "a worker")
        assert new_worker["pid"] != worker["pid"] and not alive(worker["pid"])
        address = unique_email("supervised")
        defer_email(settings, address)
        assert address in mail_sink.wait_for(address, timeout=90), "the new worker works"

        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 0
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    logs.thread.join(5)
    assert logs.matching(is_event("stopping children", signal="SIGTERM"))
    assert not logs.matching(is_event("child did not stop in time; killing it"))
    assert not alive(new_web["pid"]) and not alive(new_worker["pid"])
    restarts = [(line["child"], line["exit_code"]) for line in logs.matching(is_event(RESTARTING))]
    assert restarts == [("web", -signal.SIGKILL), ("worker", -signal.SIGKILL)], errors(logs)


# A child that fails at once, except its 4th run, which stays up a while and exits 0.
FLAKY_CHILD = """
import pathlib, sys, time
counter = pathlib.Path(sys.argv[1])
run = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(run))
if run == 4:
    time.sleep(1.5)
    sys.exit(0)
sys.exit(1)
"""
SUPERVISOR = """
import sys
from clientcompass.logs import configure_logging
from clientcompass.supervisor import Backoff, supervise
configure_logging("INFO")
flaky = [sys.executable, "-c", sys.argv[1], sys.argv[2]]
backoff = Backoff(first_seconds=0.1, max_seconds=0.3, reset_after_seconds=1.0)
sys.exit(supervise([("flaky", flaky)], {}, backoff=backoff, stop_timeout=5))
"""


def supervisor_process(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], LogLines]:
    process = subprocess.Popen(
        [sys.executable, "-c", *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    return process, LogLines(process.stderr)


def test_a_crash_loop_backs_off_to_a_cap_and_starts_over_after_a_healthy_run(
    tmp_path: Path,
) -> None:
    process, logs = supervisor_process(tmp_path, SUPERVISOR, FLAKY_CHILD, str(tmp_path / "runs"))
    try:
        wait_for(lambda: len(logs.matching(is_event(RESTARTING))) >= 6, 30, "six restarts")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    restarts = logs.matching(is_event(RESTARTING, child="flaky"))[:6]
    assert [r["delay_seconds"] for r in restarts] == [0.1, 0.2, 0.3, 0.1, 0.2, 0.3]
    assert [r["exit_code"] for r in restarts] == [1, 1, 1, 0, 1, 1]
    assert [r["restarts"] for r in restarts] == [1, 2, 3, 4, 5, 6]


def test_a_child_with_a_configuration_error_stops_serve_instead_of_looping(
    tmp_path: Path,
) -> None:
    """Exit code 2 is the CLI's configuration error (`worker` without DATABASE_URL, see
    tests/core/test_cli.py): restarting would only fail again, so everything stops."""
    misconfigured = "import sys; print('clientcompass: REDIS_URL must be set'); sys.exit(2)"
    process, logs = supervisor_process(tmp_path, SUPERVISOR, misconfigured, "unused")
    assert process.wait(timeout=30) == 2
    logs.thread.join(5)
    gave_up = logs.matching(is_event("child cannot start; stopping everything"))
    assert [(line["child"], line["exit_code"]) for line in gave_up] == [("flaky", 2)]
    assert logs.matching(is_event(RESTARTING)) == []


def test_children_stop_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    """A SIGKILLed `serve` runs no code, yet its children get SIGTERM (PR_SET_PDEATHSIG): no
    orphaned web keeps the port from the next start."""
    process, logs = supervisor_process(tmp_path, SUPERVISOR, "import time; time.sleep(60)", "-")
    try:
        child = logs.wait_for(is_event(STARTED, child="flaky"), 30, "the child to start")
        assert alive(child["pid"])
    finally:
        process.kill()
        process.wait()
    wait_for(lambda: not alive(child["pid"]), 10, "the orphaned child to stop")
