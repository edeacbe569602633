"""Every validation message a person can see is plain English, never pydantic's or
email-validator's wording ("String should have at least 10 characters", "Input should be a
valid decimal", "The part after the @-sign…").

The walk is generated from the app's route table: every page is opened, every form on it is
sent blank, with junk and with far too much, and no answer may use a library's wording. A POST
route no page shows as a form must be named below as an action button or as not a form, so a
new form cannot slip past the walk.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from html.parser import HTMLParser
from typing import Any, get_args

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic_core import ErrorDetails, PydanticKnownError
from pydantic_core.core_schema import ErrorType
from starlette.routing import BaseRoute

from clientcompass.web.forms import plain_message
from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import sign_up
from tests.support.documents import draft, finalised
from tests.support.forms import api_headers
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile

# Buttons that act on a thing and carry no typed field: never sent by the walk (some sign out
# or delete), but a page may show them.
ACTIONS = {
    "/logout",
    "/logout-everywhere",
    "/contacts/{contact_id:uuid}/delete",
    "/inbox/canned/{canned_id:uuid}/delete",
    "/settings/documents/reminders/run",
    "/settings/team/invitations/{invitation_id}/revoke",
    "/settings/account/api-tokens/{token_id}/revoke",
    # The device list's buttons (the device is a hidden field), and the confirm button on the
    # page an email-change link opens (the token is a hidden field).
    "/settings/account/devices/sign-out",
    "/settings/account/devices/sign-out-others",
    # Data exports (lifecycle/export_views.py): "Export all business data" and a contact's
    # "Export this customer's data" are buttons; tests/exports test them.
    "/settings/export",
    "/contacts/{contact_id:uuid}/export",
    "/verify-email",
    # The confirm button on the page a reopen link opens (the token is a hidden field);
    # tests/closure test it.
    "/reopen",
    "/settings/team/api-tokens/{token_id}/revoke",
    "/settings/team/members/{user_id}/remove",
    "/templates/sync",
    "/templates/{template_id}/submit",
    "/templates/{template_id}/sync",
    "/d/{token}/accept",
    "/d/{token}/decline",
    "/settings/notifications/devices/{subscription_id:uuid}/remove",
    # The board's "Move to" buttons (a stage each); tests/leads checks the lost reason.
    "/leads/{lead_id:uuid}/stage",
    # A flow's publish button and each step's move and delete buttons (the step is a hidden
    # field); tests/flows/test_pages.py walks the builder's typed forms.
    "/flows/{flow_id:uuid}/publish",
    "/flows/{flow_id:uuid}/steps/move",
    "/flows/{flow_id:uuid}/steps/delete",
    # The thread's flow panel: Resume and Stop are buttons; Start's flow is a select of the
    # published flows (tests/flows test a bad id); the builder's "Try it on the sandbox".
    "/inbox/{conversation_id:uuid}/flow/resume",
    "/inbox/{conversation_id:uuid}/flow/stop",
    "/inbox/{conversation_id:uuid}/flow/start",
    "/sandbox/try-flow/{flow_id:uuid}",
    # One-click unsubscribe (RFC 8058): a button on the page an email's link opens.
    "/notifications/unsubscribe/{token}",
    # "I've read it" on the privacy-policy notice: a button, it records the current version.
    "/privacy/read",
    # Outgoing webhooks: buttons on a webhook's row (send a test, pause, resume, new secret,
    # delete); none carries a typed field.
    *(
        f"/settings/integrations/webhooks/{{webhook_id:uuid}}/{_action}"
        for _action in ("test", "pause", "resume", "rotate", "delete")
    ),
}
for _kind in ("quotes", "invoices"):
    for _action in ("finalise", "duplicate", "delete", "accept", "decline", "convert"):
        ACTIONS.add(f"/{_kind}/{{document_id:uuid}}/{_action}")
    # "Submit the suggested template to WhatsApp": a button, the app writes the template.
    ACTIONS.add(f"/{_kind}/{{document_id:uuid}}/send-template")
# POST routes that no page shows as a form of its own.
NOT_FORMS = {
    "/webhooks/twilio/{key}/inbound",
    "/webhooks/twilio/{key}/status",
    "/meta/data-deletion",  # Meta's server-to-server callback; tests/lifecycle_data test it
    "/documents/preview",  # the editor's live totals (htmx), not a form
    "/templates/preview",  # the template editor's live preview (htmx)
    "/sandbox/tap",  # a quick-reply button in the sandbox phone
    "/contacts/{contact_id:uuid}/panel",  # the inbox's contact panel, walked through the API
    # A step's edit form shows under ?edit=<step>; tests/flows/test_pages.py walks it with
    # blank, junk and long input.
    "/flows/{flow_id:uuid}/steps/edit",
}
# Pages that never hold a form, or cannot be fetched as one.
SKIP_PAGES = re.compile(r"/events$|\.csv$|/pdf$|/logo$|/export$|^/(healthz|readyz|metrics)$")

EMAIL_VALIDATOR = [
    "@-sign",
    "The email address is not valid",
    "valid email address",
    "The domain name",
    "is not a valid postal address",
]


def _template(kind: str) -> str:
    ctx: dict[str, Any] = {}
    for _ in range(6):
        try:
            return PydanticKnownError(kind, ctx or None).message_template  # type: ignore[arg-type]
        except (KeyError, TypeError) as exc:
            needed = re.search(r"'(\w+)' required in context", str(exc))
            number = re.search(r"'(\w+)' context value must be a", str(exc))
            if needed is not None:
                ctx[needed.group(1)] = "x"
            elif number is not None:
                ctx[number.group(1)] = 1
            else:
                raise
    raise AssertionError(kind)


def library_wording() -> re.Pattern[str]:
    """Every pydantic default message (from pydantic-core's own templates), and email-validator's."""
    patterns = [re.escape(text) for text in EMAIL_VALIDATOR]
    for kind in get_args(ErrorType):
        pieces = re.split(r"\{\w+\}", _template(kind))
        if sum(len(piece.strip(" ,.:")) for piece in pieces) < 6:
            continue  # "{error}": nothing of pydantic's own to recognise
        patterns.append(r".{0,80}?".join(re.escape(piece) for piece in pieces if piece))
    return re.compile("|".join(patterns))


LIBRARY = library_wording()


def test_the_pattern_knows_the_library_wording() -> None:
    for text in (
        "String should have at least 10 characters",
        "Input should be a valid decimal",
        "Field required",
        "Input should be 'open', 'pending' or 'resolved'",
        "value is not a valid email address: The part after the @-sign is not valid.",
    ):
        assert LIBRARY.search(text), text


def error(kind: str, ctx: dict[str, Any] | None = None, msg: str = "") -> ErrorDetails:
    details: ErrorDetails = {"type": kind, "loc": ("field",), "msg": msg, "input": ""}
    if ctx is not None:
        details["ctx"] = ctx
    return details


@pytest.mark.parametrize(
    ("kind", "ctx", "plain"),
    [
        ("string_too_short", {"min_length": 10}, "Use at least 10 characters."),
        ("string_too_short", {"min_length": 1}, "Fill this in."),
        ("string_too_long", {"max_length": 200}, "Use at most 200 characters."),
        ("missing", None, "Fill this in."),
        ("decimal_parsing", None, "Enter a number, like 150 or 150.50."),
        ("int_parsing", None, "Enter a whole number, like 3."),
        ("greater_than", {"gt": 0}, "Enter a number above 0."),
        ("less_than_equal", {"le": 100}, "Enter 100 or less."),
        ("enum", {"expected": "'open', 'pending' or 'resolved'"}, None),
        ("uuid_parsing", {"error": "invalid character"}, "Choose one of the options given."),
        ("value_error", {"reason": "The part after the @-sign is not valid."}, None),
        ("value_error", {"error": ValueError("Enter the VAT number: 10 digits.")}, None),
    ],
)
def test_each_error_type_reads_as_a_sentence(
    kind: str, ctx: dict[str, Any] | None, plain: str | None
) -> None:
    message = plain_message(error(kind, ctx, msg="String should have at least 10 characters"))
    assert not LIBRARY.search(message), message
    if plain is not None:
        assert message == plain
    if kind == "enum":
        assert message == "Choose one of: open, pending or resolved."
    if kind == "value_error" and ctx and "error" in ctx:
        assert message == "Enter the VAT number: 10 digits."  # our own words, kept
    if kind == "value_error" and ctx and "reason" in ctx:
        assert message == "Enter an email address like name@example.co.za."


def test_our_custom_error_types_keep_their_words() -> None:
    assert plain_message(error("phone_invalid", {}, "Enter a South African number.")) == (
        "Enter a South African number."
    )


def test_no_pydantic_type_falls_through_to_its_own_wording() -> None:
    for kind in get_args(ErrorType):
        message = plain_message(error(kind, {}, msg=_template(kind)))
        assert not LIBRARY.search(message), (kind, message)


# -- the walk ---------------------------------------------------------------------------


def routes(app: FastAPI) -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route, included routers unfolded."""

    def walk(items: Sequence[BaseRoute], prefix: str) -> Iterator[tuple[str, set[str]]]:
        for route in items:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                yield from walk(inner.routes, prefix + route.include_context.prefix)  # type: ignore[attr-defined]
            elif isinstance(route, APIRoute):
                yield prefix + route.path, set(route.methods)

    yield from walk(app.routes, "")


def route_regex(path: str) -> re.Pattern[str]:
    """Starlette's matching: `{x:uuid}` only matches a UUID, so /contacts/import is not a contact."""
    pattern = ""
    for literal, param in re.findall(r"([^{]*)(\{[^}]+\})?", path):
        pattern += re.escape(literal)
        if param:
            pattern += r"[0-9a-fA-F-]{36}" if param.endswith(":uuid}") else r"[^/]+"
    return re.compile("^" + pattern + "$")


class Forms(HTMLParser):
    """The POST forms of a page: action and fields (name → what a browser would send)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, tuple[str, str]]]] = []
        self._fields: dict[str, tuple[str, str]] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and (a.get("method", "").lower() == "post" or a.get("hx-post")):
            self._fields = {}
            self.forms.append((a.get("action") or a.get("hx-post", ""), self._fields))
        if self._fields is None or not a.get("name"):
            return
        if tag == "input" and a.get("type") not in ("checkbox", "radio", "file", "submit"):
            self._fields[a["name"]] = (a.get("type") or "text", a.get("value", ""))
        elif tag in ("textarea", "select", "button"):
            self._fields.setdefault(a["name"], (tag, a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._fields = None


def forms_of(html: str) -> list[tuple[str, dict[str, tuple[str, str]]]]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


def bad_values(fields: dict[str, tuple[str, str]], how: str) -> dict[str, str]:
    """What a person gets wrong: nothing typed, junk, or far too much."""
    values: dict[str, str] = {}
    for name, (kind, value) in fields.items():
        if kind == "hidden" or name in ("csrf_token", "next", "token"):
            values[name] = value
        elif how == "blank":
            values[name] = ""
        elif how == "long":
            values[name] = "9" * 5000
        else:
            values[name] = {"email": "someone@nowhere", "select": "not-a-choice"}.get(kind, "abc")
    return values


def invitation_token(owner: httpx.Client) -> str:
    page = owner.get("/settings/team").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token
    email = f"walk-{uuid.uuid4().hex[:8]}@example.co.za"
    sent = owner.post(
        "/settings/team/invite",
        data={"email": email, "role": "agent", "csrf_token": token.group(1)},
    )
    link = re.search(r"/invite\?token=([^\"&<]+)", sent.text)
    assert link, sent.text[:500]
    return link.group(1)


def approved_template(
    client: httpx.Client, headers: dict[str, str], standin: StandinServer
) -> None:
    template = client.post(
        "/api/v1/templates",
        json={
            "name": f"walk_{uuid.uuid4().hex[:6]}",
            "category": "UTILITY",
            "body": "Hi {{1}}, your quote is ready.",
            "variables": {"1": "Sipho"},
        },
        headers=headers,
    ).json()
    submitted = client.post(f"/api/v1/templates/{template['id']}/submit", headers=headers).json()
    standin.control(
        "POST", f"content/{submitted['content_sid']}/approval", json={"status": "approved"}
    )
    client.post(f"/api/v1/templates/{template['id']}/sync", headers=headers)


def test_every_form_of_the_app_answers_bad_input_in_plain_english(
    client: httpx.Client,
    live_server: LiveServer,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
) -> None:
    sign_up(client)
    headers = api_headers(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "Can you fix my geyser?")
    conversation = conversation_with(client, phone)
    # A second conversation whose 24-hour window has closed shows the template picker.
    quiet = sa_mobile()
    customer_says(standin, channel, quiet, "Thanks, bye")
    closed = conversation_with(client, quiet)
    owner_conn.execute(
        "update conversations set last_inbound_at = now() - interval '25 hours' where id = %s",
        (closed["id"],),
    )
    approved_template(client, headers, standin)
    contact = client.post(
        "/api/v1/contacts", json={"name": "Sipho Walk", "phone": sa_mobile()}, headers=headers
    ).json()
    canned = client.post(
        "/api/v1/canned-responses", json={"shortcut": "omw", "body": "On my way"}, headers=headers
    ).json()
    quote = draft(client, headers)
    invoice = finalised(client, headers, "invoices")
    drafts = {"quotes": quote, "invoices": draft(client, headers, "invoices")}
    flow = client.post(
        "/api/v1/flows", json={"name": "Walk", "starter": "plumber-call-out"}, headers=headers
    ).json()
    ids = {"contact_id": contact["id"], "canned_id": canned["id"], "flow_id": flow["id"]}
    all_routes = [(path, methods) for path, methods in routes(live_server.app)]
    post_routes = {
        path
        for path, methods in all_routes
        if "POST" in methods and not path.startswith(("/api/", "/__twilio"))
    }
    pages: list[tuple[httpx.Client, str]] = []
    with httpx.Client(base_url=live_server.url, timeout=20) as anonymous:
        token = invitation_token(client)
        for path, methods in all_routes:
            if "GET" not in methods or path.startswith(("/api/", "/__twilio", "/static")):
                continue
            if SKIP_PAGES.search(path):
                continue
            document = invoice if path.startswith("/invoices") else quote
            if path.endswith("/edit"):
                document = drafts["invoices" if path.startswith("/invoices") else "quotes"]
            values = {**ids, "document_id": document["id"]}
            names = re.findall(r"\{(\w+)(?::\w+)?\}", path)
            if any(name not in {*values, "conversation_id"} for name in names):
                continue
            for conversation_id in (conversation["id"], closed["id"]):
                values["conversation_id"] = conversation_id
                url = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m, v=values: v[m.group(1)], path)
                if (client, url) not in pages:
                    pages.append((client, url))
            if not names:
                pages.append((anonymous, url))
        pages.append((anonymous, f"/invite?token={token}"))
        pages.append((anonymous, "/reset-password?token=not-a-token"))

        walked: set[str] = set()
        seen: set[str] = set()
        answers: list[str] = []
        for who, url in pages:
            response = who.get(url)
            if "text/html" not in response.headers.get("content-type", ""):
                continue
            for action, fields in forms_of(response.text):
                target = action.split("?", 1)[0] or url.split("?", 1)[0]
                matching = [r for r in post_routes if route_regex(r).match(target)]
                route = min(matching, key=lambda r: r.count("{"), default=None)
                assert route is not None, f"{url}: a form posts to {action}, which is no route"
                seen.add(route)
                if route in ACTIONS or (who is anonymous) != (route in ANONYMOUS_FORMS):
                    continue
                key = f"{route} {sorted(fields)}"
                if key in walked:
                    continue
                walked.add(key)
                for how in ("blank", "junk", "long"):
                    sent = who.post(action or url, data=bad_values(fields, how))
                    answers.append(f"{url} → {action} ({how}) {sent.status_code}")
                    found = LIBRARY.search(sent.text)
                    assert found is None, (
                        f"{url}: the form posting to {action}, sent {how}, answered "
                        f"{found.group(0)!r}: map that error type in web/forms.py"
                    )

    unknown = post_routes - seen - ACTIONS - NOT_FORMS
    assert unknown == set(), (
        f"POST routes not walked: {sorted(unknown)}. Show the form on a page the walk opens, "
        "or name it in ACTIONS / NOT_FORMS with a reason"
    )
    assert any(" 422" in line for line in answers), answers


ANONYMOUS_FORMS = {"/signup", "/login", "/forgot-password", "/reset-password", "/invite"}


def test_the_json_api_answers_422_in_plain_english(
    client: httpx.Client, standin: StandinServer
) -> None:
    sign_up(client)
    headers = api_headers(client)
    contact = client.post(
        "/api/v1/contacts",
        json={"name": "x" * 300, "phone": "", "email": "someone@nowhere"},
        headers=headers,
    )
    quote = client.post(
        "/api/v1/quotes",
        json={"lines": [{"description": "Geyser", "quantity": "lots", "unit_price": "-5"}]},
        headers=headers,
    )
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "Hello")
    cid = conversation_with(client, phone)["id"]
    status = client.post(
        f"/api/v1/conversations/{cid}/status", json={"status": "sleeping"}, headers=headers
    )
    assignee = client.post(
        f"/api/v1/conversations/{cid}/assignee", json={"assignee_id": "nobody"}, headers=headers
    )
    for response in (contact, quote, status, assignee):
        assert response.status_code == 422, response.text
        body = response.json()["error"]
        assert body["fields"], body
        text = response.text
        assert not LIBRARY.search(text), text
    assert status.json()["error"]["fields"]["status"].startswith("Choose one of: ")
    assert assignee.json()["error"]["fields"]["assignee_id"] == "Choose one of the options given."
