"""A small per-process cache whose entries expire, for lookups a hot path repeats."""

from __future__ import annotations

import time
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """At most `max_size` entries, each kept `ttl` seconds; when full it starts again empty
    (cheaper than tracking age, and a refill costs one lookup per key)."""

    def __init__(self, ttl: float = 30.0, max_size: int = 10_000) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        if len(self._entries) >= self.max_size:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, value)
