"""Connecting a Twilio WhatsApp sender: credentials checked against Twilio, token sealed."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from clientcompass.auth import bearer
from clientcompass.auth.principal import Principal
from clientcompass.cache import TtlCache
from clientcompass.crypto import Keyring
from clientcompass.db import FastPath, UnitOfWork, set_tenant
from clientcompass.errors import Conflict, InvalidInput, NotFound
from clientcompass.models import Channel
from clientcompass.phones import normalise_za_phone
from clientcompass.twilio_client import (
    Credentials,
    OutcomeUnknown,
    TwilioClient,
    TwilioRejected,
    TwilioUnavailable,
)
from clientcompass.work import UnitsOfWork

WEBHOOK_KEY_PREFIX = "ccw"
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class WebhookUrls:
    inbound: str
    status: str


def webhook_urls(base_url: str, channel: Channel) -> WebhookUrls:
    root = f"{base_url}/webhooks/twilio/{channel.webhook_key}"
    return WebhookUrls(inbound=f"{root}/inbound", status=f"{root}/status")


def token_context(channel: Channel) -> str:
    return _token_context(channel.tenant_id, channel.id)


def _token_context(tenant_id: uuid.UUID, channel_id: uuid.UUID) -> str:
    """Binds a sealed token to its channel, so a copy pasted into another row won't open."""
    return f"channels.auth_token:{tenant_id}:{channel_id}"


def credentials(channel: Channel, keyring: Keyring) -> Credentials:
    return Credentials(
        channel.account_sid,
        keyring.decrypt(channel.auth_token_sealed, context=token_context(channel)),
    )


def normalise_sender(value: str) -> str:
    """`whatsapp:+27…` from `+27…`, `27…` or `whatsapp:0…`; refuses what is not a phone."""
    number = value.strip().removeprefix("whatsapp:")
    try:
        e164 = normalise_za_phone(number)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="whatsapp_from") from exc
    if not e164:
        raise InvalidInput(
            "Enter the WhatsApp sender number, e.g. whatsapp:+27821234567.", field="whatsapp_from"
        )
    return f"whatsapp:{e164}"


@dataclass(frozen=True)
class Sender:
    """A Twilio WhatsApp sender as typed, checked for shape (not yet with Twilio)."""

    account_sid: str
    auth_token: str
    whatsapp_from: str
    messaging_service_sid: str = ""


def checked_sender(
    *, account_sid: str, auth_token: str, whatsapp_from: str, messaging_service_sid: str = ""
) -> Sender:
    account_sid, auth_token = account_sid.strip(), auth_token.strip()
    if not ACCOUNT_SID.match(account_sid):
        raise InvalidInput(
            "An Account SID starts with AC followed by 32 letters and digits.", field="account_sid"
        )
    if not re.fullmatch(r"[0-9a-zA-Z]{16,64}", auth_token):
        raise InvalidInput(
            "Paste the Auth Token from the Twilio console (32 characters).", field="auth_token"
        )
    if messaging_service_sid and not SERVICE_SID.match(messaging_service_sid.strip()):
        raise InvalidInput(
            "A Messaging Service SID starts with MG followed by 32 letters and digits.",
            field="messaging_service_sid",
        )
    return Sender(
        account_sid, auth_token, normalise_sender(whatsapp_from), messaging_service_sid.strip()
    )


async def verify_with_twilio(twilio: TwilioClient, sender: Sender) -> None:
    try:
        await twilio.fetch_account(Credentials(sender.account_sid, sender.auth_token))
    except TwilioRejected as exc:
        raise InvalidInput(
            "Twilio did not accept this Account SID and Auth Token. Copy both again from the Twilio console.",
            field="auth_token",
        ) from exc
    except (TwilioUnavailable, OutcomeUnknown) as exc:
        raise InvalidInput(
            "Twilio could not be reached to check the credentials. Try again in a minute."
        ) from exc


async def store_channel(
    uow: UnitOfWork,
    actor: Principal,
    keyring: Keyring,
    sender: Sender,
    *,
    name: str = "",
    is_sandbox: bool = False,
    sends_per_second: float = 80.0,
) -> Channel:
    """Store the channel with its token sealed (its credentials were checked already)."""
    actor.require_manager()
    existing = await uow.session.scalar(
        select(Channel.id)
        .where(Channel.tenant_id == actor.tenant_id)
        .where(Channel.whatsapp_from == sender.whatsapp_from)
    )
    if existing is not None:
        raise Conflict(f"{sender.whatsapp_from} is already connected.", field="whatsapp_from")
    channel = Channel(
        tenant_id=actor.tenant_id,
        id=uuid.uuid4(),
        provider="twilio",
        name=name.strip() or sender.whatsapp_from.removeprefix("whatsapp:"),
        account_sid=sender.account_sid,
        whatsapp_from=sender.whatsapp_from,
        messaging_service_sid=sender.messaging_service_sid,
        webhook_key=bearer.issue(WEBHOOK_KEY_PREFIX, actor.tenant_id).token,
        is_sandbox=is_sandbox,
        sends_per_second=sends_per_second,
        auth_token_sealed="",
    )
    channel.auth_token_sealed = keyring.encrypt(sender.auth_token, context=token_context(channel))
    uow.session.add(channel)
    await uow.session.flush()
    return channel


async def connect_twilio(
    units: UnitsOfWork,
    actor: Principal,
    keyring: Keyring,
    twilio: TwilioClient,
    sender: Sender,
    *,
    name: str = "",
    sends_per_second: float = 80.0,
) -> Channel:
    """Check the credentials with Twilio, then store the channel. The call is made before
    the transaction opens: no database connection waits on Twilio."""
    actor.require_manager()
    await verify_with_twilio(twilio, sender)
    async with units(actor.tenant_id) as uow:
        return await store_channel(
            uow, actor, keyring, sender, name=name, sends_per_second=sends_per_second
        )


async def list_channels(uow: UnitOfWork, actor: Principal) -> list[Channel]:
    rows = await uow.session.scalars(
        select(Channel).where(Channel.tenant_id == actor.tenant_id).order_by(Channel.created_at)
    )
    return list(rows)


async def get_channel(uow: UnitOfWork, tenant_id: uuid.UUID, channel_id: uuid.UUID) -> Channel:
    channel = await uow.session.get(Channel, (tenant_id, channel_id))
    if channel is None:
        raise NotFound("That WhatsApp channel does not exist.")
    return channel


@dataclass(frozen=True)
class ChannelRef:
    """What a webhook needs of its channel, with the auth token already opened."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    whatsapp_from: str
    credentials: Credentials


CHANNEL_BY_KEY = """
    SELECT id, whatsapp_from, account_sid, auth_token_sealed FROM channels
    WHERE tenant_id = %s AND webhook_key = %s AND disabled_at IS NULL
"""


async def channel_for_webhook(
    fast: FastPath, key: str, keyring: Keyring, cache: TtlCache[str, object]
) -> ChannelRef | None:
    """The channel a webhook URL names: from the cache, or read within the key's tenant.

    None for a key that names no live channel: the caller answers 403 and stores nothing.
    """
    secret = bearer.parse(WEBHOOK_KEY_PREFIX, key)
    if secret is None:
        return None
    cached = cache.get(key)  # webhook key → ChannelRef; a disabled channel lasts its ttl
    if isinstance(cached, ChannelRef):
        return cached
    async with fast.transaction() as conn:
        await set_tenant(conn, secret.tenant_id)
        row = await (await conn.execute(CHANNEL_BY_KEY, (secret.tenant_id, key))).fetchone()
    if row is None:
        return None
    channel_id, whatsapp_from, account_sid, sealed = row
    auth_token = keyring.decrypt(sealed, context=_token_context(secret.tenant_id, channel_id))
    ref = ChannelRef(
        secret.tenant_id, channel_id, whatsapp_from, Credentials(account_sid, auth_token)
    )
    cache.put(key, ref)
    return ref
