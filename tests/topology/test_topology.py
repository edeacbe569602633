"""The production topology on one machine (`make topology`): two web replicas and two
workers behind nginx, a replica and a worker killed mid-run, Redis restarted, and nothing
lost or done twice. Slow (a minute or two): it starts a dozen processes."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def test_the_topology_loses_nothing_through_kills_and_a_redis_restart() -> None:
    """The same command as `make topology`; it exits non-zero on any loss."""
    done = subprocess.run(
        [sys.executable, "-m", "topology"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summary = [line for line in done.stdout.splitlines() if line.startswith("TOPOLOGY")]
    print("\n".join(summary))  # the figures, in the test's captured output
    assert done.returncode == 0, "\n".join(summary) + "\n" + done.stderr[-4000:]
    assert summary and summary[0].startswith("TOPOLOGY PASS"), done.stdout[-4000:]
    for figure in (
        "webhooks accepted=",
        "sends accepted=",
        "identical across replicas",
        "served by both replicas",
        "sse on A, caused on B",
        "replica down",
    ):
        assert figure in summary[0], f"the summary has no {figure!r}"
