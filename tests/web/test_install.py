"""`make run` installs what running needs, and the README says so: the benchmarks' WeasyPrint
comes only with `make bench`; the install step precompresses the static files."""

from __future__ import annotations

import shutil
import subprocess
import tomllib

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def recipe(*targets: str) -> str:
    """The commands make would run for `targets` from scratch (`-B`), without running them."""
    return subprocess.run(
        ["make", "-n", "-B", *targets],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_make_run_installs_no_benchmark_extra_and_make_bench_does() -> None:
    installs = recipe("install")
    assert "pip install --quiet -e '.[dev]'" in installs
    assert "bench" not in installs
    assert "python -m clientcompass.web.assets" in installs  # the precompression step
    assert "pip install --quiet -e '.[dev,bench]'" in recipe("bench")

    extras = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("weasyprint") for dep in extras["optional-dependencies"]["bench"])
    installed = extras["dependencies"] + extras["optional-dependencies"]["dev"]
    assert not any(dep.lower().startswith("weasyprint") for dep in installed)


def test_the_readme_quick_start_says_what_make_run_installs() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("## Configuration", 1)[0]
    assert "```sh\nmake run\n```" in quick_start and "```sh\nmake test\n```" in quick_start
    assert "with its dev extras), and" not in quick_start
    assert "`bench` extra" in quick_start and "only `make bench`" in quick_start
