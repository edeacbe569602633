"""A file's size as the pages show it (web/limits.py `readable_size`, the `file_size` filter)."""

from __future__ import annotations

import pytest

from clientcompass.web.limits import readable_size


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (44, "44 bytes"),
        (1023, "1023 bytes"),
        (1024, "1 KB"),
        (1600, "2 KB"),
        (250 * 1024, "250 KB"),
        (1024 * 1024 - 1, "1 MB"),
        (1024 * 1024, "1 MB"),
        (int(2.25 * 1024 * 1024), "2.2 MB"),
        (16 * 1024 * 1024, "16 MB"),
    ],
)
def test_a_size_reads_in_the_unit_a_person_expects(size: int, shown: str) -> None:
    assert readable_size(size) == shown
