"""Sign-up, sign-in, sign-out, password reset and the personal account page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.accounts import devices, service
from clientcompass.accounts.emails import defer_email_change_mails, defer_email_changed_notice
from clientcompass.accounts.schemas import (
    EmailChangeRequest,
    Login,
    PasswordChange,
    ProfileUpdate,
    SignUp,
)
from clientcompass.accounts.step_up import confirm
from clientcompass.audit import service as audit
from clientcompass.auth import tokens
from clientcompass.auth.devices import device_label
from clientcompass.auth.passwords import check_password_strength
from clientcompass.auth.sessions import Device, device_handle
from clientcompass.errors import DomainError, InvalidInput, NotAuthenticated
from clientcompass.models import AuditAction, User
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
                await service.record_sign_in(uow, user)
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
            if isinstance(exc, NotAuthenticated):
                async with state.unit_of_work() as uow:
                    await service.record_failed_sign_in(uow, str(data.email))
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
    revoke = _checked(await form_dict(request), "revoke_api_tokens")
    async with state.unit_of_work(principal.tenant_id) as uow:
        revoked = (
            await tokens.revoke_all_tokens(uow, principal.tenant_id, principal.user_id)
            if revoke
            else 0
        )
        await audit.record(
            uow,
            AuditAction.SIGN_OUT_EVERYWHERE,
            actor_id=principal.user_id,
            details={"api_tokens_revoked": revoked},
        )
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
    email_values: dict[str, str] | None = None,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        api_tokens = await tokens.list_api_tokens(uow, principal)
        user = await service.get_user(uow, principal.user_id)
        pending = await service.pending_email_change(uow, user)
        zone = await audit.business_zone(uow)
    devices = await state.sessions.devices(principal.session) if principal.session else []
    return render(
        request,
        "settings/account.html",
        {
            "errors": errors,
            "flash": flash,
            "api_tokens": api_tokens,
            "section": "account",
            "devices": [_device_view(d, zone) for d in devices],
            "pending_email": pending.new_email if pending else "",
            "email_values": email_values or {},
        },
        status,
    )


def _when(timestamp: float, zone: ZoneInfo) -> tuple[str, str]:
    """(ISO 8601 for a <time datetime>, what a person reads) for a Unix time."""
    at = datetime.fromtimestamp(timestamp, UTC)
    return at.isoformat(), at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _device_view(device: Device, zone: ZoneInfo) -> dict[str, object]:
    return {
        "handle": device.handle,
        "label": device_label(device.user_agent),
        "ip": device.ip,
        "signed_in": _when(device.created_at, zone),
        "last_seen": _when(device.last_seen, zone),
        "current": device.current,
    }


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
        await audit.record_token_created(uow, user.id, issued.api_token)
    return await _account(request, state, principal, {}, {"new_token": issued.token}, 201)


@router.post("/settings/account/api-tokens/{token_id}/revoke")
async def revoke_api_token(
    token_id: uuid.UUID,
    state: State,
    principal: CurrentPrincipal,
    confirmed: None = confirm("revoke this API token"),
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        revoked = await tokens.revoke_api_token(uow, principal, token_id)
        await audit.record_token_revoked(uow, principal, revoked)
    return redirect("/settings/account?saved=token-revoked")


# -- devices: signing out one, or all but this one ------------------------------------------


@router.post("/settings/account/devices/sign-out-others")
async def sign_out_others(state: State, principal: CurrentPrincipal) -> Response:
    """Every other session of mine ends now; this one stays."""
    await devices.sign_out_others(state, principal)
    return redirect("/settings/account?saved=signed-out-others#devices")


@router.post("/settings/account/devices/sign-out")
async def sign_out_device(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    """Sign one of my devices out (this one too, which is the same as signing out)."""
    handle = (await form_dict(request)).get("device", "")[:64]
    session = devices.session_of(principal)
    if not await devices.sign_out_device(state, principal, handle):
        return redirect("/settings/account?saved=device-gone#devices")
    if handle == device_handle(session.sid):
        response = redirect("/login?signed_out=1")
        clear_session_cookie(response, state)
        return response
    return redirect("/settings/account?saved=device-signed-out#devices")


# -- changing the sign-in email ---------------------------------------------------------------


@router.post("/settings/account/email")
async def request_email_change(
    request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    values = await form_dict(request)
    data, errors = parse(EmailChangeRequest, values)
    status = 422
    if data is not None:
        try:
            async with state.unit_of_work(principal.tenant_id) as uow:
                user = await service.get_user(uow, principal.user_id)
                link = await service.start_email_change(
                    uow,
                    user,
                    password=data.password,
                    new_email=str(data.new_email),
                )
                defer_email_change_mails(uow, link, state.settings.base_url)
            return redirect("/settings/account?saved=email-sent#email")
        except DomainError as exc:
            errors = domain_error_fields(exc)
            status = exc.status_code
    values.pop("password", None)
    return await _account(request, state, principal, errors, {}, status, email_values=values)


@router.get("/verify-email")
async def verify_email_form(
    request: Request, state: State, principal: OptionalPrincipal
) -> Response:
    token = request.query_params.get("token", "")
    new_email = ""
    errors: dict[str, str] = {}
    try:
        async with state.unit_of_work() as uow:
            new_email = (await service.open_email_change(uow, token)).new_email
    except DomainError as exc:
        errors = domain_error_fields(exc)
    return render(
        request,
        "auth/verify_email.html",
        {"token": token, "new_email": new_email, "errors": errors, "done": False},
        410 if errors else 200,
    )


@router.post("/verify-email")
async def verify_email(request: Request, state: State, principal: OptionalPrincipal) -> Response:
    token = (await form_dict(request)).get("token", "")
    try:
        async with state.unit_of_work() as uow:
            user, old = await service.finish_email_change(uow, token)
            defer_email_changed_notice(uow, user, old)
    except DomainError as exc:
        return render(
            request,
            "auth/verify_email.html",
            {"token": "", "new_email": "", "errors": domain_error_fields(exc), "done": False},
            exc.status_code,
        )
    return render(
        request,
        "auth/verify_email.html",
        {"token": "", "new_email": user.email, "errors": {}, "done": True},
    )
