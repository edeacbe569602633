"""Closing a business account, reopening it in the grace period, and what happens after.

Closing (an owner, with step-up) sets `tenants.closed_at`: from the very next request every
session and API token of the business is refused (web/auth.py checks the tenant), and the
owners get an email with a signed reopen link. The link carries the tenant and the instant
it closed, with an HMAC keyed by the app's secret, so it reopens only that closure of that
business, and only for `GRACE_PERIOD` after it (checked against the row, by the unit of
work's clock). Reopening clears `closed_at`: people sign in again and tokens work again.

After the grace period the retention job (lifecycle/retention.py RULES) deletes, one business
at a time behind its tenant wall:
- at once: what the law does not require: the team's accounts, sign-in index entries,
  tokens, devices, invitations, links, flow runs, webhooks, canned replies, banking details;
- documents (quotes, invoices, credit notes, their lines, payments and PDFs) once
  `DOCUMENT_RETENTION_YEARS` have passed since issue (the Income Tax Act's 5 years);
- conversations and everything else `CLOSED_CONVERSATIONS_RETENTION_YEARS` after closure
  (7 at most, as the policy promises); then the tenant row, last.
Closed businesses are found through `cc_closed_tenants()` (migration 0028) only.

The rules receive only a cutoff (`now - keep_days`); a rule that also needs "now" (the
documents rule: past the grace period too) adds its keep_days back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from clientcompass.accounts.service import get_user, verify_current_password
from clientcompass.audit import service as audit
from clientcompass.auth.principal import Principal
from clientcompass.config import Settings
from clientcompass.db import UnitOfWork
from clientcompass.errors import Conflict, Forbidden, Gone
from clientcompass.files import LEGAL_HOLD_YEARS
from clientcompass.models import AuditAction, Role, Tenant, User
from clientcompass.work import UnitsOfWork

log = structlog.get_logger(__name__)

GRACE_DAYS = 30
GRACE_PERIOD = timedelta(days=GRACE_DAYS)
DOCUMENT_RETENTION_YEARS = LEGAL_HOLD_YEARS
# "At least 5 years after issue": 366-day years, so a leap day never cuts one short.
DOCUMENT_KEEP_DAYS = DOCUMENT_RETENTION_YEARS * 366
REOPEN_PURPOSE = b"closure-reopen:"
REOPEN_PATH = "/reopen"
_SIGNATURE_BYTES = 20

ONLY_OWNER = "Only an owner can close the business account. Ask an owner to do it."
ALREADY_CLOSED = "This business account is already closed."
LINK_INVALID = (
    "This reopen link is invalid or has expired. A business can be reopened within "
    f"{GRACE_DAYS} days of closing, with the link emailed to its owners."
)


def conversations_keep_days(settings: Settings) -> int:
    """No longer than the setting's years after closure: 365-day years never overshoot."""
    return settings.closed_conversations_retention_years * 365


# -- the reopen link ---------------------------------------------------------------------------


def _micros(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def _signature(secret: str, payload: bytes) -> bytes:
    digest = hmac.new(secret.encode(), REOPEN_PURPOSE + payload, hashlib.sha256).digest()
    return digest[:_SIGNATURE_BYTES]


def reopen_token(secret: str, tenant_id: uuid.UUID, closed_at: datetime) -> str:
    payload = tenant_id.bytes + struct.pack(">q", _micros(closed_at))
    return base64.urlsafe_b64encode(payload + _signature(secret, payload)).decode().rstrip("=")


def read_reopen_token(secret: str, token: str) -> tuple[uuid.UUID, int] | None:
    """The (tenant, closed-at microseconds) a token names, or None if forged or malformed."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    if len(raw) != 24 + _SIGNATURE_BYTES:
        return None
    payload, signature = raw[:24], raw[24:]
    if not hmac.compare_digest(signature, _signature(secret, payload)):
        return None
    (micros,) = struct.unpack(">q", payload[16:])
    return uuid.UUID(bytes=payload[:16]), micros


def reopen_url(base_url: str, token: str) -> str:
    return f"{base_url}{REOPEN_PATH}?token={token}"


def reopen_deadline(closed_at: datetime) -> datetime:
    return closed_at + GRACE_PERIOD


# -- closing and reopening ---------------------------------------------------------------------


@dataclass(frozen=True)
class Closed:
    tenant: Tenant
    owners: list[User]
    member_ids: list[uuid.UUID]


async def close_business(
    uow: UnitOfWork, actor: Principal, *, password: str, stepped_up: bool = False
) -> Closed:
    """Close the caller's business (owners only, step-up with the password, which a session
    that confirmed it moments ago may leave out; one that is given is checked all the same).
    Access ends when this commits; the caller then ends the members' sessions and emails the
    owners."""
    if actor.role is not Role.OWNER:
        raise Forbidden(ONLY_OWNER)
    user = await get_user(uow, actor.user_id)
    if password or not stepped_up:
        await verify_current_password(user, password, field="password")
    tenant = await uow.session.get(Tenant, actor.tenant_id, with_for_update=True)
    assert tenant is not None
    if tenant.closed_at is not None:
        raise Conflict(ALREADY_CLOSED)
    tenant.closed_at = uow.now
    members = list(await uow.session.scalars(select(User).where(User.tenant_id == tenant.id)))
    await audit.record(
        uow,
        AuditAction.ACCOUNT_CLOSED,
        actor_id=user.id,
        target_kind="tenant",
        target_id=tenant.id,
        target_label=tenant.name,
        details={"grace_days": GRACE_DAYS},
    )
    await uow.session.flush()
    owners = [m for m in members if m.role is Role.OWNER and m.is_active]
    return Closed(tenant, owners, [m.id for m in members])


def defer_closure_emails(uow: UnitOfWork, closed: Closed, settings: Settings) -> None:
    """Queue, in the closing transaction, the email to each owner with the reopen link."""
    assert closed.tenant.closed_at is not None
    url = reopen_url(
        settings.base_url,
        reopen_token(settings.secret_key, closed.tenant.id, closed.tenant.closed_at),
    )
    until = reopen_deadline(closed.tenant.closed_at).strftime("%d %B %Y")
    for owner in closed.owners:
        uow.defer_job(
            "send_email",
            to=owner.email,
            subject=f"{closed.tenant.name} was closed on Client Compass",
            body=(
                f"Hi {owner.name},\n\nThe Client Compass account of {closed.tenant.name} was "
                "closed. Nobody in the business can sign in or use its API tokens any more.\n\n"
                f"You can reopen it until {until} ({GRACE_DAYS} days) with this link; "
                f"everything will be as it was:\n{url}\n\n"
                "After that, what the law doesn't require us to keep is deleted: your team's "
                "accounts at once, quotes and invoices "
                f"{DOCUMENT_RETENTION_YEARS} years after they were issued, and conversations "
                f"and everything else {settings.closed_conversations_retention_years} years "
                "after closing.\n\nIf you did not close it, reopen it with the link and change "
                "your password."
            ),
        )


async def open_reopen_link(uow: UnitOfWork, secret: str, token: str) -> Tenant:
    """The closed business a live reopen link names, locked; scopes `uow` to it."""
    found = read_reopen_token(secret, token)
    if found is None:
        raise Gone(LINK_INVALID)
    tenant_id, micros = found
    await uow.set_tenant(tenant_id)
    tenant = await uow.session.get(Tenant, tenant_id, with_for_update=True)
    if (
        tenant is None
        or tenant.closed_at is None
        or _micros(tenant.closed_at) != micros
        or uow.now >= reopen_deadline(tenant.closed_at)
    ):
        raise Gone(LINK_INVALID)
    return tenant


async def reopen_business(uow: UnitOfWork, secret: str, token: str) -> Tenant:
    """Spend a reopen link: the business is open again, as it was."""
    tenant = await open_reopen_link(uow, secret, token)
    closed_at = tenant.closed_at
    assert closed_at is not None
    tenant.closed_at = None
    await audit.record(
        uow,
        AuditAction.ACCOUNT_REOPENED,
        actor_id=None,
        target_kind="tenant",
        target_id=tenant.id,
        target_label=tenant.name,
        details={"closed_at": closed_at.isoformat()},
    )
    await uow.session.flush()
    return tenant


# -- retention after closure -------------------------------------------------------------------


async def closed_before(units: UnitsOfWork, before: datetime) -> list[uuid.UUID]:
    """Every business closed before `before`, through the narrow `cc_closed_tenants()`."""
    async with units(None) as uow:
        rows = await uow.session.execute(
            text("SELECT tenant_id FROM cc_closed_tenants(:before)"), {"before": before}
        )
        return [tenant_id for (tenant_id,) in rows]


@dataclass(frozen=True)
class Purge:
    """One table's rows of a business to delete (`where` over alias `x`, may use :before)."""

    table: str
    where: str = "true"

    def _scope(self) -> str:
        return f"FROM {self.table} x WHERE x.tenant_id = :tenant AND ({self.where})"

    def count_sql(self) -> str:
        return f"SELECT count(*) {self._scope()}"

    def delete_sql(self) -> str:
        return (
            f"DELETE FROM {self.table} WHERE ctid = ANY(ARRAY(SELECT x.ctid {self._scope()} "  # noqa: S608 (constant names)
            "LIMIT :batch FOR UPDATE SKIP LOCKED))"
        )


_NO_DOCUMENT = "NOT EXISTS (SELECT 1 FROM documents d WHERE d.tenant_id = x.tenant_id AND d.{0})"

# What the law does not require: gone when the grace period ends. Children before parents.
PERSONAL = (
    # Exports hold a copy of everything: the files they made go with them.
    Purge(
        "files",
        "x.document_id IS NULL AND x.id IN "
        "(SELECT e.file_id FROM exports e WHERE e.tenant_id = x.tenant_id)",
    ),
    Purge("exports"),
    Purge("api_tokens"),
    Purge("push_subscriptions"),
    Purge("notification_receipts"),
    Purge("notification_preferences"),
    Purge("invitations"),
    Purge("password_resets"),
    Purge("email_changes"),
    Purge("canned_responses"),
    Purge("webhook_deliveries"),
    Purge("webhook_subscriptions"),
    Purge("flow_run_steps"),
    Purge("flow_runs"),
    Purge("users"),
)

# Documents: those issued before the cutoff, unless a document still kept points at them
# (an invoice's quote, a credit note's invoice). `:before` is a timestamp; issue_date a date.
DUE_DOCUMENTS = """
WITH RECURSIVE kept(id, source_id) AS (
    SELECT d.id, d.source_id FROM documents d
    WHERE d.tenant_id = :tenant AND d.issue_date >= CAST(:before AS date)
    UNION
    SELECT s.id, s.source_id FROM documents s JOIN kept k ON s.id = k.source_id
    WHERE s.tenant_id = :tenant
)
SELECT d.id FROM documents d
WHERE d.tenant_id = :tenant AND d.issue_date < CAST(:before AS date)
  AND d.id NOT IN (SELECT id FROM kept)
"""
DOCUMENTS = (
    Purge("payments", f"x.document_id IN ({DUE_DOCUMENTS})"),
    Purge("files", f"x.document_id IN ({DUE_DOCUMENTS})"),
    Purge("document_lines", f"x.document_id IN ({DUE_DOCUMENTS})"),
    Purge("document_events", f"x.document_id IN ({DUE_DOCUMENTS})"),
    Purge("documents", f"x.id IN ({DUE_DOCUMENTS})"),
)
# Within the due set documents may point at each other; unlink them so batches can go in
# any order (both ends are deleted).
UNLINK_DUE_DOCUMENTS = (
    "UPDATE documents SET source_id = NULL WHERE tenant_id = :tenant "  # noqa: S608 (constant)
    f"AND source_id IS NOT NULL AND id IN ({DUE_DOCUMENTS})"
)

# Everything else, the conversations first: gone the setting's years after closure.
REST = (
    Purge("message_media"),
    Purge("messages"),
    Purge("conversation_events"),
    Purge("conversation_labels"),
    Purge("flow_run_steps"),
    Purge("flow_runs"),
    Purge("lead_stage_changes", _NO_DOCUMENT.format("lead_id = x.lead_id")),
    Purge("leads", _NO_DOCUMENT.format("lead_id = x.id")),
    Purge(
        "conversations",
        "NOT EXISTS (SELECT 1 FROM leads l WHERE l.tenant_id = x.tenant_id "
        "AND l.conversation_id = x.id)",
    ),
    Purge("marketing_consent_events", _NO_DOCUMENT.format("contact_id = x.contact_id")),
    Purge(
        "contacts",
        _NO_DOCUMENT.format("contact_id = x.id")  # noqa: S608 (constant)
        + " AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.tenant_id = x.tenant_id "
        "AND l.contact_id = x.id)",
    ),
    Purge("files", "x.document_id IS NULL"),
    Purge("flow_versions"),
    Purge("flows"),
    Purge("message_templates"),
    Purge("channels"),
    *PERSONAL,
    Purge("tenant_settings"),
    Purge("audit_events"),
    Purge(
        "document_counters",
        "NOT EXISTS (SELECT 1 FROM documents d WHERE d.tenant_id = x.tenant_id)",
    ),
    Purge(
        "business_profiles",
        "NOT EXISTS (SELECT 1 FROM documents d WHERE d.tenant_id = x.tenant_id)",
    ),
)


async def _count(
    units: UnitsOfWork, tenants: list[uuid.UUID], purges: tuple[Purge, ...], before: datetime
) -> int:
    total = 0
    for tenant_id in tenants:
        async with units(tenant_id) as uow:
            for purge in purges:
                found = await uow.session.scalar(
                    text(purge.count_sql()), {"tenant": tenant_id, "before": before}
                )
                total += int(found or 0)
    return total


async def _delete(
    units: UnitsOfWork,
    tenant_id: uuid.UUID,
    purges: tuple[Purge, ...],
    before: datetime,
    batch: int,
) -> int:
    deleted = 0
    for purge in purges:
        statement = text(purge.delete_sql())
        while True:
            async with units(tenant_id) as uow:
                result = await uow.session.execute(
                    statement, {"tenant": tenant_id, "before": before, "batch": batch}
                )
            done = int(result.rowcount)  # type: ignore[attr-defined]
            deleted += done
            if done < batch:
                break
    return deleted


async def _forget_logins(units: UnitsOfWork, tenant_id: uuid.UUID) -> None:
    """Take the team's addresses out of the sign-in index (before their rows go)."""
    async with units(tenant_id) as uow:
        emails = await uow.session.scalars(select(User.email).where(User.tenant_id == tenant_id))
        for email in list(emails):
            await uow.session.execute(text("SELECT cc_login_remove(:email)"), {"email": email})
        await uow.session.execute(
            text(
                "UPDATE business_profiles SET banking_details_sealed = NULL "
                "WHERE tenant_id = :tenant AND banking_details_sealed IS NOT NULL"
            ),
            {"tenant": tenant_id},
        )


async def count_personal(units: UnitsOfWork, before: datetime) -> int:
    return await _count(units, await closed_before(units, before), PERSONAL, before)


async def delete_personal(units: UnitsOfWork, before: datetime, batch: int) -> int:
    """Past the grace period: what the law does not require."""
    deleted = 0
    for tenant_id in await closed_before(units, before):
        await _forget_logins(units, tenant_id)
        deleted += await _delete(units, tenant_id, PERSONAL, before, batch)
    return deleted


def _grace_cutoff(before: datetime) -> datetime:
    """The documents rule's cutoff is `now - DOCUMENT_KEEP_DAYS`; the grace period ends at
    `now - GRACE_PERIOD`."""
    return before + timedelta(days=DOCUMENT_KEEP_DAYS) - GRACE_PERIOD


async def count_documents(units: UnitsOfWork, before: datetime) -> int:
    tenants = await closed_before(units, _grace_cutoff(before))
    return await _count(units, tenants, DOCUMENTS[-1:], before)


async def delete_documents(units: UnitsOfWork, before: datetime, batch: int) -> int:
    """A closed business's documents (and their lines, events, payments and PDFs), once
    `DOCUMENT_RETENTION_YEARS` have passed since issue. Counts documents."""
    deleted = 0
    for tenant_id in await closed_before(units, _grace_cutoff(before)):
        async with units(tenant_id) as uow:
            await uow.session.execute(
                text(UNLINK_DUE_DOCUMENTS), {"tenant": tenant_id, "before": before}
            )
        await _delete(units, tenant_id, DOCUMENTS[:-1], before, batch)
        deleted += await _delete(units, tenant_id, DOCUMENTS[-1:], before, batch)
    return deleted


async def count_rest(units: UnitsOfWork, before: datetime) -> int:
    return await _count(units, await closed_before(units, before), REST, before)


async def delete_rest(units: UnitsOfWork, before: datetime, batch: int) -> int:
    """Conversations, contacts and everything else, the setting's years after closure."""
    deleted = 0
    for tenant_id in await closed_before(units, before):
        await _forget_logins(units, tenant_id)
        deleted += await _delete(units, tenant_id, REST, before, batch)
    return deleted


async def count_tenants(units: UnitsOfWork, before: datetime) -> int:
    return len(await closed_before(units, before))


async def delete_tenants(units: UnitsOfWork, before: datetime, batch: int) -> int:
    """The tenant row, last: only once nothing of the business is left (a row still there,
    such as a document not yet 5 years old, keeps it, and the next run tries again)."""
    deleted = 0
    for tenant_id in (await closed_before(units, before))[:batch]:
        try:
            async with units(tenant_id) as uow:
                result = await uow.session.execute(
                    text("DELETE FROM tenants WHERE id = :tenant AND closed_at IS NOT NULL"),
                    {"tenant": tenant_id},
                )
            deleted += int(result.rowcount)  # type: ignore[attr-defined]
        except IntegrityError:
            log.warning("closed business not yet empty", tenant=str(tenant_id))
    return deleted
