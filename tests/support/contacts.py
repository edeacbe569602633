"""Contacts in bulk: CSV files as a spreadsheet would export them."""

from __future__ import annotations

import random


def many_rows(count: int, *, bad_row: int | None = None) -> str:
    """A CSV of `count` contacts; `bad_row` (a spreadsheet row number) gets a broken phone."""
    prefix = random.randint(100, 999)
    lines = [
        f"Bulk {i},{'not-a-phone' if i + 2 == bad_row else f'+2782{prefix}{i:04d}'}"
        for i in range(count)
    ]
    return "name,phone\n" + "\n".join(lines) + "\n"
