"""Who is pushed about what: each person's choices, quiet hours, the conversation on their
screen, the actor, and the wall between businesses. The fan-out runs in a real unit of work
against the real database and Redis; its queued push jobs are read back, then rolled back."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import UTC, datetime, time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clientcompass.config import Settings
from clientcompass.models import Role
from clientcompass.notifications import fanout, preferences, subscriptions
from clientcompass.notifications.kinds import Channel, Kind
from clientcompass.notifications.outbox import PUSH_TASK
from clientcompass.notifications.preferences import Preferences
from clientcompass.realtime.bus import Event
from clientcompass.realtime.presence import Viewing
from clientcompass.redis import create_redis
from tests.conftest import StandinServer
from tests.support import factories
from tests.support.factories import Services
from tests.support.forms import api_headers
from tests.support.shop import Shop, shop_with_customer, thread
from tests.support.whatsapp import conversation_with, customer_says


class RolledBack(Exception):
    """Raised to end a unit of work without committing what the test queued."""


def browser_keys() -> tuple[str, str]:
    """A subscription's keys in the browser's format (base64url P-256 point, 16-byte auth)."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    encode = lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")  # noqa: E731
    return encode(point), encode(os.urandom(16))


def add_device(settings: Settings, tenant_id: uuid.UUID, user_id: uuid.UUID) -> uuid.UUID:
    p256dh, auth = browser_keys()

    async def add(services: Services) -> uuid.UUID:
        async with services.unit_of_work(tenant_id) as uow:
            row = await subscriptions.subscribe(
                uow,
                services.keyring,
                user_id,
                endpoint=f"https://push.example.test/{uuid.uuid4().hex}",
                p256dh=p256dh,
                auth=auth,
                user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile Safari/537.36",
            )
            return row.id

    return factories.run(settings, add)


def choose(
    settings: Settings, tenant_id: uuid.UUID, user_id: uuid.UUID, chosen: Preferences
) -> None:
    async def save(services: Services) -> None:
        async with services.unit_of_work(tenant_id) as uow:
            await preferences.save(uow, user_id, chosen)

    factories.run(settings, save)


def agent(
    settings: Settings, tenant_id: uuid.UUID, owner_id: uuid.UUID, name: str
) -> factories.Account:
    return factories.teammate(
        settings,
        tenant_id,
        owner_id,
        email=factories.unique_email("agent"),
        role=Role.AGENT,
        name=name,
    )


def fan_out(
    settings: Settings,
    tenant_id: uuid.UUID,
    event: Event,
    data: dict[str, Any],
    *,
    at: datetime | None = None,
) -> tuple[fanout.Notice | None, dict[str, list[dict[str, Any]]]]:
    """Run the fan-out for `event` as the job would; returns the notice and the pushes it
    queued, by device id (rolled back, so no push job survives the test)."""
    found: dict[str, Any] = {}

    async def go(services: Services) -> None:
        redis = create_redis(settings.redis_url)
        try:
            async with services.unit_of_work(tenant_id) as uow:
                if at is not None:
                    uow.now = at
                notice = await fanout.notice_for(uow, event, data)
                found["notice"] = notice
                if notice is not None:
                    await fanout.deliver(uow, redis, notice)
                found["jobs"] = [job for job in uow.jobs if job.task_name == PUSH_TASK]
                raise RolledBack
        except RolledBack:
            pass
        finally:
            await redis.aclose()

    factories.run(settings, go)
    pushes: dict[str, list[dict[str, Any]]] = {}
    for job in found["jobs"]:
        assert job.kwargs["tenant_id"] == str(tenant_id)
        for device in job.kwargs["subscription_ids"]:
            pushes.setdefault(str(device), []).append(job.kwargs["push"])
    return found["notice"], pushes


def inbound_event(client: httpx.Client, shop: Shop) -> tuple[str, dict[str, str]]:
    conversation = conversation_with(client, shop.phone)
    last = [m for m in thread(client, conversation["id"]) if m["direction"] == "inbound"][-1]
    return conversation["id"], {
        "message_id": last["id"],
        "conversation_id": conversation["id"],
        "direction": "inbound",
    }


@pytest.fixture
def shop(client: httpx.Client, standin: StandinServer) -> Shop:
    return shop_with_customer(client, standin)


def test_a_new_customer_reaches_every_device_of_the_team_with_what_the_lock_screen_may_show(
    client: httpx.Client, settings: Settings, shop: Shop
) -> None:
    tenant_id, owner_id = factories.signed_in_as(client)
    thandi = agent(settings, tenant_id, owner_id, "Thandi")
    owner_phone = add_device(settings, tenant_id, owner_id)
    owner_laptop = add_device(settings, tenant_id, owner_id)
    agent_phone = add_device(settings, tenant_id, thandi.user_id)
    choose(settings, tenant_id, thandi.user_id, Preferences(hide_content=True))

    conversation_id, data = inbound_event(client, shop)
    notice, pushes = fan_out(settings, tenant_id, Event.MESSAGE_CREATED, data)

    assert notice is not None and notice.kind is Kind.NEW_CONVERSATION and notice.new_lead
    assert set(pushes) == {str(owner_phone), str(owner_laptop), str(agent_phone)}
    shown = pushes[str(owner_phone)][0]
    assert shown["title"] == "New message from Sipho"
    assert "geyser element" in shown["body"]
    assert shown["url"] == f"/inbox/{conversation_id}"
    assert shown["tag"] == f"conversation-{conversation_id}"
    assert shown["urgency"] == "high"
    # The agent hides message text on the lock screen: their payload never carries it.
    hidden = pushes[str(agent_phone)][0]
    assert hidden["title"] == "New message from Sipho"
    assert "geyser" not in hidden["body"] and hidden["body"] == fanout.HIDDEN_BODY


def test_preferences_quiet_hours_and_an_open_conversation_each_silence_exactly_their_push(
    client: httpx.Client, settings: Settings, shop: Shop, redis_url: str
) -> None:
    tenant_id, owner_id = factories.signed_in_as(client)
    people = {
        name: agent(settings, tenant_id, owner_id, name).user_id
        for name in ("muted", "quiet", "watching", "plain")
    }
    devices = {name: add_device(settings, tenant_id, user) for name, user in people.items()}
    no_push = {kind: dict(choice) for kind, choice in Preferences().channels.items()}
    no_push[Kind.NEW_CONVERSATION][Channel.PUSH] = False
    choose(settings, tenant_id, people["muted"], Preferences(channels=no_push))
    # 22:00 to 06:00 in the business's time zone (Africa/Johannesburg, UTC+2).
    choose(
        settings, tenant_id, people["quiet"], Preferences(quiet_start=time(22), quiet_end=time(6))
    )
    conversation_id, data = inbound_event(client, shop)

    async def look(services: Services) -> Viewing:
        viewing = Viewing(
            create_redis(redis_url), tenant_id, uuid.UUID(conversation_id), people["watching"]
        )
        await viewing.refresh()
        return viewing

    viewing = factories.run(settings, look)
    try:
        at_night = datetime(2026, 12, 3, 21, 30, tzinfo=UTC)  # 23:30 in Johannesburg
        _, pushes = fan_out(settings, tenant_id, Event.MESSAGE_CREATED, data, at=at_night)
        by_day = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)  # 10:00 in Johannesburg
        _, day_pushes = fan_out(settings, tenant_id, Event.MESSAGE_CREATED, data, at=by_day)
    finally:
        factories.run(settings, lambda _s: viewing.leave())

    assert str(devices["plain"]) in pushes
    assert str(devices["muted"]) not in pushes and str(devices["muted"]) not in day_pushes
    assert str(devices["watching"]) not in pushes and str(devices["watching"]) not in day_pushes
    assert str(devices["quiet"]) not in pushes
    assert str(devices["quiet"]) in day_pushes  # quiet hours end; nothing else silenced them

    # Once the tab is gone, the person who was looking is pushed again.
    _, after = fan_out(settings, tenant_id, Event.MESSAGE_CREATED, data, at=by_day)
    assert str(devices["watching"]) in after


def test_an_assignment_tells_the_assignee_only_and_not_when_they_took_it_themselves(
    client: httpx.Client, settings: Settings, shop: Shop
) -> None:
    tenant_id, owner_id = factories.signed_in_as(client)
    thandi = agent(settings, tenant_id, owner_id, "Thandi")
    owner_device = add_device(settings, tenant_id, owner_id)
    agent_device = add_device(settings, tenant_id, thandi.user_id)
    conversation_id, _ = inbound_event(client, shop)
    data = {
        "conversation_id": conversation_id,
        "assignee_id": str(thandi.user_id),
        "actor_id": str(owner_id),
    }

    notice, pushes = fan_out(settings, tenant_id, Event.CONVERSATION_ASSIGNED, data)
    assert notice is not None and notice.kind is Kind.ASSIGNED
    assert set(pushes) == {str(agent_device)}
    assert pushes[str(agent_device)][0]["title"] == "Sipho is assigned to you"

    took_it = {**data, "actor_id": str(thandi.user_id)}
    _, pushes = fan_out(settings, tenant_id, Event.CONVERSATION_ASSIGNED, took_it)
    assert pushes == {}
    assert str(owner_device) not in pushes


def test_a_later_message_in_an_assigned_conversation_goes_to_its_assignee_alone(
    client: httpx.Client, settings: Settings, standin: StandinServer, shop: Shop
) -> None:
    tenant_id, owner_id = factories.signed_in_as(client)
    thandi = agent(settings, tenant_id, owner_id, "Thandi")
    owner_device = add_device(settings, tenant_id, owner_id)
    agent_device = add_device(settings, tenant_id, thandi.user_id)
    conversation_id, _ = inbound_event(client, shop)
    headers = api_headers(client)
    assigned = client.post(
        f"/api/v1/conversations/{conversation_id}/assignee",
        json={"assignee_id": str(thandi.user_id)},
        headers=headers,
    )
    assert assigned.status_code in (200, 204), assigned.text
    customer_says(standin, shop.channel, shop.phone, "Are you coming today?")
    _, data = inbound_event(client, shop)

    notice, pushes = fan_out(settings, tenant_id, Event.MESSAGE_CREATED, data)
    assert notice is not None and notice.kind is Kind.ASSIGNED_MESSAGE and not notice.new_lead
    assert set(pushes) == {str(agent_device)}
    assert str(owner_device) not in pushes
    assert pushes[str(agent_device)][0]["body"] == "Are you coming today?"


def test_no_member_is_told_about_another_business(
    client: httpx.Client, settings: Settings, standin: StandinServer, shop: Shop
) -> None:
    tenant_a, owner_a = factories.signed_in_as(client)
    device_a = add_device(settings, tenant_a, owner_a)
    _, data = inbound_event(client, shop)
    other = factories.business_with_owner(settings)
    device_b = add_device(settings, other.tenant_id, other.user_id)

    # Business B's fan-out for business A's message finds nothing to tell: the wall hides it.
    notice, pushes = fan_out(settings, other.tenant_id, Event.MESSAGE_CREATED, data)
    assert notice is None and pushes == {}
    # A's own fan-out reaches A's device and never B's.
    _, pushes = fan_out(settings, tenant_a, Event.MESSAGE_CREATED, data)
    assert set(pushes) == {str(device_a)}
    assert str(device_b) not in pushes
