"""A business on WhatsApp whose customer has written, and what it sent them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import psycopg

from tests.conftest import StandinServer
from tests.support.documents import vat_business
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile


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
