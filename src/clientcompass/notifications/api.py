"""JSON: a person's devices with push on, and what they want to hear about.

Everything here is the caller's own: there is no route to another person's devices or
choices, even for an owner, and another business's device id is simply not found.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from clientcompass.notifications import outbox, preferences, push, subscriptions
from clientcompass.notifications.schemas import (
    DeviceOut,
    NotificationPreferences,
    PushSubscriptionIn,
    VapidKeyOut,
)
from clientcompass.web.auth import CurrentPrincipal, State

router = APIRouter(prefix="/api/v1", tags=["notifications"])

TEST_PUSH = outbox.Push(
    title="Notifications are on",
    body="You'll get notifications on this device.",
    url="/settings/notifications",
    tag="test",
)


@router.get("/push-subscriptions/vapid-public-key", response_model=VapidKeyOut)
async def vapid_public_key(state: State, principal: CurrentPrincipal) -> VapidKeyOut:
    """The `applicationServerKey` to subscribe a browser with (RFC 8292)."""
    return VapidKeyOut(application_server_key=push.vapid_public_key(state.settings))


@router.post("/push-subscriptions", response_model=DeviceOut, status_code=201)
async def add_device(
    data: PushSubscriptionIn, request: Request, state: State, principal: CurrentPrincipal
) -> DeviceOut:
    """Turn push on for this device: send the browser's `PushSubscription.toJSON()`.

    A test notification is sent to it at once. Subscribing the same endpoint again updates
    the one device (new keys, new owner) rather than adding a second."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        row = await subscriptions.subscribe(
            uow,
            state.keyring,
            principal.user_id,
            endpoint=data.endpoint,
            p256dh=data.keys.p256dh,
            auth=data.keys.auth,
            user_agent=request.headers.get("user-agent", ""),
            label=data.device_label,
        )
        outbox.queue_push(uow, [row.id], TEST_PUSH)
        return DeviceOut.of(row)


@router.get("/push-subscriptions", response_model=list[DeviceOut])
async def list_devices(state: State, principal: CurrentPrincipal) -> list[DeviceOut]:
    """The caller's own devices with push on, oldest first."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        return [DeviceOut.of(row) for row in await subscriptions.list_for(uow, principal.user_id)]


# `:uuid`, so "vapid-public-key" is no device id (a 405 there would name DELETE in Allow).
@router.delete("/push-subscriptions/{subscription_id:uuid}", status_code=204)
async def remove_device(
    subscription_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> Response:
    """Stop pushing to one of your devices. Anyone else's device is not found (404)."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        await subscriptions.unsubscribe(uow, principal.user_id, subscription_id)
    return Response(status_code=204)


@router.get("/notification-preferences", response_model=NotificationPreferences)
async def get_preferences(state: State, principal: CurrentPrincipal) -> NotificationPreferences:
    """What the caller hears about, on which channel; every kind and channel is listed,
    defaults included."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        return NotificationPreferences.of(await preferences.load(uow, principal.user_id))


@router.put("/notification-preferences", response_model=NotificationPreferences)
async def put_preferences(
    data: NotificationPreferences, state: State, principal: CurrentPrincipal
) -> NotificationPreferences:
    """Replace the caller's choices. A kind or channel left out takes its default; an
    unknown one is refused (422) and nothing is changed."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        saved = await preferences.save(uow, principal.user_id, data.to_preferences())
        return NotificationPreferences.of(saved)
