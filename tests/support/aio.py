"""Async code called from synchronous tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_async(make_coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a fresh loop in its own thread (the browser tests hold this thread's)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make_coroutine())).result()
