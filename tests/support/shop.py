"""A business on WhatsApp whose customer has written, and what it sent them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from tests.conftest import StandinServer
from tests.support.documents import vat_business
from tests.support.waiting import wait_for
from tests.support.whatsapp import (
    connect_channel,
    conversation_with,
    customer_says,
    sa_mobile,
    signed_post,
)


@dataclass
class Shop:
    client: httpx.Client
    headers: dict[str, str]
    channel: dict[str, Any]
    phone: str


def shop_with_customer(client: httpx.Client, standin: StandinServer) -> Shop:
    """A VAT business on WhatsApp whose customer has just written (the window is open)."""
    _, headers = vat_business(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "Hi, please quote for a new geyser element")
    return Shop(client, headers, channel, phone)


def close_window(shop: Shop, standin: StandinServer, owner_conn: psycopg.Connection) -> None:
    conversation = conversation_with(shop.client, shop.phone)
    owner_conn.execute(
        "update conversations set last_inbound_at = now() - interval '25 hours' where id = %s",
        (conversation["id"],),
    )
    standin.control(
        "POST",
        "window",
        json={
            "sender": shop.channel["whatsapp_from"],
            "customer": f"whatsapp:{shop.phone}",
            "last_inbound_at": "2020-01-01T00:00:00Z",
        },
    )


def thread(client: httpx.Client, conversation_id: str) -> list[dict[str, Any]]:
    page = client.get(f"/api/v1/conversations/{conversation_id}/messages").json()
    return page["messages"]  # type: ignore[no-any-return]


def send(shop: Shop, collection: str, document_id: str, **body: Any) -> httpx.Response:
    return shop.client.post(
        f"/api/v1/{collection}/{document_id}/send", json=body or None, headers=shop.headers
    )


def button_tap(shop: Shop, phone: str, payload: str, title: str = "Accept") -> httpx.Response:
    """What Twilio posts when the customer taps a quick-reply button, signed as Twilio signs."""
    sid = f"SM{uuid.uuid4().hex}"
    params = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": shop.channel["account_sid"],
        "From": f"whatsapp:{phone}",
        "To": shop.channel["whatsapp_from"],
        "Body": title,
        "ButtonText": title,
        "ButtonPayload": payload,
        "NumMedia": "0",
        "WaId": phone.lstrip("+"),
        "ProfileName": "Nomvula",
        "ApiVersion": "2010-04-01",
    }
    return signed_post(shop.channel["inbound_webhook_url"], params, shop.channel["auth_token"])


def wait_until_approved(standin: StandinServer, shop: Shop, content_sid: str) -> None:
    """Until the stand-in's WhatsApp review has approved the template."""
    auth = (shop.channel["account_sid"], shop.channel["auth_token"])
    url = f"{standin.url}/v1/Content/{content_sid}/ApprovalRequests"
    wait_for(
        lambda: httpx.get(url, auth=auth, timeout=10).json()["whatsapp"]["status"] == "approved",
        message="the stand-in approving the template",
    )
