"""Retention: the rules that delete what the privacy policy says is kept only so long.

Each rule names what it removes, how long it is kept, a dry-run count and a delete that
works in batches (`BATCH` rows per statement, one short transaction each, until none is
left). Deletes are idempotent: a row gone is not found again, so a second run, or two
workers at once, delete nothing twice. `run` is what the daily job (lifecycle/tasks.py) and
`clientcompass retention` call.

Tenant tables are deleted behind the tenant wall: the businesses with due rows come from
one narrow read-only function, `cc_retention_due()` (migration 0024, the pattern of the
media purge's `cc_files_expired()`), and each business's rows are deleted in its own unit
of work as the app role. The job queue's tables hold no tenant data and are deleted
directly.

Issued tax invoices and credit notes (`documents` and their rows) are on legal hold until 5
years after issue. Only the rules reviewed for it touch them (`legal_hold` anonymises an
erased customer's after the hold; the closed-business rules delete after it), each tested
with a moved clock; tests/retention fails if another rule names a document table.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import TextClause, text

from clientcompass.config import Settings
from clientcompass.lifecycle import closure, legal_hold
from clientcompass.work import UnitsOfWork

log = structlog.get_logger(__name__)

BATCH = 1000
# A run stops after this many batches of one rule (a million rows); the next run goes on.
MAX_BATCHES = 1000
# The dry-run count of due media stops here (the media purge itself counts no further).
MEDIA_COUNT_LIMIT = 1_000_000

Count = Callable[[UnitsOfWork, datetime], Awaitable[int]]
Delete = Callable[[UnitsOfWork, datetime, int], Awaitable[int]]


@dataclass(frozen=True)
class Rule:
    """One retention rule. `keep_days` reads the settings (a rule may follow one)."""

    name: str
    removes: str
    tables: tuple[str, ...]
    keep_days: Callable[[Settings], int]
    count: Count
    delete: Delete | None  # None: another job deletes these (`handled_by`)
    handled_by: str = ""

    def cutoff(self, settings: Settings, now: datetime) -> datetime:
        return now - timedelta(days=self.keep_days(settings))


# -- the job queue ---------------------------------------------------------------------------

# A job's last event is when it finished (procrastinate 3 keeps no timestamp on the job).
JOBS_COUNT = text(
    "SELECT count(*) FROM procrastinate_jobs j "
    "WHERE j.status IN ('succeeded', 'failed', 'cancelled', 'aborted') "
    "AND NOT EXISTS (SELECT 1 FROM procrastinate_events e "
    "WHERE e.job_id = j.id AND e.at >= :before)"
)
JOBS_DELETE = text(
    "DELETE FROM procrastinate_jobs WHERE id IN (SELECT j.id FROM procrastinate_jobs j "
    "WHERE j.status IN ('succeeded', 'failed', 'cancelled', 'aborted') "
    "AND NOT EXISTS (SELECT 1 FROM procrastinate_events e "
    "WHERE e.job_id = j.id AND e.at >= :before) "
    "ORDER BY j.id LIMIT :batch FOR UPDATE OF j SKIP LOCKED)"
)


async def _count_jobs(units: UnitsOfWork, before: datetime) -> int:
    async with units(None) as uow:
        found = await uow.session.scalar(JOBS_COUNT, {"before": before})
    return int(found or 0)


async def _delete_jobs(units: UnitsOfWork, before: datetime, batch: int) -> int:
    """Finished jobs and, by the queue's own ON DELETE CASCADE, their events."""
    deleted = 0
    for _ in range(MAX_BATCHES):
        async with units(None) as uow:
            result = await uow.session.execute(JOBS_DELETE, {"before": before, "batch": batch})
        done = int(result.rowcount)  # type: ignore[attr-defined]
        deleted += done
        if done < batch:
            break
    return deleted


# -- tenant tables, one business at a time ---------------------------------------------------


@dataclass(frozen=True)
class TenantTable:
    """A tenant table's rule: `delete_batch` deletes one business's due rows, at most
    `:batch` of them, `:before` being the cutoff. Its condition is the one
    `cc_retention_due()` (migration 0024) counts under the rule's name."""

    rule: str
    delete_batch: TextClause

    async def due_by_tenant(
        self, units: UnitsOfWork, before: datetime
    ) -> list[tuple[uuid.UUID, int]]:
        async with units(None) as uow:
            rows = await uow.session.execute(
                text("SELECT tenant_id, due FROM cc_retention_due(:rule, :before)"),
                {"rule": self.rule, "before": before},
            )
            return [(tenant_id, int(due)) for tenant_id, due in rows]

    async def count(self, units: UnitsOfWork, before: datetime) -> int:
        return sum(due for _, due in await self.due_by_tenant(units, before))

    async def delete(self, units: UnitsOfWork, before: datetime, batch: int) -> int:
        deleted = 0
        for tenant_id, _ in await self.due_by_tenant(units, before):
            deleted += await self._delete_for(units, tenant_id, before, batch)
        return deleted

    async def _delete_for(
        self, units: UnitsOfWork, tenant_id: uuid.UUID, before: datetime, batch: int
    ) -> int:
        deleted = 0
        for _ in range(MAX_BATCHES):
            async with units(tenant_id) as uow:
                result = await uow.session.execute(
                    self.delete_batch, {"tenant": tenant_id, "before": before, "batch": batch}
                )
            done = int(result.rowcount)  # type: ignore[attr-defined]
            deleted += done
            if done < batch:
                break
        return deleted


INVITATIONS = TenantTable(
    "invitations",
    text(
        "DELETE FROM invitations WHERE tenant_id = :tenant AND id IN (SELECT id FROM "
        "invitations WHERE tenant_id = :tenant AND (expires_at < :before OR accepted_at < "
        ":before OR revoked_at < :before) LIMIT :batch FOR UPDATE SKIP LOCKED)"
    ),
)
PASSWORD_RESETS = TenantTable(
    "password_resets",
    text(
        "DELETE FROM password_resets WHERE tenant_id = :tenant AND id IN (SELECT id FROM "
        "password_resets WHERE tenant_id = :tenant AND (expires_at < :before OR used_at < "
        ":before) LIMIT :batch FOR UPDATE SKIP LOCKED)"
    ),
)
WEBHOOK_DELIVERIES = TenantTable(
    "webhook_deliveries",
    text(
        "DELETE FROM webhook_deliveries WHERE tenant_id = :tenant AND id IN (SELECT id FROM "
        "webhook_deliveries WHERE tenant_id = :tenant AND created_at < :before "
        "LIMIT :batch FOR UPDATE SKIP LOCKED)"
    ),
)

EMAIL_CHANGES = TenantTable(
    "email_changes",
    text(
        "DELETE FROM email_changes WHERE tenant_id = :tenant AND id IN (SELECT id FROM "
        "email_changes WHERE tenant_id = :tenant AND COALESCE(used_at, expires_at) < :before "
        "LIMIT :batch FOR UPDATE SKIP LOCKED)"
    ),
)
AUDIT_TRAIL = TenantTable(
    "audit_trail",
    text(
        "DELETE FROM audit_events WHERE tenant_id = :tenant AND id IN (SELECT id FROM "
        "audit_events WHERE tenant_id = :tenant AND at < :before "
        "LIMIT :batch FOR UPDATE SKIP LOCKED)"
    ),
)


# -- temporary media: counted here, deleted by the hourly media purge ------------------------


async def _count_media(units: UnitsOfWork, before: datetime) -> int:
    """Counted through the media purge's own `cc_files_expired()` (migration 0015)."""
    async with units(None) as uow:
        found = await uow.session.scalar(
            text("SELECT count(*) FROM cc_files_expired(:before, :limit)"),
            {"before": before, "limit": MEDIA_COUNT_LIMIT},
        )
    return int(found or 0)


# -- the registry ----------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        name="finished_jobs",
        removes=(
            "background jobs that succeeded, failed, were cancelled or aborted, with their "
            "event history (their arguments hold email addresses and links)"
        ),
        tables=("procrastinate_jobs", "procrastinate_events"),
        keep_days=lambda settings: 7,
        count=_count_jobs,
        delete=_delete_jobs,
    ),
    Rule(
        name="invitations",
        removes="team invitations that were accepted, revoked or expired",
        tables=("invitations",),
        keep_days=lambda settings: 30,
        count=INVITATIONS.count,
        delete=INVITATIONS.delete,
    ),
    Rule(
        name="password_resets",
        removes="password-reset links that were used or expired",
        tables=("password_resets",),
        keep_days=lambda settings: 30,
        count=PASSWORD_RESETS.count,
        delete=PASSWORD_RESETS.delete,
    ),
    Rule(
        name="webhook_deliveries",
        removes="the outgoing webhook delivery log (each delivery's payload and outcome)",
        tables=("webhook_deliveries",),
        keep_days=lambda settings: 90,
        count=WEBHOOK_DELIVERIES.count,
        delete=WEBHOOK_DELIVERIES.delete,
    ),
    Rule(
        name="temporary_media",
        removes="WhatsApp media (temporary files) past MEDIA_RETENTION_DAYS",
        tables=("files", "file_chunks"),
        keep_days=lambda settings: settings.media_retention_days,
        count=_count_media,
        delete=None,
        handled_by="whatsapp.purge_expired_media (hourly)",
    ),
    Rule(
        name="email_changes",
        removes="email-change links that were used or expired (they hold an unconfirmed address)",
        tables=("email_changes",),
        keep_days=lambda settings: 30,
        count=EMAIL_CHANGES.count,
        delete=EMAIL_CHANGES.delete,
    ),
    Rule(
        name="audit_trail",
        removes="the audit trail: sign-ins, access changes, exports and erasures",
        tables=("audit_events",),
        keep_days=lambda settings: 90,
        count=AUDIT_TRAIL.count,
        delete=AUDIT_TRAIL.delete,
    ),
    # The legal hold's end (lifecycle/legal_hold.py): never deletes a document row. It
    # anonymises an erased customer's tax invoices and credit notes in place once their
    # `legal_hold_until` (5 years from issue; each row's own date is the keeping period)
    # has come, then deletes their PDFs when the files table's own guard agrees.
    Rule(
        name="legal_hold",
        removes=(
            "an erased customer's name, addresses and VAT number on tax invoices and credit "
            "notes whose legal hold (5 years from issue) has ended, and their PDFs; amounts stay"
        ),
        tables=("documents", "files", "file_chunks"),
        keep_days=lambda settings: 0,
        count=legal_hold.count,
        delete=legal_hold.anonymise,
    ),
    # A closed business (lifecycle/closure.py): each rule counts from the day it closed,
    # except documents, kept DOCUMENT_RETENTION_YEARS from issue.
    Rule(
        name="closed_business_personal_data",
        removes=(
            "a closed business's team accounts, sign-in entries, tokens, devices, links, "
            "flow runs, webhooks, canned replies and banking details, after the grace period"
        ),
        tables=(
            *(purge.table for purge in closure.PERSONAL),
            "login_index",
            "business_profiles",
        ),
        keep_days=lambda settings: closure.GRACE_DAYS,
        count=closure.count_personal,
        delete=closure.delete_personal,
    ),
    Rule(
        name="closed_business_documents",
        removes=(
            "a closed business's quotes, invoices and credit notes with their lines, events, "
            "payments and PDFs, 5 years after issue"
        ),
        tables=tuple(purge.table for purge in closure.DOCUMENTS),
        keep_days=lambda settings: closure.DOCUMENT_KEEP_DAYS,
        count=closure.count_documents,
        delete=closure.delete_documents,
    ),
    Rule(
        name="closed_business_conversations",
        removes=(
            "a closed business's conversations, messages, contacts, leads and everything "
            "else, CLOSED_CONVERSATIONS_RETENTION_YEARS after closure"
        ),
        tables=tuple(dict.fromkeys(purge.table for purge in closure.REST)),
        keep_days=closure.conversations_keep_days,
        count=closure.count_rest,
        delete=closure.delete_rest,
    ),
    Rule(
        name="closed_business",
        removes="a closed business's own row, last, once nothing else of it is left",
        tables=("tenants",),
        keep_days=closure.conversations_keep_days,
        count=closure.count_tenants,
        delete=closure.delete_tenants,
    ),
)


def rule_named(name: str) -> Rule:
    return next(rule for rule in RULES if rule.name == name)


@dataclass(frozen=True)
class Outcome:
    rule: Rule
    keep_days: int
    before: datetime
    count: int  # would delete (dry run), or deleted
    dry_run: bool

    def as_dict(self) -> dict[str, Any]:
        key = "would_delete" if self.dry_run or self.rule.delete is None else "deleted"
        found: dict[str, Any] = {
            "rule": self.rule.name,
            "removes": self.rule.removes,
            "keep_days": self.keep_days,
            "before": self.before.isoformat(),
            key: self.count,
        }
        if self.rule.handled_by:
            found["handled_by"] = self.rule.handled_by
        return found


async def run(
    units: UnitsOfWork,
    settings: Settings,
    now: datetime,
    *,
    dry_run: bool = False,
    batch: int = BATCH,
    rules: tuple[Rule, ...] = RULES,
) -> list[Outcome]:
    """Apply every rule as of `now` (or only count, with `dry_run`). A rule another job
    handles is counted, never deleted here."""
    outcomes = []
    for rule in rules:
        before = rule.cutoff(settings, now)
        if dry_run or rule.delete is None:
            count = await rule.count(units, before)
        else:
            count = await rule.delete(units, before, batch)
        outcomes.append(Outcome(rule, rule.keep_days(settings), before, count, dry_run))
    return outcomes


def report(outcomes: list[Outcome], *, dry_run: bool) -> dict[str, Any]:
    """What `clientcompass retention --json` prints."""
    return {"dry_run": dry_run, "rules": [outcome.as_dict() for outcome in outcomes]}


def describe(found: dict[str, Any]) -> str:
    """The same report for a person: a line per rule."""
    lines = []
    for item in found["rules"]:
        if "handled_by" in item:
            verb = f"due, deleted by {item['handled_by']}"
            number = item["would_delete"]
        elif found["dry_run"]:
            verb, number = "would be deleted", item["would_delete"]
        else:
            verb, number = "deleted", item["deleted"]
        lines.append(
            f"{item['rule']}: {number} {verb} (kept {item['keep_days']} days: {item['removes']})"
        )
    return "\n".join(lines)
