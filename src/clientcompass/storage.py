"""Where file bytes live: PostgreSQL, never the local disk (see files.py and migration 0015).

`Storage` is what a route or a job hands to the services that store or serve files: the
unit of work writes, and this object's reader streams a download a chunk at a time. A job
that only writes (a media fetch) needs no reader.
"""

from __future__ import annotations

from clientcompass.db import FastPath
from clientcompass.files import ChunkReader, PoolReader


class Storage:
    def __init__(self, fast: FastPath | None = None) -> None:
        self.reader: ChunkReader | None = PoolReader(fast) if fast is not None else None
