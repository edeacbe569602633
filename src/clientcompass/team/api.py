"""JSON: members (roles, removal) and invitations."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, EmailStr

from clientcompass.accounts.step_up import confirm
from clientcompass.models import Role
from clientcompass.team import service
from clientcompass.web.auth import CurrentManager, CurrentPrincipal, State

router = APIRouter(prefix="/api/v1", tags=["team"])


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    email: str
    role: Role
    is_active: bool


class InvitationIn(BaseModel):
    email: EmailStr
    role: Role = Role.AGENT


class InvitationOut(BaseModel):
    id: uuid.UUID
    email: str
    role: Role
    expires_at: datetime
    url: str


class RoleIn(BaseModel):
    role: Role


@router.get("/members", response_model=list[MemberOut])
async def members(state: State, principal: CurrentPrincipal) -> list[MemberOut]:
    async with state.unit_of_work(principal.tenant_id) as uow:
        return [MemberOut.model_validate(m) for m in await service.list_members(uow, principal)]


@router.put("/members/{user_id}/role", response_model=MemberOut)
async def change_role(
    user_id: uuid.UUID, data: RoleIn, state: State, principal: CurrentManager
) -> MemberOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        return MemberOut.model_validate(
            await service.change_role(uow, principal, user_id, data.role)
        )


@router.delete("/members/{user_id}", status_code=204)
async def remove_member(
    user_id: uuid.UUID,
    state: State,
    principal: CurrentManager,
    confirmed: None = confirm("remove this member from the team"),
) -> Response:
    """Remove a member (owners and admins; only an owner removes an owner, never the last).
    Their sessions and API tokens are refused from their next request on. Step-up: a session
    confirmed in the last minutes (POST /api/v1/me/step-up), or X-Confirm-Password."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        member = await service.remove_member(uow, principal, user_id)
    await state.sessions.delete_all(member.tenant_id, member.id)
    return Response(status_code=204)


@router.post("/invitations", response_model=InvitationOut, status_code=201)
async def invite(data: InvitationIn, state: State, principal: CurrentManager) -> InvitationOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        issued = await service.invite(
            uow,
            principal,
            email=str(data.email),
            role=data.role,
            lifetime_seconds=state.settings.invitation_lifetime_seconds,
            base_url=state.settings.base_url,
        )
    invitation = issued.invitation
    return InvitationOut(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role,
        expires_at=invitation.expires_at,
        url=issued.url,
    )
