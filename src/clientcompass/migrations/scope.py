"""What Alembic compares: our tables, not the ones procrastinate's own schema owns."""

from __future__ import annotations

from typing import Any

EXTERNAL_TABLE_PREFIXES = ("procrastinate_",)


def include_name(name: str | None, type_: str, _parent: Any) -> bool:
    if type_ == "table" and name is not None:
        return not name.startswith(EXTERNAL_TABLE_PREFIXES)
    return True
