"""Settings → Team: members, roles, removal, the business's API tokens and one-time invitation
links; accepting an invitation."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, EmailStr, Field

from clientcompass.accounts.service import record_sign_in
from clientcompass.accounts.step_up import confirm
from clientcompass.audit import service as audit
from clientcompass.auth import tokens
from clientcompass.auth.permissions import GRANTS
from clientcompass.errors import DomainError, Gone
from clientcompass.models import Role
from clientcompass.team import service
from clientcompass.web.auth import (
    CurrentManager,
    OptionalPrincipal,
    State,
    client_ip,
    set_session_cookie,
)
from clientcompass.web.forms import domain_error_fields, parse
from clientcompass.web.render import form_dict, redirect, render

router = APIRouter(include_in_schema=False)


class InviteForm(BaseModel):
    email: EmailStr
    role: Role


class AcceptForm(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=10, max_length=1024)


async def _team_page(
    request: Request,
    state: State,
    principal: CurrentManager,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    new_link: str = "",
    status: int = 200,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        members = await service.list_members(uow, principal)
        invitations = await service.list_pending_invitations(uow, principal)
        api_tokens = await tokens.list_business_tokens(uow, principal)
    return render(
        request,
        "settings/team.html",
        {
            "section": "team",
            "members": members,
            "invitations": invitations,
            "api_tokens": api_tokens,
            "roles": list(Role),
            "grants": list(GRANTS.items()),
            "errors": errors or {},
            "values": values or {},
            "new_link": new_link,
            # Only a configured mail server sends; without one the link is the only way.
            "emailed": bool(state.settings.smtp_host),
        },
        status,
    )


@router.get("/settings/team")
async def team_page(request: Request, state: State, principal: CurrentManager) -> Response:
    return await _team_page(request, state, principal)


@router.post("/settings/team/invite")
async def invite(request: Request, state: State, principal: CurrentManager) -> Response:
    values = await form_dict(request)
    data, errors = parse(InviteForm, values)
    status = 422
    if data is not None:
        try:
            async with state.unit_of_work(principal.tenant_id) as uow:
                issued = await service.invite(
                    uow,
                    principal,
                    email=str(data.email),
                    role=data.role,
                    lifetime_seconds=state.settings.invitation_lifetime_seconds,
                    base_url=state.settings.base_url,
                )
            return await _team_page(request, state, principal, new_link=issued.url, status=201)
        except DomainError as exc:
            errors = domain_error_fields(exc)
            status = exc.status_code
    return await _team_page(request, state, principal, errors=errors, values=values, status=status)


@router.post("/settings/team/members/{user_id}/role")
async def change_role(
    user_id: uuid.UUID, request: Request, state: State, principal: CurrentManager
) -> Response:
    values = await form_dict(request)
    try:
        role = Role(values.get("role", ""))
    except ValueError:
        return await _team_page(
            request, state, principal, errors={"role": "Choose owner, admin or agent."}, status=422
        )
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            await service.change_role(uow, principal, user_id, role)
    except DomainError as exc:
        return await _team_page(
            request, state, principal, errors={"members": exc.message}, status=exc.status_code
        )
    return redirect("/settings/team?done=role")


@router.post("/settings/team/members/{user_id}/remove")
async def remove_member(
    user_id: uuid.UUID,
    request: Request,
    state: State,
    principal: CurrentManager,
    confirmed: None = confirm("remove this member from the team"),
) -> Response:
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            member = await service.remove_member(uow, principal, user_id)
    except DomainError as exc:
        return await _team_page(
            request, state, principal, errors={"members": exc.message}, status=exc.status_code
        )
    await state.sessions.delete_all(member.tenant_id, member.id)
    return redirect("/settings/team?done=removed")


@router.post("/settings/team/api-tokens/{token_id}/revoke")
async def revoke_api_token(
    token_id: uuid.UUID,
    state: State,
    principal: CurrentManager,
    confirmed: None = confirm("revoke this API token"),
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await audit.record_token_revoked(
            uow, principal, await tokens.revoke_api_token(uow, principal, token_id)
        )
    return redirect("/settings/team?done=token-revoked#api-tokens")


@router.post("/settings/team/invitations/{invitation_id}/revoke")
async def revoke(
    invitation_id: uuid.UUID,
    state: State,
    principal: CurrentManager,
    confirmed: None = confirm("revoke this invitation"),
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.revoke_invitation(uow, principal, invitation_id)
    return redirect("/settings/team")


@router.get("/invite")
async def accept_form(request: Request, state: State, principal: OptionalPrincipal) -> Response:
    token = request.query_params.get("token", "")
    try:
        async with state.unit_of_work() as uow:
            invitation = await service.invitation_view(uow, token)
    except DomainError as exc:
        return render(
            request,
            "error.html",
            {"message": exc.message, "status": exc.status_code},
            exc.status_code,
        )
    return render(
        request,
        "auth/accept_invite.html",
        {
            "token": token,
            "invitation": invitation,
            "email": invitation.email,
            "errors": {},
            "values": {},
        },
    )


@router.post("/invite")
async def accept(request: Request, state: State, principal: OptionalPrincipal) -> Response:
    values = await form_dict(request)
    token = values.get("token", "")
    data, errors = parse(AcceptForm, values)
    if data is not None:
        try:
            async with state.unit_of_work() as uow:
                user = await service.accept_invitation(
                    uow, token, name=data.name, password=data.password
                )
                await record_sign_in(uow, user)
            session = await state.sessions.create(
                user.tenant_id,
                user.id,
                ip=client_ip(request),
                user_agent=request.headers.get("user-agent", ""),
            )
            response = redirect("/inbox")
            set_session_cookie(response, state, state.sessions.issue_jwt(session))
            return response
        except Gone as exc:
            return render(
                request,
                "error.html",
                {"message": exc.message, "status": exc.status_code},
                exc.status_code,
            )
        except DomainError as exc:
            errors = domain_error_fields(exc)
    values.pop("password", None)
    return render(
        request,
        "auth/accept_invite.html",
        {"token": token, "email": values.get("email", ""), "errors": errors, "values": values},
        422,
    )
