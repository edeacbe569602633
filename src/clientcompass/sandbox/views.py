"""The sandbox phone: a member plays a customer of their own business on WhatsApp.

Only mounted when the sandbox is on (never in production). The phone talks to the Twilio
stand-in's `/_control` surface the way a customer's WhatsApp would talk to Meta: what is
typed here becomes a signed inbound webhook to this app, and what the business sends
shows up here with its ticks as the stand-in plays delivery.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from clientcompass.business import service as business
from clientcompass.errors import DomainError, InvalidInput, NotFound
from clientcompass.flows import trials as flow_trials
from clientcompass.inbox.display import zone
from clientcompass.models import Channel
from clientcompass.models.base import utcnow
from clientcompass.phones import normalise_za_phone
from clientcompass.sandbox import phone
from clientcompass.sandbox import service as sandbox
from clientcompass.sandbox.control import SandboxUnavailable, StandinControl
from clientcompass.web.auth import CurrentManager, CurrentPrincipal, State
from clientcompass.web.render import redirect, render
from clientcompass.web.state import AppState

router = APIRouter(include_in_schema=False)

PHONE_COOKIE = "cc_sandbox_phone"
NAME_COOKIE = "cc_sandbox_name"
COOKIE_AGE = 365 * 24 * 3600
DEFAULT_NAME = "Sandbox customer"
MAX_NAME = 60
MAX_TEXT = 4096
MAX_IMAGE_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Customer:
    """Who the phone plays: a number kept per browser (cookie) so a chat survives reloads."""

    phone: str
    name: str
    changed: bool = False

    @property
    def address(self) -> str:
        return f"whatsapp:{self.phone}"


@dataclass(frozen=True)
class Business:
    channel: Channel
    name: str
    timezone: str


def control_for(state: AppState) -> StandinControl:
    """The stand-in the app's Twilio client talks to; its control surface sits beside it."""
    return StandinControl(state.twilio.http, state.twilio.api_base_url)


def _valid_phone(value: str) -> str:
    try:
        return normalise_za_phone(value)
    except ValueError:
        return ""


def _customer(request: Request) -> Customer:
    phone_number = _valid_phone(request.cookies.get(PHONE_COOKIE, ""))
    name = request.cookies.get(NAME_COOKIE, "").strip()[:MAX_NAME]
    if not phone_number:
        return Customer(sandbox.random_mobile("83"), name or DEFAULT_NAME, changed=True)
    return Customer(phone_number, name or DEFAULT_NAME)


def _remember(response: Response, customer: Customer, state: AppState) -> Response:
    if customer.changed:
        for key, value in ((PHONE_COOKIE, customer.phone), (NAME_COOKIE, customer.name)):
            response.set_cookie(
                key,
                value,
                max_age=COOKIE_AGE,
                httponly=True,
                samesite="lax",
                secure=state.settings.cookies_secure,
                path="/sandbox",
            )
    return response


async def _business(state: AppState, principal: CurrentPrincipal) -> Business | None:
    async with state.unit_of_work(principal.tenant_id) as uow:
        channel = await sandbox.find_sandbox_channel(uow, principal)
        if channel is None:
            return None
        profile = await business.get_profile(uow, principal)
    return Business(channel, profile.trading_name, profile.timezone)


async def _thread(state: AppState, found: Business, customer: Customer) -> phone.Thread:
    return await phone.load_thread(
        control_for(state),
        sender=found.channel.whatsapp_from,
        customer=customer.address,
        tz=zone(found.timezone),
        now=utcnow(),
    )


async def _page(
    request: Request,
    state: AppState,
    principal: CurrentPrincipal,
    customer: Customer,
    *,
    errors: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    found = await _business(state, principal)
    thread = None
    if found is not None:
        try:
            thread = await _thread(state, found, customer)
        except SandboxUnavailable as exc:
            error, status = error or exc.message, max(status, exc.status_code)
    response = render(
        request,
        "sandbox/page.html",
        {
            "business": found,
            "customer": customer,
            "thread": thread,
            "error": error,
            "errors": errors or {},
            "can_connect": principal.role.manages_business,
            "trial": request.query_params.get("trial") == "1",
        },
        status,
    )
    return _remember(response, customer, state)


@router.get("/sandbox")
async def sandbox_page(
    request: Request,
    state: State,
    principal: CurrentPrincipal,
    phone_number: str | None = None,
    name: str | None = None,
) -> Response:
    """The phone. `?phone_number=…&name=…` switches the customer this browser plays."""
    customer = _customer(request)
    if phone_number is None and name is None:
        return await _page(request, state, principal, customer)
    errors: dict[str, str] = {}
    if phone_number is not None:
        try:
            number = normalise_za_phone(phone_number)
        except ValueError as exc:
            number, errors["phone_number"] = "", str(exc)
        if number:
            customer = replace(customer, phone=number, changed=True)
        elif not errors:
            errors["phone_number"] = "Enter the customer's number, e.g. 083 123 4567."
    if name is not None:
        customer = replace(customer, name=name.strip()[:MAX_NAME] or DEFAULT_NAME, changed=True)
    if errors:
        return await _page(request, state, principal, customer, errors=errors, status=422)
    return _remember(redirect("/sandbox"), customer, state)


@router.get("/sandbox/thread")
async def sandbox_thread(
    request: Request, state: State, principal: CurrentPrincipal, v: str = ""
) -> Response:
    """The chat alone, for the phone's polling; 204 when nothing changed since version `v`."""
    found = await _business(state, principal)
    if found is None:
        return Response(status_code=204)
    customer = _customer(request)
    try:
        thread = await _thread(state, found, customer)
    except SandboxUnavailable as exc:
        return _partial(request, None, exc.message, exc.status_code)
    if v and v == thread.version:
        return Response(status_code=204)
    return _partial(request, thread, "", 200)


def _partial(request: Request, thread: phone.Thread | None, error: str, status: int) -> Response:
    return render(request, "sandbox/_thread.html", {"thread": thread, "error": error}, status)


async def _image(upload: Any) -> dict[str, str] | None:
    """The attached photo as the stand-in's inbound `media` entry; None if nothing attached."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    if not content_type.startswith("image/") or "svg" in content_type:
        raise InvalidInput("Attach a photo (JPEG, PNG or WebP).", field="image")
    data = await upload.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInput("That photo is larger than 5 MB.", field="image")
    if not data:
        raise InvalidInput("That photo is empty.", field="image")
    return {
        "content_type": content_type,
        "data_base64": base64.b64encode(data).decode("ascii"),
        "filename": upload.filename,
    }


async def _deliver(state: AppState, found: Business, payload: dict[str, Any]) -> None:
    """Hand the customer's message to the stand-in, which POSTs the signed webhook here."""
    result = await control_for(state).customer_sends({"to": found.channel.whatsapp_from, **payload})
    code = result.get("status_code")
    if code is None:
        raise SandboxUnavailable(
            "The sandbox could not reach this app's WhatsApp webhook "
            f"({result.get('error') or 'no answer'}). Check PUBLIC_BASE_URL."
        )
    if int(code) >= 400:
        raise SandboxUnavailable(
            f"This app's WhatsApp webhook answered {code}, so the business did not get the "
            "message. Check that PUBLIC_BASE_URL is the address the app is reached on."
        )


async def _customer_says(
    request: Request, state: AppState, principal: CurrentPrincipal, payload: dict[str, Any]
) -> Response:
    """Send as the customer, then show the chat (htmx) or the page (plain form post)."""
    customer = _customer(request)
    found = await _business(state, principal)
    if found is None:
        raise NotFound("This business has no sandbox number yet. Connect the sandbox first.")
    error, status = "", 200
    try:
        await _deliver(
            state,
            found,
            {"from": customer.address, "profile_name": customer.name, **payload},
        )
    except DomainError as exc:
        error, status = exc.message, exc.status_code
    if not request.headers.get("hx-request"):
        if error:
            return await _page(request, state, principal, customer, error=error, status=status)
        return _remember(redirect("/sandbox"), customer, state)
    try:
        thread = await _thread(state, found, customer)
    except SandboxUnavailable as exc:
        thread, error, status = None, error or exc.message, max(status, exc.status_code)
    return _remember(_partial(request, thread, error, status), customer, state)


@router.post("/sandbox/send")
async def customer_sends(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    form = await request.form()
    body = form.get("body")
    text = body.strip() if isinstance(body, str) else ""
    payload: dict[str, Any] = {"body": text[:MAX_TEXT]}
    try:
        image = await _image(form.get("image"))
        if image is None and not text:
            raise InvalidInput("Type a message or attach a photo.", field="body")
    except InvalidInput as exc:
        return await _invalid(request, state, principal, exc)
    if image is not None:
        payload["media"] = [image]
    return await _customer_says(request, state, principal, payload)


@router.post("/sandbox/tap")
async def customer_taps(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    """A quick-reply button: WhatsApp sends its title as the text, and its id as payload."""
    form = await request.form()
    title, payload = form.get("title"), form.get("payload")
    if not isinstance(title, str) or not title or not isinstance(payload, str):
        return await _invalid(
            request, state, principal, InvalidInput("That button has nothing to send.")
        )
    if form.get("list") == "1":  # a list-picker item: WhatsApp sends ListId and ListTitle
        chosen = {"body": title, "list_id": payload, "list_title": title}
    else:
        chosen = {"body": title, "button_text": title, "button_payload": payload}
    return await _customer_says(request, state, principal, chosen)


async def _invalid(
    request: Request, state: AppState, principal: CurrentPrincipal, exc: InvalidInput
) -> Response:
    customer = _customer(request)
    if not request.headers.get("hx-request"):
        return await _page(
            request, state, principal, customer, error=exc.message, status=exc.status_code
        )
    found = await _business(state, principal)
    thread = None
    if found is not None:
        try:
            thread = await _thread(state, found, customer)
        except SandboxUnavailable:
            thread = None
    return _partial(request, thread, exc.message, exc.status_code)


@router.post("/sandbox/try-flow/{flow_id:uuid}")
async def try_flow(
    flow_id: uuid.UUID, request: Request, state: State, principal: CurrentManager
) -> Response:
    """The flow builder's "Try it on the sandbox phone": the next message this phone sends
    runs the flow's draft as it is now (flows/trials.py `arm_trial`)."""
    customer = _customer(request)
    async with state.unit_of_work(principal.tenant_id) as uow:
        if await sandbox.find_sandbox_channel(uow, principal) is None:
            raise InvalidInput(
                "Connect the sandbox first (Settings → WhatsApp), then try the flow.",
                field="flow_id",
            )
        await flow_trials.arm_trial(uow, principal.user_id, flow_id, customer.phone)
    return _remember(redirect("/sandbox?trial=1"), customer, state)


@router.post("/sandbox/connect")
async def connect(state: State, principal: CurrentManager) -> Response:
    """Settings → WhatsApp → "Connect the sandbox": idempotent, lands on the phone."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        await sandbox.connect_sandbox(
            uow,
            principal,
            state.keyring,
            state.twilio,
            control_for(state),
            base_url=state.settings.base_url,
        )
    return redirect("/sandbox")


@router.get("/sandbox/media/{token}")
async def media(token: str, state: State, principal: CurrentPrincipal) -> Response:
    """A photo in the chat, through this app so the page's CSP (`img-src 'self'`) holds
    whichever host the stand-in runs on. Only images are shown inline."""
    if await _business(state, principal) is None:
        raise NotFound("This business has no sandbox number.")
    fetched = await control_for(state).cdn(token)
    if fetched is None:
        raise NotFound("That file is not in the sandbox any more.")
    shown = phone.PhoneMedia(token, fetched.content_type, "")
    return Response(
        fetched.content,
        media_type=fetched.content_type if shown.is_image else "application/octet-stream",
        headers={
            "content-disposition": "inline" if shown.is_image else "attachment",
            "cache-control": "private, max-age=3600",
            "x-content-type-options": "nosniff",
        },
    )
