"""JSON: who am I, and personal API tokens (listing and revoking)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from clientcompass.accounts import service
from clientcompass.accounts.emails import defer_email_change_mails
from clientcompass.accounts.schemas import (
    ApiTokenOut,
    EmailChangePending,
    EmailChangeRequest,
    Me,
)
from clientcompass.audit import service as audit
from clientcompass.auth import tokens
from clientcompass.web.auth import CurrentPrincipal, State

router = APIRouter(prefix="/api/v1", tags=["account"])


@router.get("/me", response_model=Me)
async def me(state: State, principal: CurrentPrincipal) -> Me:
    async with state.unit_of_work(principal.tenant_id) as uow:
        user = await service.get_user(uow, principal.user_id)
        tenant = await service.get_tenant(uow)
    return Me(
        id=user.id,
        tenant_id=user.tenant_id,
        name=user.name,
        email=user.email,
        role=user.role,
        business_name=tenant.name,
    )


@router.get("/api-tokens", response_model=list[ApiTokenOut])
async def list_api_tokens(
    state: State, principal: CurrentPrincipal, everyone: bool = False
) -> list[ApiTokenOut]:
    """The caller's live tokens; with `everyone=true`, an owner or admin sees the whole
    business's. The secret itself is never shown again after it is created."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        if everyone:
            held = await tokens.list_business_tokens(uow, principal)
            return [ApiTokenOut.of(h.api_token, h.holder.name) for h in held]
        return [
            ApiTokenOut.of(t, principal.name) for t in await tokens.list_api_tokens(uow, principal)
        ]


@router.delete("/api-tokens/{token_id}", status_code=204)
async def revoke_api_token(
    token_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> Response:
    """Revoke a token: your own, or (owners and admins) any of the business's. A revoked token
    is refused (401) from its next request on. Revoking one already revoked changes nothing."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        revoked = await tokens.revoke_api_token(uow, principal, token_id)
        await audit.record_token_revoked(uow, principal, revoked)
    return Response(status_code=204)


@router.post("/me/email-change", response_model=EmailChangePending, status_code=202)
async def request_email_change(
    data: EmailChangeRequest, state: State, principal: CurrentPrincipal
) -> EmailChangePending:
    """Ask to sign in with a new address (step-up: your current password). A link goes to the
    new address and a notice to the old one; nothing changes until the link is used."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        user = await service.get_user(uow, principal.user_id)
        link = await service.start_email_change(
            uow, user, password=data.password, new_email=str(data.new_email)
        )
        defer_email_change_mails(uow, link, state.settings.base_url)
        pending = await service.pending_email_change(uow, user)
    assert pending is not None
    return EmailChangePending(pending_email=pending.new_email, expires_at=pending.expires_at)
