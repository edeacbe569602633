"""Loading the row a bearer token points at, inside the tenant the token names."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import select

from clientcompass.auth import bearer
from clientcompass.db import UnitOfWork
from clientcompass.models.base import TokenHashed

Row = TypeVar("Row", bound=TokenHashed)


async def lock_by_token(uow: UnitOfWork, model: type[Row], prefix: str, token: str) -> Row | None:
    """The row for `token`, locked for update; scopes `uow` to the token's tenant first.

    None for a malformed token or one that matches nothing: callers say "invalid or expired"
    without telling which.
    """
    secret = bearer.parse(prefix, token)
    if secret is None:
        return None
    await uow.set_tenant(secret.tenant_id)
    statement = (
        select(model)
        .where(model.tenant_id == secret.tenant_id)
        .where(model.token_hash == secret.digest)
        .with_for_update()
    )
    return (await uow.session.execute(statement)).scalar_one_or_none()
