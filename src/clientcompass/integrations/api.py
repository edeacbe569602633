"""JSON: `/api/v1/webhooks`, the business's outgoing webhook subscriptions and their
deliveries (owners and admins). Another business's webhook is not found."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from clientcompass.accounts.step_up import confirm
from clientcompass.integrations import service
from clientcompass.integrations.schemas import (
    DeliveryOut,
    SecretOut,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
    WebhookStateIn,
)
from clientcompass.web.auth import CurrentManager, State

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


@router.post("", response_model=WebhookCreated, status_code=201)
async def create_webhook(
    data: WebhookIn, state: State, principal: CurrentManager
) -> WebhookCreated:
    """Subscribe a URL to events. The answer holds the signing secret, shown only now.

    Each event is POSTed as JSON `{type, timestamp, data}` with the Standard Webhooks headers
    `webhook-id` (the same on every attempt: drop repeats), `webhook-timestamp` and
    `webhook-signature` (`v1,<base64 HMAC-SHA256>` of `{id}.{timestamp}.{body}` keyed with the
    secret; verify with any Standard Webhooks library). A 2xx answer is delivered. Anything
    else, or no answer within 10 s, is tried again after 5 s, 30 s, 2 min, 10 min and 1 h,
    then given up. Redirects are not followed. 410 Gone disables the webhook until it is
    resumed. The URL must be https on the public internet."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        made = await service.create(
            uow,
            principal,
            state.keyring,
            url=data.url,
            chosen=[e.value for e in data.events],
            description=data.description,
            allow_private=state.settings.webhook_allow_private_targets,
        )
        out = WebhookOut.of(made.subscription)
    return WebhookCreated(**out.model_dump(), secret=made.secret)


@router.get("", response_model=list[WebhookOut])
async def list_webhooks(state: State, principal: CurrentManager) -> list[WebhookOut]:
    async with state.unit_of_work(principal.tenant_id) as uow:
        return [WebhookOut.of(row) for row in await service.list_all(uow, principal)]


@router.get("/{webhook_id:uuid}", response_model=WebhookOut)
async def get_webhook(webhook_id: uuid.UUID, state: State, principal: CurrentManager) -> WebhookOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        return WebhookOut.of(await service.get(uow, principal, webhook_id))


@router.patch("/{webhook_id:uuid}", response_model=WebhookOut)
async def set_webhook_state(
    webhook_id: uuid.UUID, data: WebhookStateIn, state: State, principal: CurrentManager
) -> WebhookOut:
    """Pause or resume deliveries."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        return WebhookOut.of(await service.set_active(uow, principal, webhook_id, data.active))


@router.delete("/{webhook_id:uuid}", status_code=204)
async def delete_webhook(
    webhook_id: uuid.UUID,
    state: State,
    principal: CurrentManager,
    confirmed: None = confirm("delete this webhook"),
) -> Response:
    """Delete a webhook and its delivery log. Step-up: a session confirmed in the last
    minutes (POST /api/v1/me/step-up), or X-Confirm-Password."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        await service.remove(uow, principal, webhook_id)
    return Response(status_code=204)


@router.post("/{webhook_id:uuid}/rotate-secret", response_model=SecretOut)
async def rotate_secret(
    webhook_id: uuid.UUID, state: State, principal: CurrentManager
) -> SecretOut:
    """A new signing secret; the old one also signs for 24 hours."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        secret = await service.rotate_secret(uow, principal, state.keyring, webhook_id)
        row = await service.get(uow, principal, webhook_id)
        return SecretOut(secret=secret, previous_valid_until=row.previous_secret_until)


@router.post("/{webhook_id:uuid}/test", response_model=DeliveryOut, status_code=202)
async def send_test(webhook_id: uuid.UUID, state: State, principal: CurrentManager) -> DeliveryOut:
    """Queue a `webhook.test` delivery to this URL."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        delivery_id = await service.send_test(uow, principal, webhook_id)
        return DeliveryOut.of(await service.delivery(uow, principal, delivery_id))


@router.get("/{webhook_id:uuid}/deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    webhook_id: uuid.UUID, state: State, principal: CurrentManager
) -> list[DeliveryOut]:
    """The newest 50 deliveries to this webhook, newest first."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        return [DeliveryOut.of(d) for d in await service.deliveries(uow, principal, webhook_id)]
