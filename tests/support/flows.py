"""A flow published through the API, and the six-step flow the crash tests and
`bench/flows` drive a customer through (every answer below is a good one)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.forms import api_headers

FLOWS = "/api/v1/flows"

# Five questions and a goodbye: each good answer is followed by exactly one message.
SIX_STEPS: dict[str, Any] = {
    "format": 1,
    "trigger": {"kind": "new_contact"},
    "nudge_after_minutes": 60,
    "steps": [
        {
            "kind": "ask",
            "id": "name",
            "title": "Name",
            "text": "Hi! What's your name?",
            "expect": "name",
            "save_as": "name",
        },
        {
            "kind": "choose",
            "id": "service",
            "title": "Service",
            "text": "Thanks {name}. What do you need?",
            "options": [
                {"id": "leak", "title": "A leak", "next": "suburb"},
                {"id": "geyser", "title": "Geyser", "next": "suburb"},
                {"id": "other", "title": "Something else", "next": "suburb"},
            ],
            "save_as": "service",
        },
        {
            "kind": "ask",
            "id": "suburb",
            "title": "Suburb",
            "text": "Which suburb is the job in?",
            "expect": "address",
            "save_as": "suburb",
        },
        {
            "kind": "ask",
            "id": "rooms",
            "title": "Rooms",
            "text": "How many bathrooms are there?",
            "expect": "number",
            "minimum": 1,
            "maximum": 20,
            "save_as": "rooms",
        },
        {
            "kind": "ask",
            "id": "when",
            "title": "When",
            "text": "When may we come round?",
            "expect": "datetime",
            "save_as": "visit",
        },
        {"kind": "end", "id": "bye", "title": "Bye", "text": "Thanks {name}, see you then."},
    ],
}

# What a customer sends: the first message (which starts the run), then one good answer
# to each question; `QUESTIONS[k]` is what the app sends after `CUSTOMER[k]`.
CUSTOMER = ["Hi, my geyser is leaking", "Thandi Mokoena", "2", "Sea Point", "3", "tomorrow 2pm"]
QUESTIONS = [
    "Hi! What's your name?",
    "Thanks Thandi Mokoena. What do you need?",
    "Which suburb is the job in?",
    "How many bathrooms are there?",
    "When may we come round?",
    "Thanks Thandi Mokoena, see you then.",
]


def publish(client: httpx.Client, definition: dict[str, Any], name: str = "Qualify") -> str:
    """Create, save and publish a flow as the signed-in member; its id."""
    headers = api_headers(client)
    created = client.post(FLOWS, json={"name": name}, headers=headers)
    assert created.status_code == 201, created.text
    flow_id: str = created.json()["id"]
    saved = client.put(f"{FLOWS}/{flow_id}", json={"definition": definition}, headers=headers)
    assert saved.status_code == 200, saved.text
    published = client.post(f"{FLOWS}/{flow_id}/publish", headers=headers)
    assert published.status_code == 201, published.text
    return flow_id
