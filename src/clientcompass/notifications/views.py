"""The notifications settings page: this device, all my devices, and what to notify me about.

Turning push on happens in the browser (static/notifications.js asks for permission,
subscribes, and posts the subscription to `POST /api/v1/push-subscriptions` with the
session's CSRF header); the page itself only lists, removes and saves, as plain forms that
work without script.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from clientcompass.business import service as business
from clientcompass.errors import NotFound
from clientcompass.notifications import preferences, push, subscriptions
from clientcompass.notifications.kinds import CHANNELS, LABELS, Channel, Kind
from clientcompass.notifications.schemas import DeviceOut, NotificationPreferences
from clientcompass.web.auth import CurrentPrincipal, State
from clientcompass.web.forms import clean_value, field_errors
from clientcompass.web.render import HOME_TIME_ZONE, form_dict, redirect, render

router = APIRouter(include_in_schema=False)

PAGE = "/settings/notifications"
BOTH_ENDS = "Set both a start and an end, or clear both for no quiet hours."


def _ticked(values: dict[str, str], name: str) -> bool:
    """An HTML checkbox: sent only when ticked."""
    return values.get(name, "") not in ("", "off", "false", "0")


def choices_from_form(
    values: dict[str, str],
) -> tuple[NotificationPreferences | None, dict[str, str]]:
    """The form's checkboxes and times as the API's object, or errors by field name.

    Every kind-and-channel checkbox is on the page, so one left out means "off"."""
    start, end = values.get("quiet_start", "").strip(), values.get("quiet_end", "").strip()
    errors: dict[str, str] = {}
    if bool(start) != bool(end):
        errors["quiet_end" if start else "quiet_start"] = BOTH_ENDS
    data: dict[str, Any] = {
        "channels": {
            kind.value: {
                channel.value: _ticked(values, f"{kind.value}.{channel.value}")
                for channel in CHANNELS[kind]
            }
            for kind in Kind
        },
        "quiet_hours": {"start": start, "end": end} if start and end else None,
        "hide_content": _ticked(values, "hide_content"),
    }
    try:
        parsed = NotificationPreferences.model_validate(clean_value(data))
    except ValidationError as exc:
        for field, message in field_errors(exc).items():
            # quiet_hours.start → the form's quiet_start; an equal start and end → the end.
            name = {
                "quiet_hours.start": "quiet_start",
                "quiet_hours.end": "quiet_end",
                "quiet_hours": "quiet_end",
            }.get(field, field)
            errors.setdefault(name, message)
        return None, errors
    return (None, errors) if errors else (parsed, {})


def _form_values(choices: NotificationPreferences) -> dict[str, str]:
    """The stored choices in the form's own names, to fill it in."""
    values: dict[str, str] = {}
    for kind in Kind:
        given = getattr(choices.channels, kind.value)
        for channel in CHANNELS[kind]:
            if given is not None and getattr(given, channel.value):
                values[f"{kind.value}.{channel.value}"] = "on"
    if choices.quiet_hours is not None:
        values["quiet_start"] = choices.quiet_hours.start.strftime("%H:%M")
        values["quiet_end"] = choices.quiet_hours.end.strftime("%H:%M")
    if choices.hide_content:
        values["hide_content"] = "on"
    return values


async def _page(
    request: Request,
    state: State,
    principal: CurrentPrincipal,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        devices = [
            DeviceOut.of(row) for row in await subscriptions.list_for(uow, principal.user_id)
        ]
        stored = NotificationPreferences.of(await preferences.load(uow, principal.user_id))
        try:
            time_zone = (await business.profile_of(uow, principal.tenant_id)).timezone
        except NotFound:
            time_zone = HOME_TIME_ZONE
    return render(
        request,
        "settings/notifications.html",
        {
            "section": "notifications",
            "devices": devices,
            "kinds": [(kind, LABELS[kind], CHANNELS[kind]) for kind in Kind],
            "channels": list(Channel),
            "values": _form_values(stored) if values is None else values,
            "errors": errors or {},
            "time_zone": time_zone,
            "vapid_public_key": push.vapid_public_key(state.settings),
        },
        status,
    )


@router.get(PAGE)
async def notifications_page(
    request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    return await _page(request, state, principal)


@router.post(PAGE)
async def save_preferences(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    values = await form_dict(request)
    choices, errors = choices_from_form(values)
    if choices is None:
        return await _page(request, state, principal, values=values, errors=errors, status=422)
    async with state.unit_of_work(principal.tenant_id) as uow:
        await preferences.save(uow, principal.user_id, choices.to_preferences())
    return redirect(f"{PAGE}?saved=preferences")


@router.post(PAGE + "/devices/{subscription_id:uuid}/remove")
async def remove_device(
    subscription_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> Response:
    """One of my devices stops getting push; anyone else's is "not found"."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        await subscriptions.unsubscribe(uow, principal.user_id, subscription_id)
    return redirect(f"{PAGE}?saved=device-removed")
