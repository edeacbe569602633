"""Starter flows a business begins from, written as a good receptionist would ask.

Each is a plain definition dict (the stored format) so a new flow's draft is a copy the
business then edits; tests/flows checks that every starter passes the validator.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Starter:
    slug: str
    name: str
    summary: str
    definition: dict[str, Any]

    def copy(self) -> dict[str, Any]:
        return copy.deepcopy(self.definition)


def _send(id: str, title: str, text: str, **more: Any) -> dict[str, Any]:
    return {"kind": "send", "id": id, "title": title, "text": text, **more}


def _ask(
    id: str, title: str, text: str, save_as: str, expect: str = "text", **more: Any
) -> dict[str, Any]:
    return {
        "kind": "ask",
        "id": id,
        "title": title,
        "text": text,
        "expect": expect,
        "save_as": save_as,
        **more,
    }


PLUMBER = Starter(
    "plumber-call-out",
    "New customer: plumber call-out",
    "Greets a new customer, asks what's wrong, how urgent it is and where, then hands the "
    "team a ready lead.",
    {
        "format": 1,
        "trigger": {"kind": "new_contact"},
        "steps": [
            _send(
                "welcome",
                "Welcome",
                "Hi there, thanks for getting in touch! I'll ask a few "
                "quick questions so our plumber can help you faster.",
            ),
            _ask("name", "Their name", "What's your name, please?", "name", "name"),
            {
                "kind": "choose",
                "id": "problem",
                "title": "What's the problem",
                "text": "Thanks {name}. What can we help you with?",
                "style": "list",
                "button": "Pick one",
                "save_as": "service",
                "options": [
                    {"id": "burst", "title": "Burst pipe or leak", "next": "urgency"},
                    {"id": "geyser", "title": "Geyser problem", "next": "urgency"},
                    {"id": "blocked", "title": "Blocked drain or toilet", "next": "urgency"},
                    {"id": "other", "title": "Something else", "next": "describe"},
                ],
            },
            _ask(
                "describe",
                "Describe the job",
                "No problem. Please tell us a bit about the job.",
                "details",
                next="urgency",
            ),
            {
                "kind": "choose",
                "id": "urgency",
                "title": "How urgent",
                "text": "How urgent is it?",
                "style": "buttons",
                "save_as": "urgency",
                "options": [
                    {"id": "now", "title": "Emergency", "next": "where"},
                    {"id": "soon", "title": "This week", "next": "where"},
                    {"id": "later", "title": "No rush", "next": "where"},
                ],
            },
            _ask(
                "where",
                "Where",
                "Which suburb are you in? You can also share your location pin.",
                "suburb",
                "address",
                hint="Just the suburb is fine, e.g. Randburg.",
            ),
            _ask(
                "photo",
                "A photo",
                "If you can, please send a photo of the problem. It helps "
                "us bring the right parts.",
                "photos",
                "photo",
                hint="Please send it as a photo.",
                max_tries=2,
            ),
            {
                "kind": "lead",
                "id": "lead",
                "title": "Save the lead",
                "fields": {
                    "service": "service",
                    "urgency": "urgency",
                    "suburb": "suburb",
                    "photos": "photos",
                },
            },
            {
                "kind": "assign",
                "id": "assign",
                "title": "Give it to the next plumber",
                "to": "round_robin",
            },
            {
                "kind": "notify",
                "id": "tell-team",
                "title": "Tell the team",
                "text": "New call-out from {name} in {suburb}: {service} ({urgency}).",
            },
            {
                "kind": "handoff",
                "id": "done",
                "title": "Hand over",
                "text": "Thanks {name}, that's everything. One of our plumbers will be in touch "
                "shortly.",
            },
        ],
    },
)

QUOTE = Starter(
    "quote-with-photos",
    "Quote request with photos",
    "Collects the job, photos, address and a budget so you can quote without a site visit.",
    {
        "format": 1,
        "trigger": {"kind": "keyword", "keywords": ["quote", "kwotasie"]},
        "steps": [
            _send("hello", "Hello", "Hi! Happy to give you a quote. I just need a few details."),
            _ask("job", "The job", "What would you like us to quote on?", "service"),
            _ask(
                "photos",
                "Photos",
                "Please send a photo or two of the area we'll work on.",
                "photos",
                "photo",
                hint="Tap the camera or attach button and send a photo.",
                max_tries=2,
            ),
            _ask(
                "address",
                "Address",
                "What's the address or suburb for the job?",
                "suburb",
                "address",
                hint="A suburb is fine, or share your location pin.",
            ),
            _ask(
                "budget",
                "Budget",
                "Roughly what budget do you have in mind, in rand? Send 0 if you're not sure.",
                "budget",
                "number",
                minimum=0,
                hint="Just a number, e.g. 5000.",
            ),
            _ask(
                "email",
                "Email",
                "And an email address for the quote?",
                "email",
                "email",
                hint="That doesn't look like an email address, e.g. thandi@example.co.za.",
            ),
            {
                "kind": "set_field",
                "id": "save-email",
                "title": "Save their email",
                "field": "email",
                "value": "{email}",
            },
            {
                "kind": "lead",
                "id": "lead",
                "title": "Save the lead",
                "fields": {
                    "service": "service",
                    "photos": "photos",
                    "suburb": "suburb",
                    "estimated_value": "budget",
                },
            },
            {
                "kind": "notify",
                "id": "tell-team",
                "title": "Tell the team",
                "text": "Quote request: {service} in {suburb}, budget R{budget}.",
            },
            {
                "kind": "end",
                "id": "thanks",
                "title": "Thanks",
                "text": "Thank you! We'll send your quote within one working day.",
            },
        ],
    },
)

AFTER_HOURS = Starter(
    "after-hours",
    "After-hours reply",
    "Tells customers you're closed, takes a message, and lets emergencies through.",
    {
        "format": 1,
        "trigger": {"kind": "outside_hours"},
        "steps": [
            {
                "kind": "choose",
                "id": "closed",
                "title": "We're closed",
                "text": "Hi! Our office is closed right now, but we'll get back to you first "
                "thing. Is this an emergency?",
                "style": "buttons",
                "save_as": "emergency",
                "options": [
                    {"id": "yes", "title": "Yes, emergency", "next": "emergency"},
                    {"id": "no", "title": "No, it can wait", "next": "message"},
                ],
            },
            {
                "kind": "tag",
                "id": "emergency",
                "title": "Mark as emergency",
                "tag": "after-hours emergency",
            },
            {
                "kind": "notify",
                "id": "call-out",
                "title": "Call the standby person",
                "text": "After-hours emergency from a customer: please respond now.",
            },
            {
                "kind": "handoff",
                "id": "standby",
                "title": "Hand to standby",
                "text": "Thanks, we've alerted our standby team. Someone will contact you soon.",
            },
            _ask(
                "message",
                "Take a message",
                "No problem. Please leave us a message and we'll reply when we open.",
                "message",
            ),
            {
                "kind": "end",
                "id": "noted",
                "title": "Noted",
                "text": "Got it, thank you. Speak soon!",
            },
        ],
    },
)

SITE_VISIT = Starter(
    "site-visit",
    "Booking a site visit",
    "Finds a day and time for a site visit and the address, then hands it to the team.",
    {
        "format": 1,
        "trigger": {"kind": "keyword", "keywords": ["visit", "book"]},
        "steps": [
            _ask(
                "name",
                "Their name",
                "Hi! Let's book a site visit. What's your name?",
                "name",
                "name",
            ),
            _ask(
                "address",
                "Address",
                "Thanks {name}. What's the address for the visit? You "
                "can share your location pin too.",
                "address",
                "address",
            ),
            {
                "kind": "choose",
                "id": "when",
                "title": "Preferred time",
                "text": "When suits you best?",
                "style": "buttons",
                "save_as": "slot",
                "options": [
                    {"id": "morning", "title": "Morning (8-12)", "next": "day"},
                    {"id": "afternoon", "title": "Afternoon (12-5)", "next": "day"},
                ],
            },
            _ask(
                "day",
                "Which day",
                "Which day would you like? e.g. Tuesday 14 July.",
                "day",
                "datetime",
                hint="Please send a date, e.g. 14/07 or Tuesday.",
            ),
            {
                "kind": "set_field",
                "id": "save-address",
                "title": "Save the address",
                "field": "address",
                "value": "{address}",
            },
            {
                "kind": "lead",
                "id": "lead",
                "title": "Save the lead",
                "fields": {"suburb": "address", "notes": "slot"},
            },
            {
                "kind": "notify",
                "id": "tell-team",
                "title": "Tell the team",
                "text": "Site visit request from {name}: {day}, {slot}, at {address}.",
            },
            {
                "kind": "handoff",
                "id": "confirm",
                "title": "Confirm by a person",
                "text": "Thanks {name}! We'll confirm the visit shortly.",
            },
        ],
    },
)

STARTERS: dict[str, Starter] = {s.slug: s for s in (PLUMBER, QUOTE, AFTER_HOURS, SITE_VISIT)}
