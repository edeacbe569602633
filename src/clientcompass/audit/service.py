"""Recording, reading and purging audit events. `record` writes in the caller's transaction,
so an event exists exactly when what it describes was committed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, or_, select, text

from clientcompass.audit.context import current_origin
from clientcompass.auth.principal import Principal
from clientcompass.db import UnitOfWork
from clientcompass.errors import Forbidden
from clientcompass.models import ApiToken, AuditAction, AuditEvent, BusinessProfile, Role, User

RETENTION_DAYS = 90
HOME_TIME_ZONE = "Africa/Johannesburg"
PAGE_SIZE = 50
# Keys that must never reach `details`, whatever a caller passes: the trail holds no secrets
# and no message text.
FORBIDDEN_DETAIL_KEYS = frozenset(
    {"password", "token", "secret", "body", "text", "message", "account_number", "csrf"}
)


async def record(
    uow: UnitOfWork,
    action: AuditAction,
    *,
    actor_id: uuid.UUID | None,
    target_kind: str = "",
    target_id: uuid.UUID | None = None,
    target_label: str = "",
    details: dict[str, Any] | None = None,
    ip: str | None = None,
    device: str | None = None,
    tenant_id: uuid.UUID | None = None,
) -> AuditEvent:
    """Add an event to the unit of work's business (flushed with the caller's changes).

    IP and device default to the request being served (audit/context.py)."""
    tenant = tenant_id or uow.tenant_id
    assert tenant is not None, "an audit event belongs to a business"
    leaked = FORBIDDEN_DETAIL_KEYS & set(details or {})
    assert not leaked, f"audit details must not carry {sorted(leaked)}"
    origin = current_origin()
    event = AuditEvent(
        tenant_id=tenant,
        id=uuid.uuid4(),
        at=uow.now,
        actor_id=actor_id,
        action=action.value,
        target_kind=target_kind,
        target_id=target_id,
        target_label=target_label[:200],
        ip=(ip if ip is not None else origin.ip if origin else "")[:64],
        device=(device if device is not None else origin.device if origin else "")[:100],
        details=details or {},
    )
    uow.session.add(event)
    await uow.session.flush()
    return event


def require_owner(actor: Principal) -> None:
    if actor.role is not Role.OWNER:
        raise Forbidden("Only an owner can see the audit trail.")


@dataclass(frozen=True)
class AuditFilter:
    action: AuditAction | None = None
    person: uuid.UUID | None = None
    since: date | None = None
    until: date | None = None  # inclusive: the whole day


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    actor_name: str

    @property
    def action_label(self) -> str:
        try:
            return AuditAction(self.event.action).label
        except ValueError:
            return self.event.action


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    page: int
    has_next: bool


async def business_zone(uow: UnitOfWork) -> ZoneInfo:
    """The business's time zone, in which the filters' dates are whole days."""
    assert uow.tenant_id is not None
    profile = await uow.session.get(BusinessProfile, uow.tenant_id)
    try:
        return ZoneInfo((profile.timezone if profile else "") or HOME_TIME_ZONE)
    except (ValueError, KeyError):
        return ZoneInfo(HOME_TIME_ZONE)


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


async def list_events(
    uow: UnitOfWork,
    actor: Principal,
    filters: AuditFilter,
    *,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    zone: ZoneInfo | None = None,
) -> AuditPage:
    """Newest first, owners only; dates are whole days in the business's time zone."""
    require_owner(actor)
    zone = zone or ZoneInfo(HOME_TIME_ZONE)
    page = max(1, page)
    query = (
        select(AuditEvent, User.name)
        .outerjoin(
            User, (User.tenant_id == AuditEvent.tenant_id) & (User.id == AuditEvent.actor_id)
        )
        .where(AuditEvent.tenant_id == actor.tenant_id)
    )
    if filters.action is not None:
        query = query.where(AuditEvent.action == filters.action.value)
    if filters.person is not None:
        # Who acted, or whom it was done to (a failed sign-in on their account, a removal).
        query = query.where(
            or_(AuditEvent.actor_id == filters.person, AuditEvent.target_id == filters.person)
        )
    if filters.since is not None:
        query = query.where(AuditEvent.at >= _day_start(filters.since, zone))
    if filters.until is not None:
        query = query.where(AuditEvent.at < _day_start(filters.until + timedelta(days=1), zone))
    query = (
        query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(page_size + 1)
        .offset((page - 1) * page_size)
    )
    rows = [AuditRow(event, name or "") for event, name in await uow.session.execute(query)]
    return AuditPage(rows[:page_size], page, len(rows) > page_size)


async def people(uow: UnitOfWork, actor: Principal) -> list[User]:
    """Everyone who may appear in the trail (removed members too), for the person filter."""
    require_owner(actor)
    rows = await uow.session.scalars(
        select(User).where(User.tenant_id == actor.tenant_id).order_by(User.name)
    )
    return list(rows)


# -- retention (called by the lifecycle retention job) ---------------------------------------


async def expired_tenants(
    uow: UnitOfWork,
    days: int = RETENTION_DAYS,
    *,
    limit: int = 1000,
    now: datetime | None = None,
) -> list[uuid.UUID]:
    """Businesses holding audit events older than `days`, across tenants: ids only, through
    `cc_audit_expired_tenants()` (migration 0023). Purge each with `purge_older_than`."""
    before = (now or uow.now) - timedelta(days=days)
    rows = await uow.session.execute(
        text("SELECT tenant_id FROM cc_audit_expired_tenants(:before, :limit)"),
        {"before": before, "limit": limit},
    )
    return [tenant_id for (tenant_id,) in rows]


async def purge_older_than(
    uow: UnitOfWork,
    days: int = RETENTION_DAYS,
    *,
    limit: int = 10_000,
    now: datetime | None = None,
) -> int:
    """Delete up to `limit` of the unit of work's business's events older than `days`;
    returns how many went (call again while it returns `limit`). Idempotent. `now` lets a
    test (or a dry run) move the clock."""
    assert uow.tenant_id is not None, "purge within one business (see expired_tenants)"
    before = (now or uow.now) - timedelta(days=days)
    due = (
        select(AuditEvent.id)
        .where(AuditEvent.tenant_id == uow.tenant_id)
        .where(AuditEvent.at < before)
        .limit(limit)
        .scalar_subquery()
    )
    result = await uow.session.execute(
        delete(AuditEvent)
        .where(AuditEvent.tenant_id == uow.tenant_id)
        .where(AuditEvent.id.in_(due))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def count(uow: UnitOfWork) -> int:
    """How many events the unit of work's business holds (for tests and the dry run)."""
    return int(await uow.session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


async def record_token_created(
    uow: UnitOfWork, user_id: uuid.UUID, api_token: ApiToken, *, device: str | None = None
) -> None:
    """A new API token, from the account page or `clientcompass token create` (which has no
    request to name a device, so it says where it came from)."""
    await record(
        uow,
        AuditAction.API_TOKEN_CREATED,
        actor_id=user_id,
        target_kind="api_token",
        target_id=api_token.id,
        target_label=api_token.name,
        details={"via": "cli"} if device else {},
        device=device,
    )


async def record_token_revoked(uow: UnitOfWork, actor: Principal, api_token: ApiToken) -> None:
    """A revoked API token (the holder's own, or an owner's or admin's doing); revoking one
    already revoked changed nothing, so records nothing."""
    if api_token.revoked_at != uow.now:
        return
    await record(
        uow,
        AuditAction.API_TOKEN_REVOKED,
        actor_id=actor.user_id,
        target_kind="api_token",
        target_id=api_token.id,
        target_label=api_token.name,
        details={} if api_token.user_id == actor.user_id else {"holder_id": str(api_token.user_id)},
    )
