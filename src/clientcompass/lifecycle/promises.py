"""The numbers the privacy policy and /deletion.html promise, read from the code that keeps
them, so the pages say what the software does (tests/lifecycle_promises holds them to it).

Exposed to templates as the `promises` global (app.py)."""

from __future__ import annotations

from typing import Any

from clientcompass.config import Settings
from clientcompass.files import LEGAL_HOLD_YEARS
from clientcompass.lifecycle import closure, meta, retention
from clientcompass.policy.policy import operator_details


def facts(settings: Settings) -> dict[str, Any]:
    def days(rule: str) -> int:
        return retention.rule_named(rule).keep_days(settings)

    return {
        **operator_details(settings),
        "session_idle_hours": settings.session_idle_seconds // 3600,
        "grace_days": closure.GRACE_DAYS,
        "document_years": closure.DOCUMENT_RETENTION_YEARS,
        "legal_hold_years": LEGAL_HOLD_YEARS,
        "conversation_years": settings.closed_conversations_retention_years,
        "jobs_days": days("finished_jobs"),
        "invitations_days": days("invitations"),
        "password_resets_days": days("password_resets"),
        "email_changes_days": days("email_changes"),
        "audit_days": days("audit_trail"),
        "webhook_log_days": days("webhook_deliveries"),
        "media_days": days("temporary_media"),
        "meta_callback": meta.PATH,
    }
