"""A malformed id in a URL or query is "not found", never a 500."""

from __future__ import annotations

import httpx

from tests.conftest import StandinServer
from tests.support.accounts import sign_up
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile


def test_the_composers_template_preview_with_a_malformed_id_is_not_found(
    client: httpx.Client, standin: StandinServer
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "Hello")
    conversation = conversation_with(client, phone)
    url = f"/inbox/{conversation['id']}/template-preview"
    assert client.get(url, params={"template_id": ""}).status_code == 200  # nothing chosen
    for template_id in ("x" * 36, "00000000-0000-0000-0000-00000000000g", "not-an-id"):
        response = client.get(url, params={"template_id": template_id})
        assert response.status_code == 404, template_id
        assert "That template does not exist." in response.text
