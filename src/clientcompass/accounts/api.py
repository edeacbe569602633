"""JSON: who am I, personal API tokens (listing and revoking), and the step-up."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from clientcompass.accounts import devices, service
from clientcompass.accounts.emails import defer_email_change_mails
from clientcompass.accounts.schemas import (
    ApiTokenOut,
    DeviceOut,
    DeviceSignOut,
    EmailChangePending,
    EmailChangeRequest,
    Me,
    SignedOut,
)
from clientcompass.accounts.step_up import StepUpIn, StepUpOut, confirm, step_up_session
from clientcompass.audit import service as audit
from clientcompass.auth import tokens
from clientcompass.auth.devices import device_label
from clientcompass.errors import NotFound
from clientcompass.web.auth import CurrentPrincipal, State
from clientcompass.web.errors import ErrorOut

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
    token_id: uuid.UUID,
    state: State,
    principal: CurrentPrincipal,
    confirmed: None = confirm("revoke this API token"),
) -> Response:
    """Revoke a token: your own, or (owners and admins) any of the business's. A revoked token
    is refused (401) from its next request on. Revoking one already revoked changes nothing.
    Step-up: a session confirmed in the last minutes, or X-Confirm-Password."""
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


@router.get("/me/devices", response_model=list[DeviceOut])
async def list_devices(state: State, principal: CurrentPrincipal) -> list[DeviceOut]:
    """My signed-in browsers, this one first (a browser session only: a token has none)."""
    found = await state.sessions.devices(devices.session_of(principal))
    return [
        DeviceOut(
            device=d.handle,
            label=device_label(d.user_agent),
            ip=d.ip,
            signed_in_at=datetime.fromtimestamp(d.created_at, UTC),
            last_used_at=datetime.fromtimestamp(d.last_seen, UTC),
            current=d.current,
        )
        for d in found
    ]


@router.post("/me/step-up", response_model=StepUpOut)
async def step_up(
    data: StepUpIn, request: Request, state: State, principal: CurrentPrincipal
) -> StepUpOut:
    """Confirm your password for this browser session: destructive requests (DELETE, erase,
    close) pass without asking again for a few minutes. An API token sends
    X-Confirm-Password with each such request instead. A wrong password: 403 step_up_failed."""
    return await step_up_session(request, state, principal, data.password)


@router.post("/me/devices/sign-out-others", response_model=SignedOut)
async def sign_out_others(state: State, principal: CurrentPrincipal) -> SignedOut:
    """Sign out every browser of mine but this one."""
    return SignedOut(signed_out=await devices.sign_out_others(state, principal))


@router.post("/me/devices/sign-out", status_code=204, responses={404: {"model": ErrorOut}})
async def sign_out_device(
    data: DeviceSignOut, state: State, principal: CurrentPrincipal
) -> Response:
    """Sign one browser of mine out (by its `device` from the list)."""
    if not await devices.sign_out_device(state, principal, data.device):
        raise NotFound("No device of yours has that id; it may be signed out already.")
    return Response(status_code=204)
