"""Sandbox channels: a WhatsApp number on the Twilio stand-in, wired to a business.

A sandbox channel is an ordinary Twilio channel (same credentials check, same sealed
token, same webhooks) whose account and sender live in the stand-in. Nothing else in the
app treats it specially except its slow send rate, which mirrors Twilio's sandbox.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select

from clientcompass.auth.principal import Principal
from clientcompass.crypto import Keyring
from clientcompass.db import UnitOfWork
from clientcompass.models import Channel
from clientcompass.sandbox.control import StandinControl
from clientcompass.twilio_client import TwilioClient
from clientcompass.whatsapp import channels

# Twilio's WhatsApp sandbox sends about one message per three seconds.
SANDBOX_SENDS_PER_SECOND = 1 / 3
SANDBOX_CHANNEL_NAME = "WhatsApp sandbox"


def random_mobile(prefix: str) -> str:
    """A valid South African mobile number, e.g. prefix "60" → +2760xxxxxxx.

    The business's sandbox number and the phone's customer number are random so that
    several businesses and browsers can share one stand-in without crossing wires.
    """
    return f"+27{prefix}{secrets.randbelow(10**7):07d}"


async def find_sandbox_channel(uow: UnitOfWork, actor: Principal) -> Channel | None:
    """The business's (first, active) sandbox channel, if it has one."""
    channel: Channel | None = await uow.session.scalar(
        select(Channel)
        .where(Channel.tenant_id == actor.tenant_id)
        .where(Channel.is_sandbox)
        .where(Channel.disabled_at.is_(None))
        .order_by(Channel.created_at)
        .limit(1)
    )
    return channel


async def register(
    control: StandinControl, keyring: Keyring, channel: Channel, base_url: str
) -> None:
    """(Re)create the channel's account and sender in the stand-in, webhooks pointing here.

    Idempotent, and it heals a stand-in that forgot them (a deleted state file, a fresh
    test stand-in), because the account is recreated with the channel's own credentials.
    """
    credentials = channels.credentials(channel, keyring)
    await control.create_account(
        account_sid=credentials.account_sid, auth_token=credentials.auth_token, name=channel.name
    )
    urls = channels.webhook_urls(base_url, channel)
    await control.register_sender(
        account_sid=channel.account_sid,
        whatsapp_from=channel.whatsapp_from,
        inbound_url=urls.inbound,
        status_url=urls.status,
    )


async def connect_sandbox(
    uow: UnitOfWork,
    actor: Principal,
    keyring: Keyring,
    twilio: TwilioClient,
    control: StandinControl,
    *,
    base_url: str,
) -> Channel:
    """Give the business a sandbox WhatsApp number; connecting again re-wires the same one."""
    actor.require_manager()
    existing = await find_sandbox_channel(uow, actor)
    if existing is not None:
        await register(control, keyring, existing, base_url)
        return existing
    account = await control.create_account(name=SANDBOX_CHANNEL_NAME)
    # The stand-in made these credentials a moment ago: nothing to check with it.
    sender = channels.checked_sender(
        account_sid=account.account_sid,
        auth_token=account.auth_token,
        whatsapp_from=f"whatsapp:{random_mobile('60')}",
    )
    channel = await channels.store_channel(
        uow,
        actor,
        keyring,
        sender,
        name=SANDBOX_CHANNEL_NAME,
        is_sandbox=True,
        sends_per_second=SANDBOX_SENDS_PER_SECOND,
    )
    await register(control, keyring, channel, base_url)
    return channel
