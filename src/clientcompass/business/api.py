"""JSON: the business profile and banking details."""

from __future__ import annotations

from fastapi import APIRouter, Response

from clientcompass.accounts import service as accounts
from clientcompass.business import service
from clientcompass.business.schemas import (
    BankingDetails,
    BankingDetailsIn,
    BankingDetailsMasked,
    BusinessProfileIn,
    BusinessProfileOut,
)
from clientcompass.errors import NotFound
from clientcompass.web.auth import CurrentManager, CurrentPrincipal, State

router = APIRouter(prefix="/api/v1/business", tags=["business"])


@router.get("/profile", response_model=BusinessProfileOut)
async def get_profile(state: State, principal: CurrentPrincipal) -> BusinessProfileOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        return service.profile_out(await service.get_profile(uow, principal))


@router.put("/profile", response_model=BusinessProfileOut)
async def update_profile(
    data: BusinessProfileIn, state: State, principal: CurrentManager
) -> BusinessProfileOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        return service.profile_out(await service.update_profile(uow, principal, data))


@router.get("/banking-details", response_model=BankingDetailsMasked)
async def get_banking_details(state: State, principal: CurrentManager) -> BankingDetailsMasked:
    async with state.unit_of_work(principal.tenant_id) as uow:
        profile = await service.get_profile(uow, principal)
    details = service.read_banking_details(profile, state.keyring)
    if details is None:
        raise NotFound("No banking details have been saved yet.")
    return service.mask_banking_details(details)


@router.put("/banking-details", status_code=204)
async def set_banking_details(
    data: BankingDetailsIn, state: State, principal: CurrentManager
) -> Response:
    """Step-up: the body carries the caller's password, checked before anything changes."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        user = await accounts.get_user(uow, principal.user_id)
        await accounts.verify_current_password(user, data.password)
        details = BankingDetails.model_validate(data.model_dump(exclude={"password"}))
        await service.set_banking_details(uow, principal, state.keyring, details)
    return Response(status_code=204)
