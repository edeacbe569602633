"""Canned responses: saved replies the team inserts with `/shortcut` in the composer."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from clientcompass.audit import service as audit
from clientcompass.auth.permissions import Permission
from clientcompass.auth.principal import Principal
from clientcompass.db import UnitOfWork
from clientcompass.errors import Conflict, InvalidInput, NotFound
from clientcompass.models import AuditAction, CannedResponse

SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_BODY = 4096


def clean_shortcut(shortcut: str) -> str:
    """`/Hours ` and `hours` are the same shortcut: no slash, lower case, letters and digits."""
    cleaned = shortcut.strip().removeprefix("/").lower()
    if not SHORTCUT.match(cleaned):
        raise InvalidInput(
            "A shortcut is one word of letters, digits, - or _ (at most 40), like hours.",
            field="shortcut",
        )
    return cleaned


def _clean_body(body: str) -> str:
    text = body.strip()
    if not text:
        raise InvalidInput("Type the reply this shortcut inserts.", field="body")
    if len(text) > MAX_BODY:
        raise InvalidInput(f"A reply holds at most {MAX_BODY} characters.", field="body")
    return text


async def list_canned(uow: UnitOfWork, *, prefix: str = "") -> list[CannedResponse]:
    assert uow.tenant_id is not None
    query = (
        select(CannedResponse)
        .where(CannedResponse.tenant_id == uow.tenant_id)
        .order_by(CannedResponse.shortcut)
    )
    if prefix:
        like = prefix.strip().removeprefix("/").lower().replace("\\", "")
        query = query.where(CannedResponse.shortcut.startswith(like, autoescape=True))
    return list(await uow.session.scalars(query))


async def get_canned(uow: UnitOfWork, canned_id: uuid.UUID) -> CannedResponse:
    assert uow.tenant_id is not None
    found = await uow.session.get(CannedResponse, (uow.tenant_id, canned_id))
    if found is None:
        raise NotFound("That canned response does not exist.")
    return found


async def _taken(uow: UnitOfWork, shortcut: str, but: uuid.UUID | None = None) -> bool:
    assert uow.tenant_id is not None
    query = (
        select(CannedResponse.id)
        .where(CannedResponse.tenant_id == uow.tenant_id)
        .where(CannedResponse.shortcut == shortcut)
    )
    if but is not None:
        query = query.where(CannedResponse.id != but)
    return await uow.session.scalar(query) is not None


async def create_canned(
    uow: UnitOfWork, actor: Principal, *, shortcut: str, body: str
) -> CannedResponse:
    cleaned, text = clean_shortcut(shortcut), _clean_body(body)
    if await _taken(uow, cleaned):
        raise Conflict(f"/{cleaned} is taken already. Choose another shortcut.", field="shortcut")
    canned = CannedResponse(
        tenant_id=actor.tenant_id,
        id=uuid.uuid4(),
        shortcut=cleaned,
        body=text,
        created_by=actor.user_id,
        created_at=uow.now,
        updated_at=uow.now,
    )
    uow.session.add(canned)
    await uow.session.flush()
    return canned


async def update_canned(
    uow: UnitOfWork, canned_id: uuid.UUID, *, shortcut: str, body: str
) -> CannedResponse:
    canned = await get_canned(uow, canned_id)
    cleaned, text = clean_shortcut(shortcut), _clean_body(body)
    if await _taken(uow, cleaned, but=canned.id):
        raise Conflict(f"/{cleaned} is taken already. Choose another shortcut.", field="shortcut")
    canned.shortcut, canned.body, canned.updated_at = cleaned, text, uow.now
    await uow.session.flush()
    return canned


async def delete_canned(uow: UnitOfWork, actor: Principal, canned_id: uuid.UUID) -> None:
    """Anyone deletes their own; a teammate's needs `Permission.DELETE_SHARED_CANNED`."""
    canned = await get_canned(uow, canned_id)
    if canned.created_by != actor.user_id:
        actor.require(Permission.DELETE_SHARED_CANNED)
    await uow.session.delete(canned)
    await audit.record(
        uow,
        AuditAction.CANNED_RESPONSE_DELETED,
        actor_id=actor.user_id,
        target_kind="canned_response",
        target_id=canned.id,
        target_label=f"/{canned.shortcut}",
    )
    await uow.session.flush()
