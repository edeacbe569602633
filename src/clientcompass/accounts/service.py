"""Sign-up, sign-in and passwords. Services flush; the caller's unit of work commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg import errors as pg_errors
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError

from clientcompass.audit import service as audit
from clientcompass.auth import bearer
from clientcompass.auth.lookup import lock_by_token
from clientcompass.auth.passwords import check_password_strength, hash_password, verify_password
from clientcompass.auth.throttle import LoginThrottle
from clientcompass.auth.tokens import count_live_tokens, revoke_all_tokens
from clientcompass.db import UnitOfWork
from clientcompass.errors import Conflict, Gone, InvalidInput, NotAuthenticated, NotFound
from clientcompass.models import (
    AuditAction,
    BusinessProfile,
    EmailChange,
    PasswordReset,
    Role,
    Tenant,
    User,
)
from clientcompass.policy.policy import record_acceptance

RESET_TOKEN_PREFIX = "ccr"  # noqa: S105 (a prefix, not a secret)
EMAIL_CHANGE_PREFIX = "cce"
EMAIL_CHANGE_LIFETIME = timedelta(hours=24)
BUSINESS_CLOSED = (
    "This business account is closed. An owner can reopen it with the link emailed when it "
    "was closed."
)


@dataclass(frozen=True)
class PasswordResetLink:
    user: User
    token: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def register_login(uow: UnitOfWork, email: str, user_id: uuid.UUID) -> None:
    """Claim an email for sign-in across the platform; one account per email address."""
    assert uow.tenant_id is not None
    try:
        async with uow.session.begin_nested():
            await uow.session.execute(
                text("select cc_login_register(:email, :tenant, :user)"),
                {"email": email, "tenant": uow.tenant_id, "user": user_id},
            )
    except IntegrityError as exc:
        if isinstance(exc.orig, pg_errors.UniqueViolation):
            raise Conflict(
                "An account with this email address already exists. Sign in instead, "
                "or reset your password.",
                field="email",
            ) from exc
        raise


async def release_login(uow: UnitOfWork, email: str) -> None:
    """Give an email back (a removed member): it no longer signs in to this business."""
    await uow.session.execute(text("select cc_login_remove(:email)"), {"email": email})


async def create_user(uow: UnitOfWork, *, email: str, name: str, password: str, role: Role) -> User:
    assert uow.tenant_id is not None
    check_password_strength(password)
    email = normalise_email(email)
    user = User(
        tenant_id=uow.tenant_id,
        id=uuid.uuid4(),
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        role=role,
        is_active=True,
        password_changed_at=uow.now,
    )
    await register_login(uow, email, user.id)
    uow.session.add(user)
    await uow.session.flush()
    return user


async def sign_up(
    uow: UnitOfWork, *, business_name: str, owner_name: str, email: str, password: str
) -> User:
    """Create a business, its profile and its owner in one transaction."""
    check_password_strength(password)
    tenant_id = uuid.uuid4()
    await uow.set_tenant(tenant_id)
    uow.session.add(Tenant(id=tenant_id, name=business_name.strip()))
    await uow.session.flush()
    uow.session.add(
        BusinessProfile(tenant_id=tenant_id, trading_name=business_name.strip(), email=email)
    )
    owner = await create_user(uow, email=email, name=owner_name, password=password, role=Role.OWNER)
    # Signing up accepts the privacy policy (the form says so and links it): keep which and when.
    record_acceptance(owner, uow.now)
    await uow.session.flush()
    return owner


async def find_login(uow: UnitOfWork, email: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The narrow cross-tenant lookup: which tenant and user an email signs in to."""
    row = (
        await uow.session.execute(
            text("select tenant_id, user_id from cc_login_lookup(:email)"),
            {"email": normalise_email(email)},
        )
    ).first()
    return (row.tenant_id, row.user_id) if row else None


async def authenticate(
    uow: UnitOfWork, throttle: LoginThrottle, *, email: str, password: str, ip: str
) -> User:
    """Check credentials, counting failures per account and per IP; scopes `uow` to the tenant."""
    email = normalise_email(email)
    attempt = await throttle.reserve(email, ip)
    found = await find_login(uow, email)
    user: User | None = None
    if found is not None:
        tenant_id, user_id = found
        await uow.set_tenant(tenant_id)
        user = await uow.session.get(User, (tenant_id, user_id))
    if user is None or not user.is_active or not verify_password(user.password_hash, password):
        if user is None:
            verify_password(None, password)
        raise NotAuthenticated(attempt.failures.message())
    await throttle.succeeded(attempt)
    tenant = await uow.session.get(Tenant, user.tenant_id)
    if tenant is None or tenant.closed_at is not None:  # lifecycle/closure.py
        raise NotAuthenticated(BUSINESS_CLOSED)
    await record_sign_in(uow, user)
    return user


async def record_sign_in(uow: UnitOfWork, user: User) -> None:
    """Audit a session started for someone: with their password, on signing up, or on joining
    a business by invitation. The IP and device are the request's (audit/context.py)."""
    await audit.record(uow, AuditAction.SIGN_IN, actor_id=user.id)


async def record_failed_sign_in(uow: UnitOfWork, email: str) -> None:
    """Audit a refused sign-in, in its own transaction (the refusal rolled the other back).

    Only for an address that belongs to someone, in their business: a guess at an unknown
    address belongs to no business's trail."""
    found = await find_login(uow, email)
    if found is None:
        return
    tenant_id, user_id = found
    await uow.set_tenant(tenant_id)
    await audit.record(
        uow,
        AuditAction.SIGN_IN_FAILED,
        actor_id=None,
        target_kind="user",
        target_id=user_id,
        target_label=normalise_email(email),
    )


async def get_user(uow: UnitOfWork, user_id: uuid.UUID) -> User:
    assert uow.tenant_id is not None
    user = await uow.session.get(User, (uow.tenant_id, user_id))
    if user is None:
        raise NotFound("That user does not exist.")
    return user


async def owners_of(uow: UnitOfWork, tenant_id: uuid.UUID) -> list[str]:
    """Emails of a business's active owners (for commands that act on its behalf)."""
    await uow.set_tenant(tenant_id)
    rows = await uow.session.scalars(
        select(User.email)
        .where(User.tenant_id == tenant_id)
        .where(User.role == Role.OWNER)
        .where(User.is_active)
        .order_by(User.created_at)
    )
    return list(rows)


async def get_tenant(uow: UnitOfWork) -> Tenant:
    assert uow.tenant_id is not None
    tenant = await uow.session.get(Tenant, uow.tenant_id)
    if tenant is None:
        raise NotFound("That business does not exist.")
    return tenant


async def verify_current_password(
    user: User, password: str, *, field: str = "current_password"
) -> None:
    if not verify_password(user.password_hash, password):
        raise InvalidInput("That is not your current password.", field=field)


async def change_password(uow: UnitOfWork, user: User, *, current: str, new: str) -> None:
    await verify_current_password(user, current)
    check_password_strength(new, field="new_password")
    user.password_hash = hash_password(new)
    user.password_changed_at = uow.now
    await audit.record(uow, AuditAction.PASSWORD_CHANGED, actor_id=user.id)
    await uow.session.flush()


async def update_profile(uow: UnitOfWork, user: User, *, name: str) -> User:
    user.name = name.strip()
    await uow.session.flush()
    return user


async def start_password_reset(
    uow: UnitOfWork, email: str, *, lifetime_seconds: int
) -> PasswordResetLink | None:
    """Issue a one-time reset token; None for an unknown email (the caller says nothing)."""
    found = await find_login(uow, email)
    if found is None:
        return None
    tenant_id, user_id = found
    await uow.set_tenant(tenant_id)
    user = await uow.session.get(User, (tenant_id, user_id))
    if user is None or not user.is_active:
        return None
    secret = bearer.issue(RESET_TOKEN_PREFIX, tenant_id)
    uow.session.add(
        PasswordReset(
            tenant_id=tenant_id,
            id=uuid.uuid4(),
            user_id=user.id,
            token_hash=secret.digest,
            expires_at=uow.now + timedelta(seconds=lifetime_seconds),
        )
    )
    await uow.session.flush()
    return PasswordResetLink(user=user, token=secret.token)


async def api_tokens_at_reset(uow: UnitOfWork, token: str) -> int:
    """How many live API tokens the holder of a reset link has (0 for a dead link), so the
    form can offer to revoke them by number."""
    secret = bearer.parse(RESET_TOKEN_PREFIX, token)
    if secret is None:
        return 0
    await uow.set_tenant(secret.tenant_id)
    user_id = await uow.session.scalar(
        select(PasswordReset.user_id)
        .where(PasswordReset.tenant_id == secret.tenant_id)
        .where(PasswordReset.token_hash == secret.digest)
        .where(PasswordReset.used_at.is_(None))
        .where(PasswordReset.expires_at > uow.now)
    )
    if user_id is None:
        return 0
    return await count_live_tokens(uow, secret.tenant_id, user_id)


async def expire_reset_links(uow: UnitOfWork, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Mark the user's unused password-reset links used: one reset, or a removal, ends them all."""
    await uow.session.execute(
        update(PasswordReset)
        .where(PasswordReset.tenant_id == tenant_id)
        .where(PasswordReset.user_id == user_id)
        .where(PasswordReset.used_at.is_(None))
        .values(used_at=uow.now)
    )


async def finish_password_reset(
    uow: UnitOfWork, token: str, new_password: str, *, revoke_api_tokens: bool = False
) -> User:
    """Spend a reset token once; any other live reset tokens of the user die with it, and
    their API tokens too when they ask (someone who needed a reset may have lost a device).

    Once it commits, the caller ends the user's sessions and clears the account's sign-in
    failures (`LoginThrottle.clear_account`): the lockout message offers a reset as the way in.
    """
    invalid = InvalidInput("This reset link is invalid or has expired. Ask for a new one.")
    check_password_strength(new_password)
    reset = await lock_by_token(uow, PasswordReset, RESET_TOKEN_PREFIX, token)
    if reset is None or reset.used_at is not None or reset.expires_at <= uow.now:
        raise invalid
    user = await get_user(uow, reset.user_id)
    if not user.is_active:
        raise invalid
    revoked = await revoke_all_tokens(uow, user.tenant_id, user.id) if revoke_api_tokens else 0
    user.password_hash = hash_password(new_password)
    user.password_changed_at = uow.now
    await expire_reset_links(uow, user.tenant_id, user.id)
    await audit.record(
        uow, AuditAction.PASSWORD_RESET, actor_id=user.id, details={"api_tokens_revoked": revoked}
    )
    await uow.session.flush()
    return user


# -- changing the sign-in email ---------------------------------------------------------------


@dataclass(frozen=True)
class EmailChangeLink:
    user: User
    new_email: str
    token: str


EMAIL_IN_USE = "That email address is already used by another account. Choose a different one."


async def _email_taken(uow: UnitOfWork, email: str) -> bool:
    """Signs in somewhere, or belongs to a (removed) member of this business."""
    if await find_login(uow, email) is not None:
        return True
    held = await uow.session.scalar(
        select(User.id).where(User.tenant_id == uow.tenant_id).where(User.email == email)
    )
    return held is not None


async def start_email_change(
    uow: UnitOfWork, user: User, *, password: str, new_email: str
) -> EmailChangeLink:
    """Step-up with the password, then send a one-time link to the new address. Nothing about
    signing in changes until the link is used; earlier links of this person die."""
    await verify_current_password(user, password, field="password")
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise InvalidInput("That is already your email address.", field="new_email")
    if await _email_taken(uow, new_email):
        raise Conflict(EMAIL_IN_USE, field="new_email")
    await _expire_email_changes(uow, user)
    secret = bearer.issue(EMAIL_CHANGE_PREFIX, user.tenant_id)
    uow.session.add(
        EmailChange(
            tenant_id=user.tenant_id,
            id=uuid.uuid4(),
            user_id=user.id,
            new_email=new_email,
            token_hash=secret.digest,
            expires_at=uow.now + EMAIL_CHANGE_LIFETIME,
        )
    )
    await audit.record(
        uow,
        AuditAction.EMAIL_CHANGE_REQUESTED,
        actor_id=user.id,
        target_kind="user",
        target_id=user.id,
        target_label=new_email,
    )
    await uow.session.flush()
    return EmailChangeLink(user, new_email, secret.token)


async def _expire_email_changes(uow: UnitOfWork, user: User) -> None:
    await uow.session.execute(
        update(EmailChange)
        .where(EmailChange.tenant_id == user.tenant_id)
        .where(EmailChange.user_id == user.id)
        .where(EmailChange.used_at.is_(None))
        .values(used_at=uow.now)
    )


async def pending_email_change(uow: UnitOfWork, user: User) -> EmailChange | None:
    """The person's live, unconfirmed change (the account page says where the link went)."""
    return await uow.session.scalar(
        select(EmailChange)
        .where(EmailChange.tenant_id == user.tenant_id)
        .where(EmailChange.user_id == user.id)
        .where(EmailChange.used_at.is_(None))
        .where(EmailChange.expires_at > uow.now)
        .order_by(EmailChange.created_at.desc())
        .limit(1)
    )


async def purge_email_changes(
    uow: UnitOfWork, days: int = 30, *, now: datetime | None = None
) -> int:
    """Delete the unit of work's business's email-change links that were used or expired more
    than `days` ago (they hold an address the person may never have confirmed). For the
    retention job; idempotent."""
    assert uow.tenant_id is not None
    before = (now or uow.now) - timedelta(days=days)
    result = await uow.session.execute(
        delete(EmailChange)
        .where(EmailChange.tenant_id == uow.tenant_id)
        .where(func.coalesce(EmailChange.used_at, EmailChange.expires_at) < before)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def open_email_change(uow: UnitOfWork, token: str) -> EmailChange:
    """The live change a link carries, locked; scopes `uow` to its business."""
    change = await lock_by_token(uow, EmailChange, EMAIL_CHANGE_PREFIX, token)
    if change is None or change.used_at is not None or change.expires_at <= uow.now:
        raise Gone(
            "This link is invalid, used or expired. Ask for a new one in your account settings."
        )
    return change


async def finish_email_change(uow: UnitOfWork, token: str) -> tuple[User, str]:
    """Spend the link: the new address signs in from now on, the old one no longer does (both
    in this transaction, so the login index never holds neither or both). Returns the user
    and their old address."""
    change = await open_email_change(uow, token)
    user = await get_user(uow, change.user_id)
    if not user.is_active:
        raise Gone(
            "This link is invalid, used or expired. Ask for a new one in your account settings."
        )
    old = user.email
    if await _email_taken(uow, change.new_email):
        raise Conflict(EMAIL_IN_USE, field="token")
    try:
        await register_login(uow, change.new_email, user.id)
    except Conflict as exc:
        raise Conflict(EMAIL_IN_USE, field="token") from exc
    await release_login(uow, old)
    user.email = change.new_email
    change.used_at = uow.now
    await _expire_email_changes(uow, user)
    await audit.record(
        uow,
        AuditAction.EMAIL_CHANGED,
        actor_id=user.id,
        target_kind="user",
        target_id=user.id,
        target_label=change.new_email,
        details={"previous": old},
    )
    await uow.session.flush()
    return user, old
