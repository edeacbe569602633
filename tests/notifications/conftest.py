"""The push service stand-in, shared by the notification tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.push_service import PushService, running


@pytest.fixture(scope="session")
def push_service() -> Iterator[PushService]:
    yield from running()
