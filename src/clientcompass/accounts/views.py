"""Sign-up, sign-in, sign-out, password reset and the personal account page."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.accounts import service
from clientcompass.accounts.schemas import Login, PasswordChange, ProfileUpdate, SignUp
from clientcompass.auth import tokens
from clientcompass.auth.passwords import check_password_strength
from clientcompass.errors import DomainError, InvalidInput
from clientcompass.models import User
from clientcompass.web.auth import (
    CurrentPrincipal,
    OptionalPrincipal,
    State,
    clear_session_cookie,
    client_ip,
    set_session_cookie,
)
from clientcompass.web.forms import domain_error_fields, parse
from clientcompass.web.render import form_dict, redirect, render, safe_next

router = APIRouter(include_in_schema=False)


async def _start_session(request: Request, state: State, user: User, next_url: str) -> Response:
    session = await state.sessions.create(
        user.tenant_id,
        user.id,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
    )
    response = redirect(next_url)
    set_session_cookie(response, state, state.sessions.issue_jwt(session))
    return response


@router.get("/signup")
async def signup_form(request: Request, principal: OptionalPrincipal) -> Response:
    if principal is not None:
        return redirect("/inbox")
    return render(request, "auth/signup.html", {"values": {}, "errors": {}})


@router.post("/signup")
async def signup(request: Request, state: State, principal: OptionalPrincipal) -> Response:
    values = await form_dict(request)
    data, errors = parse(SignUp, values)
    status = 422
    if data is not None:
        try:
            async with state.unit_of_work() as uow:
                user = await service.sign_up(
                    uow,
                    business_name=data.business_name,
                    owner_name=data.owner_name,
                    email=str(data.email),
                    password=data.password,
                )
            return await _start_session(request, state, user, "/settings/business?welcome=1")
        except DomainError as exc:
            errors = domain_error_fields(exc)
            status = exc.status_code
    values.pop("password", None)
    return render(request, "auth/signup.html", {"values": values, "errors": errors}, status)


@router.get("/login")
async def login_form(request: Request, principal: OptionalPrincipal) -> Response:
    if principal is not None:
        return redirect(safe_next(request.query_params.get("next")))
    return render(
        request,
        "auth/login.html",
        {"values": {}, "errors": {}, "next": request.query_params.get("next", "")},
    )


@router.post("/login")
async def login(request: Request, state: State, principal: OptionalPrincipal) -> Response:
    values = await form_dict(request)
    next_url = safe_next(values.get("next"))
    data, errors = parse(Login, values)
    status = 422
    if data is not None:
        try:
            async with state.unit_of_work() as uow:
                user = await service.authenticate(
                    uow,
                    state.throttle,
                    email=str(data.email),
                    password=data.password,
                    ip=client_ip(request),
                )
            return await _start_session(request, state, user, next_url)
        except DomainError as exc:
            errors = domain_error_fields(exc)
            status = exc.status_code
    values.pop("password", None)
    return render(
        request, "auth/login.html", {"values": values, "errors": errors, "next": next_url}, status
    )


@router.post("/logout")
async def logout(state: State, principal: CurrentPrincipal) -> Response:
    if principal.session is not None:
        await state.sessions.delete(principal.session)
    response = redirect("/login?signed_out=1")
    clear_session_cookie(response, state)
    return response


def _checked(values: dict[str, str], name: str) -> bool:
    """An HTML checkbox: sent (as "on", or its value) only when ticked."""
    return values.get(name, "") not in ("", "off", "false", "0")


@router.post("/logout-everywhere")
async def logout_everywhere(
    request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    if _checked(await form_dict(request), "revoke_api_tokens"):
        async with state.unit_of_work(principal.tenant_id) as uow:
            await tokens.revoke_all_tokens(uow, principal.tenant_id, principal.user_id)
    await state.sessions.delete_all(principal.tenant_id, principal.user_id)
    response = redirect("/login?signed_out=all")
    clear_session_cookie(response, state)
    return response


@router.get("/forgot-password")
async def forgot_form(request: Request, principal: OptionalPrincipal) -> Response:
    return render(request, "auth/forgot.html", {"sent": False, "errors": {}, "values": {}})


@router.post("/forgot-password")
async def forgot(request: Request, state: State, principal: OptionalPrincipal) -> Response:
    values = await form_dict(request)
    email = values.get("email", "").strip()
    if "@" not in email:
        return render(
            request,
            "auth/forgot.html",
            {
                "sent": False,
                "errors": {"email": "Enter the email address you sign in with."},
                "values": values,
            },
            422,
        )
    async with state.unit_of_work() as uow:
        link = await service.start_password_reset(
            uow, email, lifetime_seconds=state.settings.password_reset_lifetime_seconds
        )
        if link is not None:
            url = f"{state.settings.base_url}/reset-password?token={link.token}"
            uow.defer_job(
                "send_email",
                to=link.user.email,
                subject="Reset your Client Compass password",
                body=(
                    f"Hi {link.user.name},\n\nUse this link within an hour to choose a new password:\n"
                    f"{url}\n\nIf you did not ask for this, ignore this email."
                ),
            )
    # Same answer whether or not the email has an account: no account enumeration.
    return render(request, "auth/forgot.html", {"sent": True, "errors": {}, "values": {}})


async def _reset_page(
    request: Request, state: State, token: str, errors: dict[str, str], status: int = 200
) -> Response:
    async with state.unit_of_work() as uow:
        api_tokens = await service.api_tokens_at_reset(uow, token)
    return render(
        request,
        "auth/reset.html",
        {"token": token, "errors": errors, "api_tokens": api_tokens},
        status,
    )


@router.get("/reset-password")
async def reset_form(request: Request, state: State, principal: OptionalPrincipal) -> Response:
    return await _reset_page(request, state, request.query_params.get("token", ""), {})


@router.post("/reset-password")
async def reset(request: Request, state: State, principal: OptionalPrincipal) -> Response:
    values = await form_dict(request)
    token = values.get("token", "")
    try:
        if values.get("password") != values.get("password_confirm"):
            raise InvalidInput("The two passwords do not match.", field="password_confirm")
        check_password_strength(values.get("password", ""))
        async with state.unit_of_work() as uow:
            user = await service.finish_password_reset(
                uow,
                token,
                values["password"],
                revoke_api_tokens=_checked(values, "revoke_api_tokens"),
            )
        await state.sessions.delete_all(user.tenant_id, user.id)
        # The lockout message offers a reset as the way back in; make that true.
        await state.throttle.clear_account(user.email)
    except DomainError as exc:
        return await _reset_page(request, state, token, domain_error_fields(exc), exc.status_code)
    return redirect("/login?reset=1")


@router.get("/settings/account")
async def account_page(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    return await _account(request, state, principal, {}, {}, 200)


async def _account(
    request: Request,
    state: State,
    principal: CurrentPrincipal,
    errors: dict[str, str],
    flash: dict[str, str],
    status: int,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        api_tokens = await tokens.list_api_tokens(uow, principal)
    return render(
        request,
        "settings/account.html",
        {"errors": errors, "flash": flash, "api_tokens": api_tokens, "section": "account"},
        status,
    )


@router.post("/settings/account/profile")
async def update_profile(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    data, errors = parse(ProfileUpdate, await form_dict(request))
    if data is None:
        return await _account(request, state, principal, errors, {}, 422)
    async with state.unit_of_work(principal.tenant_id) as uow:
        user = await service.get_user(uow, principal.user_id)
        await service.update_profile(uow, user, name=data.name)
    return redirect("/settings/account?saved=profile")


@router.post("/settings/account/password")
async def change_password(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    data, errors = parse(PasswordChange, await form_dict(request))
    if data is not None:
        try:
            async with state.unit_of_work(principal.tenant_id) as uow:
                user = await service.get_user(uow, principal.user_id)
                await service.change_password(
                    uow, user, current=data.current_password, new=data.new_password
                )
            if principal.session is not None:
                await state.sessions.delete_others(principal.session)
            return redirect("/settings/account?saved=password")
        except DomainError as exc:
            errors = domain_error_fields(exc)
    return await _account(request, state, principal, errors, {}, 422)


@router.post("/settings/account/api-tokens")
async def create_api_token(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    values = await form_dict(request)
    async with state.unit_of_work(principal.tenant_id) as uow:
        user = await service.get_user(uow, principal.user_id)
        issued = await tokens.create_api_token(uow, user, name=values.get("name", "")[:100])
    return await _account(request, state, principal, {}, {"new_token": issued.token}, 201)


@router.post("/settings/account/api-tokens/{token_id}/revoke")
async def revoke_api_token(
    token_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await tokens.revoke_api_token(uow, principal, token_id)
    return redirect("/settings/account?saved=token-revoked")
