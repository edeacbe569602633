"""Run one benchmark by name, or all of them."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
SKIP = {"harness", "loadgen", "ceiling"}  # helpers of the benchmarks, not benchmarks


def names() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(HERE)])
        if m.name not in SKIP and not m.name.startswith("_")
    )


def main(argv: list[str]) -> int:
    wanted = argv or names()
    unknown = [name for name in wanted if name not in names()]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(names())}",
            file=sys.stderr,
        )
        return 2
    for name in wanted:
        print(f"== bench/{name}", flush=True)
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main([arg for arg in sys.argv[1:] if arg]))
