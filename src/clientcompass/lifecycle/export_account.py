"""A person's own account data (Settings → My account → Download my data), for every role:
their profile, signed-in devices, API tokens, push devices, notification preferences,
their audit events, the notes they wrote and the messages they sent.

Streamed as one JSON document, rows a batch at a time through the same read-only snapshot
the business export uses (export.Snapshot), so a person with years of sent messages costs a
batch of memory, not all of them. No secret leaves: no password or token hash, no push keys.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from clientcompass.auth.principal import Principal
from clientcompass.auth.sessions import Device
from clientcompass.db import Database
from clientcompass.lifecycle.export_build import Snapshot, open_snapshot, plain

SECTIONS: tuple[tuple[str, str], ...] = (
    ("profile", "SELECT * FROM users WHERE tenant_id = %(t)s AND id = %(u)s"),
    (
        "api_tokens",
        "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens "
        "WHERE tenant_id = %(t)s AND user_id = %(u)s ORDER BY created_at",
    ),
    (
        "push_devices",
        "SELECT id, device_label, user_agent, created_at, last_used_at FROM push_subscriptions "
        "WHERE tenant_id = %(t)s AND user_id = %(u)s ORDER BY created_at",
    ),
    (
        "notification_preferences",
        "SELECT * FROM notification_preferences WHERE tenant_id = %(t)s AND user_id = %(u)s",
    ),
    (
        "audit_events",
        "SELECT * FROM audit_events WHERE tenant_id = %(t)s "
        "AND (actor_id = %(u)s OR target_id = %(u)s) ORDER BY at, id",
    ),
    (
        "notes_written",
        "SELECT * FROM conversation_events WHERE tenant_id = %(t)s AND author_id = %(u)s "
        "ORDER BY created_at, id",
    ),
    (
        "messages_sent",
        "SELECT id, conversation_id, body, media, content_sid, status, created_at "
        "FROM messages WHERE tenant_id = %(t)s AND author_id = %(u)s ORDER BY created_at, id",
    ),
)
BATCH_BYTES = 64 * 1024


def _device(device: Device) -> dict[str, object]:
    def at(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, UTC).isoformat()

    return {
        "device": device.user_agent,
        "ip": device.ip,
        "signed_in_at": at(device.created_at),
        "last_used_at": at(device.last_seen),
        "this_device": device.current,
    }


async def stream(db: Database, person: Principal, devices: list[Device]) -> AsyncIterator[bytes]:
    """The JSON document, a piece at a time."""
    head = {
        "exported_at": datetime.now(UTC).isoformat(),
        "business_id": str(person.tenant_id),
        "user_id": str(person.user_id),
        "signed_in_devices": [_device(d) for d in devices],
    }
    yield json.dumps(head, ensure_ascii=False, indent=1)[:-2].encode()
    async with open_snapshot(db, person.tenant_id) as connection:
        snapshot = Snapshot(connection, {"t": person.tenant_id, "u": person.user_id})
        for name, sql in SECTIONS:
            out = bytearray(f',\n "{name}": ['.encode())
            first = True
            async for columns, row in snapshot.rows(sql):
                if not row:
                    continue
                record = {column: plain(row[column]) for column in columns}
                out += b"\n  " if first else b",\n  "
                out += json.dumps(record, ensure_ascii=False).encode()
                first = False
                if len(out) >= BATCH_BYTES:
                    yield bytes(out)
                    out.clear()
            out += b"]"
            yield bytes(out)
    yield b"\n}\n"
