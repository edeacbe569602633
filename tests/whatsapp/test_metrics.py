"""What the WhatsApp webhooks and sends export to /metrics."""

from __future__ import annotations

import httpx

from tests.conftest import StandinServer
from tests.support.accounts import sign_up
from tests.support.whatsapp import connect_channel, customer_says, sa_mobile


def test_whatsapp_metrics(client: httpx.Client, standin: StandinServer) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    customer_says(standin, channel, sa_mobile(), "metrics please")
    httpx.post(channel["inbound_webhook_url"], data={"MessageSid": "SMx"})  # unsigned: refused
    text = client.get("/metrics").text
    assert 'clientcompass_whatsapp_inbound_messages_total{duplicate="false"}' in text
    assert 'clientcompass_webhook_rejected_total{kind="inbound"}' in text
    assert 'clientcompass_webhook_duration_seconds_bucket{kind="inbound",le="0.05"}' in text
    assert "clientcompass_whatsapp_outbound_status_total" in text
    assert "clientcompass_twilio_errors_total" in text
