"""What a data export holds (lifecycle/export_build.py writes it): one `Dataset` per kind of
record, each with its query for a whole-business export and, where it concerns a customer,
for one customer's export (a data-subject access request: their contact row, conversations,
messages and media, notes, consent events, leads, documents with lines and payments, and flow
runs); and the stored files each carries (the issued PDFs and the media still held, never
another export's ZIP).

Secrets never leave: password and token hashes, sealed banking details, channel tokens,
webhook secrets and push keys are dropped column by column (`EXCLUDED`), and settings whose
key names a secret are skipped. The queries are constants (no input is formatted into
them); their parameters are the tenant `%(t)s` and the contact `%(c)s`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Columns never exported, whatever table they are in: secrets, hashes and search internals.
EXCLUDED = frozenset(
    {
        "tenant_id",
        "password_hash",
        "token_hash",
        "auth_token_sealed",
        "webhook_key",
        "secret_sealed",
        "previous_secret_sealed",
        "banking_details_sealed",
        "keys_encrypted",
        "logo",
        "search",
        "sort_name",
    }
)

SECRET_SETTING = "(secret|token|password|private|api_key)"  # noqa: S105 (a pattern)

# For a customer export: the contact's conversations, messages, leads, documents and runs.
_CONVERSATIONS = "SELECT id FROM conversations WHERE tenant_id = %(t)s AND contact_id = %(c)s"

_MESSAGES = (
    f"SELECT id FROM messages WHERE tenant_id = %(t)s AND conversation_id IN ({_CONVERSATIONS})"  # noqa: S608
)

_LEADS = "SELECT id FROM leads WHERE tenant_id = %(t)s AND contact_id = %(c)s"

_DOCUMENTS = "SELECT id FROM documents WHERE tenant_id = %(t)s AND contact_id = %(c)s"

_RUNS = "SELECT id FROM flow_runs WHERE tenant_id = %(t)s AND contact_id = %(c)s"


@dataclass(frozen=True)
class Dataset:
    """One kind of record: its file name in the ZIP and its query for each kind of export
    (None: not part of that kind)."""

    name: str
    business: str | None
    customer: str | None


def _all(table: str, order: str = "created_at, id", where: str = "") -> str:
    extra = f" AND {where}" if where else ""
    return f"SELECT * FROM {table} WHERE tenant_id = %(t)s{extra} ORDER BY {order}"  # noqa: S608


DATASETS: tuple[Dataset, ...] = (
    Dataset("business", "SELECT * FROM business_profiles WHERE tenant_id = %(t)s", None),
    Dataset(
        "settings",
        "SELECT key, value FROM tenant_settings WHERE tenant_id = %(t)s "  # noqa: S608
        f"AND key !~* '{SECRET_SETTING}' ORDER BY key",
        None,
    ),
    Dataset("team_members", _all("users"), None),
    Dataset("invitations", _all("invitations"), None),
    Dataset("channels", _all("channels"), None),
    Dataset("webhook_subscriptions", _all("webhook_subscriptions"), None),
    Dataset("contacts", _all("contacts"), _all("contacts", where="id = %(c)s")),
    Dataset(
        "marketing_consent_events",
        _all("marketing_consent_events"),
        _all("marketing_consent_events", where="contact_id = %(c)s"),
    ),
    Dataset(
        "conversations", _all("conversations"), _all("conversations", where="contact_id = %(c)s")
    ),
    Dataset(
        "conversation_labels",
        _all("conversation_labels", order="conversation_id, label"),
        _all(
            "conversation_labels",
            order="conversation_id, label",
            where=f"conversation_id IN ({_CONVERSATIONS})",
        ),
    ),
    Dataset(
        "messages",
        _all("messages"),
        _all("messages", where=f"conversation_id IN ({_CONVERSATIONS})"),
    ),
    Dataset(
        "message_media",
        _all("message_media"),
        _all("message_media", where=f"message_id IN ({_MESSAGES})"),
    ),
    Dataset(
        "notes_and_events",
        _all("conversation_events"),
        _all("conversation_events", where=f"conversation_id IN ({_CONVERSATIONS})"),
    ),
    Dataset("leads", _all("leads"), _all("leads", where="contact_id = %(c)s")),
    Dataset(
        "lead_stage_changes",
        _all("lead_stage_changes", order="at, id"),
        _all("lead_stage_changes", order="at, id", where=f"lead_id IN ({_LEADS})"),
    ),
    Dataset("documents", _all("documents"), _all("documents", where="contact_id = %(c)s")),
    Dataset(
        "document_lines",
        _all("document_lines", order="document_id, position"),
        _all(
            "document_lines", order="document_id, position", where=f"document_id IN ({_DOCUMENTS})"
        ),
    ),
    Dataset("payments", _all("payments"), _all("payments", where=f"document_id IN ({_DOCUMENTS})")),
    Dataset(
        "document_events",
        _all("document_events", order="at, id"),
        _all("document_events", order="at, id", where=f"document_id IN ({_DOCUMENTS})"),
    ),
    Dataset("templates", _all("message_templates"), None),
    Dataset("canned_responses", _all("canned_responses"), None),
    Dataset("flows", _all("flows"), None),
    Dataset("flow_versions", _all("flow_versions", order="flow_id, number"), None),
    Dataset(
        "flow_runs",
        _all("flow_runs", order="started_at, id"),
        _all("flow_runs", order="started_at, id", where="contact_id = %(c)s"),
    ),
    Dataset(
        "flow_run_steps",
        _all("flow_run_steps", order="run_id, seq"),
        _all("flow_run_steps", order="run_id, seq", where=f"run_id IN ({_RUNS})"),
    ),
    Dataset("audit_trail", _all("audit_events", order="at, id"), None),
)

# The stored files an export carries: issued PDFs and media, never another export's ZIP.
FILES = (
    "SELECT f.id, f.size, f.content_type, f.document_id, d.number, d.kind AS doc_kind, "
    "mm.message_id, mm.filename FROM files f "
    "LEFT JOIN documents d ON d.tenant_id = f.tenant_id AND d.id = f.document_id "
    "LEFT JOIN message_media mm ON mm.tenant_id = f.tenant_id AND mm.file_id = f.id "
    "WHERE f.tenant_id = %(t)s AND f.id > %(after)s "
    "AND NOT EXISTS (SELECT 1 FROM exports e WHERE e.tenant_id = f.tenant_id "
    "AND e.file_id = f.id) {customer} ORDER BY f.id LIMIT %(limit)s"
)

CUSTOMER_FILES = (
    f"AND (f.document_id IN ({_DOCUMENTS}) OR f.id IN (SELECT file_id FROM message_media "  # noqa: S608
    f"WHERE tenant_id = %(t)s AND file_id IS NOT NULL AND message_id IN ({_MESSAGES})))"
)

COUNT_FILES = (
    "SELECT count(*) FROM files f WHERE f.tenant_id = %(t)s AND NOT EXISTS "
    "(SELECT 1 FROM exports e WHERE e.tenant_id = f.tenant_id AND e.file_id = f.id) {customer}"
)

README = """Client Compass data export
==========================

{what}, made {made} (UTC).

data/<kind>.json  every record of that kind, as a JSON array of objects
data/<kind>.csv   the same records as CSV (lists and objects as JSON in their cell)
documents/        the issued quotes, invoices and credit notes, as their PDFs
media/            WhatsApp media still held (temporary media is deleted after its
                  retention period, so older media may no longer be here)

Secrets are left out: password and token hashes, banking details, channel tokens,
webhook secrets and push-subscription keys.
"""


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:80]


EXTENSIONS = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "video/mp4": "mp4",
    "text/plain": "txt",
}


def member_name(row: dict[str, Any]) -> str:
    """Where a stored file goes in the ZIP: documents/INV-0001.pdf, media/<message>/<name>."""
    if row["document_id"] is not None:
        number = _safe(row["number"] or "") or str(row["document_id"])
        return f"documents/{row['doc_kind'] or 'document'}-{number}-{row['id'].hex[:8]}.pdf"
    ext = EXTENSIONS.get(row["content_type"], "bin")
    given = _safe(row["filename"] or "")
    name = f"{row['id'].hex[:8]}-{given}" if given else f"{row['id']}.{ext}"
    folder = f"media/{row['message_id']}" if row["message_id"] else "media"
    return f"{folder}/{name}"
