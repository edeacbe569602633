"""`twilio/card` in the stand-in as the Content API takes it: a title and at least one more
field, typed actions, and a media URL whose variables follow a fixed https://host/ prefix.
A sent card's header file is fetched like a MediaUrl, named after its address."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import StandinServer


def account(standin: StandinServer) -> tuple[str, str]:
    created = standin.control("POST", "accounts", json={}).json()
    return created["account_sid"], created["auth_token"]


def create(standin: StandinServer, auth: tuple[str, str], card: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{standin.url}/v1/Content",
        auth=auth,
        json={
            "friendly_name": "doc_card",
            "language": "en",
            "variables": {"1": "Hello", "2": "t/Quote.pdf", "3": "q1"},
            "types": {"twilio/card": card},
        },
        timeout=10,
    )


ANSWERS = [
    {"type": "QUICK_REPLY", "title": "Accept", "id": "accept:{{3}}"},
    {"type": "QUICK_REPLY", "title": "Decline", "id": "decline:{{3}}"},
]


def test_a_card_with_a_document_header_and_quick_replies_is_created(
    standin: StandinServer,
) -> None:
    auth = account(standin)
    card = {"title": "{{1}}", "media": ["https://app.example.co.za/m/{{2}}"], "actions": ANSWERS}
    response = create(standin, auth, card)
    assert response.status_code == 201, response.text
    assert response.json()["types"]["twilio/card"] == card


@pytest.mark.parametrize(
    ("card", "problem"),
    [
        ({"media": ["https://a.example/x.pdf"], "actions": ANSWERS}, "needs a title"),
        ({"title": "Only a title"}, "besides its title"),
        ({"title": "t", "media": ["{{2}}"]}, "fixed https://host/"),
        ({"title": "t", "media": ["https://{{2}}/x.pdf"]}, "fixed https://host/"),
        ({"title": "t", "actions": [{"type": "REPLY", "title": "Yes"}]}, "action type"),
        ({"title": "t", "actions": [{"type": "QUICK_REPLY"}]}, "needs a title"),
    ],
)
def test_a_card_twilio_would_refuse_is_refused(
    standin: StandinServer, card: dict[str, Any], problem: str
) -> None:
    response = create(standin, account(standin), card)
    assert response.status_code == 400
    assert problem in response.json()["message"]
