"""File storage behind a small interface: the data folder today, S3-compatible later."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Protocol

SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]{0,250}$")


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def path(self, key: str) -> Path: ...
    def exists(self, key: str) -> bool: ...


class LocalStorage:
    """Files under one root folder; keys are relative paths and may not climb out of it."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, key: str) -> Path:
        if not SAFE_KEY.match(key) or ".." in key:
            raise ValueError(f"unsafe storage key: {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(data)
        os.replace(partial, target)  # readers never see half a file

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()
