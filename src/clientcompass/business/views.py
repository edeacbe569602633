"""Settings pages: the business profile, logo, banking details and business hours."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from clientcompass.accounts import service as accounts
from clientcompass.business import hours, service
from clientcompass.business.schemas import AccountType, BankingDetails, BusinessProfileIn
from clientcompass.errors import DomainError
from clientcompass.web.auth import CurrentManager, CurrentPrincipal, State
from clientcompass.web.forms import domain_error_fields, parse
from clientcompass.web.render import form_dict, redirect, render

router = APIRouter(include_in_schema=False)


async def _business_page(
    request: Request,
    state: State,
    principal: CurrentManager,
    *,
    values: dict[str, object] | None = None,
    errors: dict[str, str] | None = None,
    banking_errors: dict[str, str] | None = None,
    banking_values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        profile = await service.get_profile(uow, principal)
    current = service.profile_out(profile)
    banking = service.read_banking_details(profile, state.keyring)
    return render(
        request,
        "settings/business.html",
        {
            "section": "business",
            "values": values if values is not None else current.model_dump(mode="json"),
            "errors": errors or {},
            "banking": service.mask_banking_details(banking) if banking else None,
            "banking_values": banking_values or {},
            "banking_errors": banking_errors or {},
            "account_types": list(AccountType),
            "has_logo": current.has_logo,
            "welcome": request.query_params.get("welcome") == "1",
            "saved": request.query_params.get("saved", ""),
        },
        status,
    )


@router.get("/settings/business")
async def business_page(request: Request, state: State, principal: CurrentManager) -> Response:
    return await _business_page(request, state, principal)


@router.post("/settings/business")
async def save_business(request: Request, state: State, principal: CurrentManager) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    data, errors = parse(
        BusinessProfileIn,
        {**values, "default_vat_rate": values.get("default_vat_rate") or Decimal("15")},
    )
    logo = form.get("logo")
    content = None
    if isinstance(logo, UploadFile) and logo.filename:
        content = await logo.read(state.settings.max_logo_bytes + 1)
        try:  # checked now, so its error shows with every other field's
            service.logo_type(content, max_bytes=state.settings.max_logo_bytes)
        except DomainError as exc:
            errors = {**errors, **domain_error_fields(exc)}
    if data is not None and not errors:
        try:
            async with state.unit_of_work(principal.tenant_id) as uow:
                await service.update_profile(uow, principal, data)
                if content is not None:
                    await service.set_logo(
                        uow, principal, content, max_bytes=state.settings.max_logo_bytes
                    )
            return redirect("/settings/business?saved=profile")
        except DomainError as exc:
            errors = domain_error_fields(exc)
    return await _business_page(
        request, state, principal, values=dict(values), errors=errors, status=422
    )


@router.post("/settings/business/banking")
async def save_banking(request: Request, state: State, principal: CurrentManager) -> Response:
    values = await form_dict(request)
    password = values.pop("password", "")
    values.pop("csrf_token", None)
    details, errors = parse(BankingDetails, values)
    if details is not None:
        try:
            async with state.unit_of_work(principal.tenant_id) as uow:
                user = await accounts.get_user(uow, principal.user_id)
                await accounts.verify_current_password(user, password)
                await service.set_banking_details(uow, principal, state.keyring, details)
            return redirect("/settings/business?saved=banking#banking")
        except DomainError as exc:
            errors = {
                "password"
                if exc.field == "current_password"
                else (exc.field or "form"): exc.message
            }
    return await _business_page(
        request, state, principal, banking_errors=errors, banking_values=values, status=422
    )


@router.get("/settings/business/logo")
async def logo(state: State, principal: CurrentPrincipal) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        profile = await service.get_profile(uow, principal)
    if profile.logo is None:
        return Response(status_code=404)
    return Response(
        profile.logo,
        media_type=profile.logo_content_type,
        headers={"cache-control": "private, max-age=300"},
    )


async def _hours_page(
    request: Request,
    state: State,
    principal: CurrentManager,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        current = await hours.get_hours(uow)
        profile = await service.get_profile(uow, principal)
    if values is None:
        values = {}
        for day in hours.DAYS:
            periods = current.days.get(day, [])
            if periods:
                values |= {
                    f"{day}_open": "on",
                    f"{day}_start": periods[0][0].strftime("%H:%M"),
                    f"{day}_end": periods[0][1].strftime("%H:%M"),
                }
    today = datetime.now(UTC).date()
    upcoming = sorted(
        (day, name)
        for year in (today.year, today.year + 1)
        for day, name in hours.public_holidays(year).items()
        if day >= today
    )[:5]
    return render(
        request,
        "settings/business_hours.html",
        {
            "section": "business",
            "days": list(zip(hours.DAYS, hours.DAY_NAMES, strict=True)),
            "values": values,
            "errors": errors or {},
            "timezone": profile.timezone or hours.DEFAULT_TIMEZONE,
            "holidays": upcoming,
            "saved": request.query_params.get("saved") == "1",
        },
        status,
    )


@router.get("/settings/business/hours")
async def hours_page(request: Request, state: State, principal: CurrentManager) -> Response:
    return await _hours_page(request, state, principal)


@router.post("/settings/business/hours")
async def save_hours(request: Request, state: State, principal: CurrentManager) -> Response:
    values = await form_dict(request)
    weekly, errors = hours.parse_form(values)
    if weekly is None:
        return await _hours_page(
            request, state, principal, values=values, errors=errors, status=422
        )
    async with state.unit_of_work(principal.tenant_id) as uow:
        principal.require_manager()
        await hours.set_hours(uow, weekly)
    return redirect("/settings/business/hours?saved=1")
