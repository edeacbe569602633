"""Inbound traps (issue 12): an ad's referral only on an ad's message, list-picker ids, pins.

Every message here is a real signed webhook from the Twilio stand-in; what handlers see is
read back through the app's own role (RLS in force) as the inbound pipeline builds it.
"""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import select

from clientcompass.conversations.inbound import Inbound, Location
from clientcompass.models import Contact, Conversation, Message
from tests.conftest import StandinServer
from tests.support import factories
from tests.support.accounts import sign_up
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile

# Every click-to-WhatsApp field of Twilio's incoming-message webhook, as the stand-in names
# them (twilio_standin/inbound.REFERRAL_FIELDS), and the value each ad message carries.
AD = {
    "body": "Burst geyser? We come out within the hour.",
    "headline": "24/7 plumber in Joburg",
    "source_id": "120210000000000001",
    "source_type": "ad",
    "source_url": "https://fb.me/geyser-ad",
    "media_id": "1234567890",
    "media_content_type": "image/jpeg",
    "media_url": "https://scontent.example/ad.jpg",
    "num_media": "1",
    "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0",
}
STORED = {  # details["referral"]: Twilio's names without the "Referral" prefix
    "Body": AD["body"],
    "Headline": AD["headline"],
    "SourceId": AD["source_id"],
    "SourceType": AD["source_type"],
    "SourceUrl": AD["source_url"],
    "MediaId": AD["media_id"],
    "MediaContentType": AD["media_content_type"],
    "MediaUrl": AD["media_url"],
    "NumMedia": AD["num_media"],
    "CtwaClid": AD["ctwa_clid"],
}


def _messages(client: httpx.Client, phone: str) -> list[dict[str, Any]]:
    conversation = conversation_with(client, phone)
    page = client.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
    return sorted(page["messages"], key=lambda m: m["created_at"])


def _inbound(client: httpx.Client, tenant_id: uuid.UUID, message_id: str) -> Inbound:
    """The `Inbound` the pipeline hands its handlers for this message."""

    async def load(services: factories.Services) -> Inbound:
        async with services.unit_of_work(tenant_id) as uow:
            message, conversation, contact = (
                await uow.session.execute(
                    select(Message, Conversation, Contact)
                    .join(
                        Conversation,
                        (Conversation.tenant_id == Message.tenant_id)
                        & (Conversation.id == Message.conversation_id),
                    )
                    .join(
                        Contact,
                        (Contact.tenant_id == Conversation.tenant_id)
                        & (Contact.id == Conversation.contact_id),
                    )
                    .where(Message.tenant_id == tenant_id)
                    .where(Message.id == uuid.UUID(message_id))
                )
            ).one()
            return Inbound(message, conversation, contact, first=False, flows=True)

    return factories.run(factories.settings_of(client), load)


def test_only_an_ads_message_stores_a_referral_and_it_keeps_every_field(
    client: httpx.Client, standin: StandinServer
) -> None:
    account = sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    ordinary = customer_says(standin, channel, phone, "Hi, are you open today?")
    assert ordinary["params"]["ReferralNumMedia"] == "0"  # the trap: on every message
    customer_says(standin, channel, phone, "I saw your advert", referral=AD)
    # A referral block carrying only a media count is no ad either.
    customer_says(standin, channel, phone, "Hello again", referral={"num_media": "2"})

    first, ad, counted = _messages(client, phone)
    assert "referral" not in first["details"] and "referral" not in counted["details"]
    assert ad["details"]["referral"] == STORED

    ordinary_inbound = _inbound(client, account.tenant_id, first["id"])
    assert ordinary_inbound.message.details["twilio"]["ReferralNumMedia"] == "0"  # kept raw
    assert ordinary_inbound.referral is None
    assert _inbound(client, account.tenant_id, counted["id"]).referral is None
    referral = _inbound(client, account.tenant_id, ad["id"]).referral
    assert referral is not None
    assert (referral.ctwa_clid, referral.source_id, referral.source_url) == (
        AD["ctwa_clid"],
        AD["source_id"],
        AD["source_url"],
    )
    assert (referral.headline, referral.body, referral.source_type) == (
        AD["headline"],
        AD["body"],
        "ad",
    )
    assert (referral.media_id, referral.media_content_type, referral.media_url) == (
        AD["media_id"],
        AD["media_content_type"],
        AD["media_url"],
    )
    assert referral.num_media == "1"
    thread = client.get(f"/inbox/{conversation_with(client, phone)['id']}").text
    assert thread.count('data-testid="ad-referral"') == 1  # the ad's message, no other
    assert f"From an ad: {AD['headline']}" in thread


def test_a_choice_is_stored_by_its_id_a_pin_as_a_location(
    client: httpx.Client, standin: StandinServer
) -> None:
    account = sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    picked = customer_says(
        standin, channel, phone, "Leaking geyser", list_id="svc_geyser", list_title="Leaking geyser"
    )
    assert (picked["params"]["ListId"], picked["params"]["MessageType"]) == (
        "svc_geyser",
        "interactive",
    )
    customer_says(standin, channel, phone, "Yes", button_payload="confirm_yes", button_text="Yes")
    customer_says(
        standin,
        channel,
        phone,
        "",
        latitude=-26.1076,
        longitude=28.0567,
        address="12 Rivonia Rd, Sandton",
        label="Home",
    )
    customer_says(standin, channel, phone, "Leaking geyser")  # the same words, typed

    chosen, tapped, pin, typed = _messages(client, phone)
    assert chosen["details"]["list"] == {"id": "svc_geyser", "title": "Leaking geyser"}
    assert "button" not in chosen["details"]
    assert tapped["details"]["button"] == {"payload": "confirm_yes", "text": "Yes"}
    assert pin["details"]["location"]["address"] == "12 Rivonia Rd, Sandton"

    inbound = {
        name: _inbound(client, account.tenant_id, message["id"])
        for name, message in (
            ("chosen", chosen),
            ("tapped", tapped),
            ("pin", pin),
            ("typed", typed),
        )
    }
    assert (inbound["chosen"].list_id, inbound["chosen"].button_payload) == ("svc_geyser", "")
    assert (inbound["tapped"].button_payload, inbound["tapped"].list_id) == ("confirm_yes", "")
    assert inbound["typed"].list_id == "" and inbound["typed"].body == "Leaking geyser"
    assert inbound["pin"].location == Location(-26.1076, 28.0567, "12 Rivonia Rd, Sandton", "Home")
    assert all(inbound[name].location is None for name in ("chosen", "tapped", "typed"))


def _revision_0017() -> Any:
    path = (
        Path(__file__).parents[2]
        / "src/clientcompass/migrations/versions/2026-12-03-1720_inbound_traps.py"
    )
    spec = importlib.util.spec_from_file_location("revision_0017", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_revision_0017_mends_what_was_stored_before_and_its_downgrade_restores_it(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    account = sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "Hi")
    customer_says(standin, channel, phone, "From the ad", referral=AD)
    customer_says(standin, channel, phone, "Geyser", list_id="svc_geyser", list_title="Geyser")
    plain, ad, chosen = (m["id"] for m in _messages(client, phone))
    revision = _revision_0017()

    def details(message_id: str) -> dict[str, Any]:
        row = owner_conn.execute(
            "select details from messages where tenant_id = %s and id = %s",
            (account.tenant_id, message_id),
        ).fetchone()
        assert row is not None
        return row[0]  # type: ignore[no-any-return]

    def store(message_id: str, value: dict[str, Any]) -> None:
        owner_conn.execute(
            "update messages set details = %s where tenant_id = %s and id = %s",
            (Jsonb(value), account.tenant_id, message_id),
        )

    # Rolled back at the end: the revision's SQL runs over the whole table.
    with owner_conn.transaction(force_rollback=True):
        # As the code before this revision stored them.
        store(plain, {**details(plain), "referral": {"NumMedia": "0"}})
        store(chosen, {k: v for k, v in details(chosen).items() if k != "list"})
        ad_before = details(ad)

        owner_conn.execute(revision.UPGRADE)
        assert "referral" not in details(plain)
        assert details(chosen)["list"] == {"id": "svc_geyser", "title": "Geyser"}
        assert details(ad) == ad_before

        owner_conn.execute(revision.DOWNGRADE)
        assert details(plain)["referral"] == {"NumMedia": "0"}
        assert "list" not in details(chosen)
        assert details(ad)["referral"] == STORED

        owner_conn.execute(revision.UPGRADE)
        owner_conn.execute(revision.UPGRADE)  # twice: nothing more to mend
        assert "referral" not in details(plain)
        assert details(chosen)["list"]["id"] == "svc_geyser"
        assert details(ad) == ad_before
