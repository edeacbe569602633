"""JSON: who am I."""

from __future__ import annotations

from fastapi import APIRouter

from clientcompass.accounts import service
from clientcompass.accounts.schemas import Me
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
