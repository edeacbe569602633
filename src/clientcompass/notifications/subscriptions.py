"""The devices a person turned push on for: stored, listed, removed.

A browser's subscription is its push service endpoint plus two keys the payload is encrypted
to (RFC 8291). The keys are sealed with the keyring; the endpoint stays plain and unique per
business, so subscribing again (a new key after the browser rotated it, or another person
signing in on the same phone) updates the one row instead of adding a second device.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from clientcompass.crypto import Keyring
from clientcompass.db import UnitOfWork
from clientcompass.errors import InvalidInput, NotFound
from clientcompass.models import PushSubscription

KEYS_CONTEXT = "push-keys"
MAX_DEVICES_PER_PERSON = 20
# Base64url, as browsers give them: p256dh is a 65-byte P-256 point, auth 16 bytes.
P256DH = re.compile(r"^[A-Za-z0-9_-]{86,88}={0,2}$")
AUTH = re.compile(r"^[A-Za-z0-9_-]{21,24}={0,2}$")


@dataclass(frozen=True)
class Keys:
    p256dh: str
    auth: str


@dataclass(frozen=True)
class Device:
    """A subscription as pages and the API show it (never its keys)."""

    id: uuid.UUID
    label: str
    endpoint_host: str
    created_at: str
    last_used_at: str | None


def device_label(user_agent: str) -> str:
    """ "Chrome on Android", "Safari on iPhone": enough to tell one's devices apart."""
    ua = user_agent or ""
    browser = next(
        (
            name
            for token, name in (
                ("Edg/", "Edge"),
                ("SamsungBrowser", "Samsung Internet"),
                ("Firefox/", "Firefox"),
                ("OPR/", "Opera"),
                ("Chrome/", "Chrome"),
                ("Chromium/", "Chromium"),
                ("Safari/", "Safari"),
            )
            if token in ua
        ),
        "Browser",
    )
    system = next(
        (
            name
            for token, name in (
                ("iPhone", "iPhone"),
                ("iPad", "iPad"),
                ("Android", "Android"),
                ("Windows", "Windows"),
                ("Mac OS X", "Mac"),
                ("CrOS", "ChromeOS"),
                ("Linux", "Linux"),
            )
            if token in ua
        ),
        "",
    )
    return f"{browser} on {system}" if system else browser


def check_endpoint(endpoint: str) -> str:
    """A push service endpoint is an absolute https URL (http only for a local stand-in)."""
    parts = urlsplit(endpoint.strip())
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise InvalidInput("The push endpoint must be an https URL.", field="endpoint")
    if not parts.hostname or len(endpoint) > 2048:
        raise InvalidInput("The push endpoint is not a valid URL.", field="endpoint")
    return endpoint.strip()


def check_keys(p256dh: str, auth: str) -> Keys:
    if not P256DH.match(p256dh):
        raise InvalidInput("keys.p256dh must be the browser's base64url P-256 key.", field="p256dh")
    if not AUTH.match(auth):
        raise InvalidInput("keys.auth must be the browser's base64url auth secret.", field="auth")
    return Keys(p256dh=p256dh, auth=auth)


def keys_of(keyring: Keyring, keys_encrypted: str) -> Keys:
    """A subscription's keys from its `keys_encrypted` column."""
    data = json.loads(keyring.decrypt(keys_encrypted, context=KEYS_CONTEXT))
    return Keys(p256dh=str(data["p256dh"]), auth=str(data["auth"]))


async def subscribe(
    uow: UnitOfWork,
    keyring: Keyring,
    user_id: uuid.UUID,
    *,
    endpoint: str,
    p256dh: str,
    auth: str,
    user_agent: str,
    label: str = "",
) -> PushSubscription:
    """Store this device for this person (or update it); returns the row."""
    assert uow.tenant_id is not None
    endpoint = check_endpoint(endpoint)
    keys = check_keys(p256dh, auth)
    existing = await list_for(uow, user_id)
    if len(existing) >= MAX_DEVICES_PER_PERSON and all(s.endpoint != endpoint for s in existing):
        raise InvalidInput(
            f"You have {MAX_DEVICES_PER_PERSON} devices with notifications on. Remove one first.",
            field="endpoint",
        )
    sealed = keyring.encrypt(
        json.dumps({"p256dh": keys.p256dh, "auth": keys.auth}), context=KEYS_CONTEXT
    )
    values = {
        "user_id": user_id,
        "keys_encrypted": sealed,
        "device_label": (label.strip() or device_label(user_agent))[:120],
        "user_agent": user_agent[:400],
        "updated_at": uow.now,
    }
    subscription_id = await uow.session.scalar(
        insert(PushSubscription)
        .values(
            tenant_id=uow.tenant_id,
            id=uuid.uuid4(),
            endpoint=endpoint,
            created_at=uow.now,
            **values,
        )
        .on_conflict_do_update(
            index_elements=[PushSubscription.tenant_id, PushSubscription.endpoint], set_=values
        )
        .returning(PushSubscription.id)
    )
    row = await uow.session.get(
        PushSubscription, (uow.tenant_id, subscription_id), populate_existing=True
    )
    assert row is not None
    return row


async def list_for(uow: UnitOfWork, user_id: uuid.UUID) -> list[PushSubscription]:
    return list(
        (
            await uow.session.scalars(
                select(PushSubscription)
                .where(PushSubscription.tenant_id == uow.tenant_id)
                .where(PushSubscription.user_id == user_id)
                .order_by(PushSubscription.created_at)
            )
        ).all()
    )


async def unsubscribe(uow: UnitOfWork, user_id: uuid.UUID, subscription_id: uuid.UUID) -> None:
    """Remove one of this person's devices; someone else's is "not found", as is a
    device of another business (the wall hides it)."""
    removed = await uow.session.scalar(
        delete(PushSubscription)
        .where(PushSubscription.tenant_id == uow.tenant_id)
        .where(PushSubscription.user_id == user_id)
        .where(PushSubscription.id == subscription_id)
        .returning(PushSubscription.id)
    )
    if removed is None:
        raise NotFound("No such device.")


def as_device(subscription: PushSubscription) -> Device:
    return Device(
        id=subscription.id,
        label=subscription.device_label,
        endpoint_host=urlsplit(subscription.endpoint).hostname or "",
        created_at=subscription.created_at.isoformat(),
        last_used_at=subscription.last_used_at.isoformat() if subscription.last_used_at else None,
    )
