"""Personal API tokens: issued to a member, shown once, stored as a hash, revocable.

They live with authentication, not with the team, because every request's principal is
resolved from one (web/auth.py) before any feature runs.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select, update

from clientcompass.auth import bearer
from clientcompass.auth.principal import Principal
from clientcompass.db import UnitOfWork
from clientcompass.errors import NotFound
from clientcompass.models import ApiToken, User

API_TOKEN_PREFIX = "cct"  # noqa: S105 (a prefix, not a secret)


@dataclass(frozen=True)
class IssuedApiToken:
    api_token: ApiToken
    token: str


async def create_api_token(uow: UnitOfWork, user: User, *, name: str) -> IssuedApiToken:
    secret = bearer.issue(API_TOKEN_PREFIX, user.tenant_id)
    api_token = ApiToken(
        tenant_id=user.tenant_id,
        id=uuid.uuid4(),
        user_id=user.id,
        name=name.strip() or "API token",
        token_hash=secret.digest,
    )
    uow.session.add(api_token)
    await uow.session.flush()
    return IssuedApiToken(api_token, secret.token)


async def resolve_api_token(uow: UnitOfWork, token: str) -> User | None:
    """The active user a bearer token belongs to; scopes `uow` to that tenant."""
    secret = bearer.parse(API_TOKEN_PREFIX, token)
    if secret is None:
        return None
    await uow.set_tenant(secret.tenant_id)
    row = (
        await uow.session.execute(
            select(ApiToken, User)
            .join(User, (User.tenant_id == ApiToken.tenant_id) & (User.id == ApiToken.user_id))
            .where(ApiToken.tenant_id == secret.tenant_id)
            .where(ApiToken.token_hash == secret.digest)
            .where(ApiToken.revoked_at.is_(None))
            .where(User.is_active)
        )
    ).first()
    if row is None:
        return None
    api_token, user = row
    api_token.last_used_at = uow.now
    return user


async def list_api_tokens(uow: UnitOfWork, actor: Principal) -> list[ApiToken]:
    """The caller's own live tokens, newest first."""
    rows = await uow.session.scalars(
        select(ApiToken)
        .where(ApiToken.tenant_id == actor.tenant_id)
        .where(ApiToken.user_id == actor.user_id)
        .where(ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())
    )
    return list(rows)


@dataclass(frozen=True)
class HeldToken:
    """A live token and the member who holds it (for the business-wide list)."""

    api_token: ApiToken
    holder: User


async def list_business_tokens(uow: UnitOfWork, actor: Principal) -> list[HeldToken]:
    """Every live token of the business, for an owner or admin to review and revoke."""
    actor.require_manager()
    rows = await uow.session.execute(
        select(ApiToken, User)
        .join(User, (User.tenant_id == ApiToken.tenant_id) & (User.id == ApiToken.user_id))
        .where(ApiToken.tenant_id == actor.tenant_id)
        .where(ApiToken.revoked_at.is_(None))
        .where(User.is_active)
        .order_by(User.name, ApiToken.created_at.desc())
    )
    return [HeldToken(api_token, holder) for api_token, holder in rows]


async def count_live_tokens(uow: UnitOfWork, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """How many tokens a user could still call the API with (for "also revoke my N tokens")."""
    count = await uow.session.scalar(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.tenant_id == tenant_id)
        .where(ApiToken.user_id == user_id)
        .where(ApiToken.revoked_at.is_(None))
    )
    return int(count or 0)


async def revoke_api_token(uow: UnitOfWork, actor: Principal, token_id: uuid.UUID) -> ApiToken:
    """Revoke one token: the holder's own, or any of the business's for an owner or admin.

    Idempotent. A token of someone else's that the caller may not touch is "not found", like a
    token of another business, so the answer tells nothing about who holds what.
    """
    api_token = await uow.session.get(ApiToken, (actor.tenant_id, token_id))
    if api_token is None or (
        api_token.user_id != actor.user_id and not actor.role.manages_business
    ):
        raise NotFound("That API token does not exist.")
    api_token.revoked_at = api_token.revoked_at or uow.now
    await uow.session.flush()
    return api_token


async def revoke_all_tokens(uow: UnitOfWork, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
    """Revoke every live token of a user (a password reset, log out everywhere, removal)."""
    result = await uow.session.execute(
        update(ApiToken)
        .where(ApiToken.tenant_id == tenant_id)
        .where(ApiToken.user_id == user_id)
        .where(ApiToken.revoked_at.is_(None))
        .values(revoked_at=uow.now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
