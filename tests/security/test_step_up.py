"""Step-up before every destructive action (accounts/step_up.py), tried the way an attacker
with a borrowed session or a stolen API token would.

The routes come from the app's route table: every DELETE and every POST whose path ends in
/delete, /remove, /revoke, /erase or /close must declare the step-up or be exempted below
with the reason, so a destructive route added tomorrow without one fails here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from clientcompass.accounts.step_up import STEP_UP_MINUTES, StepUp
from clientcompass.models import Role
from tests.conftest import LiveServer
from tests.security.conftest import Tenant, api_token
from tests.support import factories
from tests.support.accounts import PASSWORD, log_in, sign_up
from tests.support.documents import draft, vat_business
from tests.support.forms import api_headers, page_csrf
from tests.support.step_up import CONFIRM, expire_step_up, step_up, stepped_up_at
from tests.support.whatsapp import sa_mobile

DESTRUCTIVE_ENDING = re.compile(r"/(delete|remove|revoke|erase|close)$")

# Destructive by their path, and deliberately without the step-up: each only takes access
# away or is undone in a click (the module docstring of accounts/step_up.py says more).
EXEMPT = {
    ("POST", "/inbox/{conversation_id:uuid}/labels/remove"): "a label, added again in a click",
    ("DELETE", "/api/v1/conversations/{conversation_id}/labels/{label}"): "the same label",
    ("POST", "/flows/{flow_id:uuid}/steps/delete"): "a step of a draft; the live flow is kept",
    ("POST", "/settings/notifications/devices/{subscription_id:uuid}/remove"): (
        "one's own push device; turned on again from that device"
    ),
    ("DELETE", "/api/v1/push-subscriptions/{subscription_id:uuid}"): "the same device",
}
# Destructive, and confirmed by a password field of their own (honouring the window): their
# tests are in tests/erasure and tests/closure; here only that they refuse without one.
PASSWORD_IN_BODY = {
    ("POST", "/contacts/{contact_id:uuid}/erase"),
    ("POST", "/api/v1/contacts/{contact_id:uuid}/erase"),
    ("POST", "/settings/close"),
    ("POST", "/api/v1/business/close"),
}


def _declares_step_up(dependant: Dependant) -> bool:
    return any(
        isinstance(dep.call, StepUp) or _declares_step_up(dep) for dep in dependant.dependencies
    )


def destructive_routes(app: FastAPI) -> Iterator[tuple[str, str, APIRoute | None]]:
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = str(context.path)
        for method in sorted((context.methods or set()) - {"HEAD"}):
            if method == "DELETE" or (method == "POST" and DESTRUCTIVE_ENDING.search(path)):
                yield method, path, route if isinstance(route, APIRoute) else None


def step_up_routes(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(
        (method, path)
        for method, path, route in destructive_routes(app)
        if route is not None and _declares_step_up(route.dependant)
    )


def fill(path: str, values: Callable[[str], str]) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values(m.group(1)), path)


def test_every_destructive_route_confirms_its_caller_or_is_exempt_with_a_reason(
    live_server: LiveServer,
) -> None:
    found = list(destructive_routes(live_server.app))
    covered = set(step_up_routes(live_server.app))
    missing = [
        f"{method} {path}"
        for method, path, _ in found
        if (method, path) not in covered | set(EXEMPT) | PASSWORD_IN_BODY
    ]
    assert not missing, (
        "These destructive routes neither declare `confirmed: None = confirm(...)` "
        "(accounts/step_up.py) nor are exempted in tests/security/test_step_up.py:\n"
        + "\n".join(missing)
    )
    # The lists name routes that exist: a renamed route cannot hide behind a stale entry.
    every = {(method, path) for method, path, _ in found}
    assert set(EXEMPT) | PASSWORD_IN_BODY <= every, (set(EXEMPT) | PASSWORD_IN_BODY) - every
    assert not covered & set(EXEMPT), "a route is both covered and exempt"
    # The pages and the API both: at least these.
    assert {
        ("POST", "/settings/team/members/{user_id}/remove"),
        ("DELETE", "/api/v1/members/{user_id}"),
        ("DELETE", "/api/v1/contacts/{contact_id:uuid}"),
        ("POST", "/contacts/{contact_id:uuid}/delete"),
        ("DELETE", "/api/v1/quotes/{document_id:uuid}"),
        ("POST", "/quotes/{document_id:uuid}/delete"),
    } <= covered


@pytest.fixture
def clean_throttle(redis_client: redis.Redis) -> Iterator[None]:
    """Wrong passwords here count against the sign-in throttle, as they should; the count is
    not left for the next test to trip over."""
    yield
    for key in redis_client.scan_iter("login-fail:*"):
        redis_client.delete(key)


def test_each_covered_route_refuses_an_unconfirmed_caller_before_anything_else(
    client: httpx.Client, live_server: LiveServer, clean_throttle: None
) -> None:
    """Random ids: a route that looked the object up before asking would answer 404."""
    account = sign_up(client)
    token, _ = api_token(account, client)
    csrf = page_csrf(client, "/settings/account")
    problems = []
    with httpx.Client(base_url=str(client.base_url), timeout=20) as bearer:
        bearer.headers["Authorization"] = f"Bearer {token}"
        for method, path in step_up_routes(live_server.app):
            url = fill(path, lambda name: "x" if name == "label" else str(uuid.uuid4()))
            if url.startswith("/api/"):
                for who, caller, headers in (
                    ("session", client, {"X-CSRF-Token": csrf}),
                    ("token", bearer, {}),
                ):
                    answer = caller.request(method, url, headers=headers)
                    code = _code(answer)
                    if answer.status_code != 403 or code != "step_up_required":
                        problems.append(f"{method} {url} ({who}) → {answer.status_code} {code}")
            else:
                answer = client.request(method, url, data={"csrf_token": csrf, "note": "kept"})
                form = re.search(r'<form method="post" action="([^"]+)"', answer.text)
                if (
                    answer.status_code != 403
                    or "Confirm it's you" not in answer.text
                    or form is None
                    or form.group(1) != url
                    or f'value="{csrf}"' not in answer.text
                    or 'name="note" value="kept"' not in answer.text
                ):
                    problems.append(f"{method} {url} (page) → {answer.status_code}")
    assert not problems, "\n".join(problems)


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def test_another_business_still_reaches_nothing_with_its_own_password(
    live_server: LiveServer, victim: Tenant, attacker: Tenant, clean_throttle: None
) -> None:
    """Confirmed (its own password, right), the attacker meets the tenant wall: 404 (403 for
    a member of no rank there), and every one of the victim's objects is still there."""
    kinds = {
        "contact_id": "contact",
        "user_id": "user",
        "token_id": "token",
        "invitation_id": "invitation",
        "webhook_id": "webhook",
        "canned_id": "canned",
        "document_id": "document",
    }
    before = _victim_view(victim)
    csrf = page_csrf(attacker.client, "/settings/account")
    problems: list[str] = []
    tried: set[str] = set()
    with httpx.Client(base_url=live_server.url, timeout=20) as bearer:
        bearer.headers["Authorization"] = f"Bearer {attacker.token}"
        for method, path in step_up_routes(live_server.app):
            params = re.findall(r"\{(\w+)(?::\w+)?\}", path)
            assert all(p in kinds for p in params), (path, params)
            collection = path.removeprefix("/api/v1").split("/")[1]
            for values in _combinations(params, kinds, victim, collection):
                url = fill(path, values.__getitem__)
                if url.startswith("/api/"):
                    answers = [
                        attacker.client.request(
                            method, url, headers={"X-CSRF-Token": csrf, **CONFIRM}
                        ),
                        bearer.request(method, url, headers=CONFIRM),
                    ]
                else:
                    answers = [
                        attacker.client.request(
                            method, url, data={"csrf_token": csrf, "password": PASSWORD}
                        )
                    ]
                tried.add(f"{method} {path}")
                for answer in answers:
                    if answer.status_code not in (403, 404) or _code(answer).startswith("step"):
                        problems.append(f"{method} {url} → {answer.status_code} {_code(answer)}")
    assert not problems, "\n".join(problems)
    assert tried == set(map(" ".join, step_up_routes(live_server.app))), "a route went untried"
    assert stepped_up_at(attacker.client) is not None, "the right password opened the window"
    assert _victim_view(victim) == before


def _combinations(
    params: list[str], kinds: dict[str, str], victim: Tenant, collection: str
) -> Iterator[dict[str, str]]:
    if not params:
        return
    (param,) = params  # every covered route names one object
    kind = kinds[param]
    if kind == "document":
        kind = collection if collection in victim.ids else kind
    for value in victim.ids.get(kind, []):
        yield {param: value}


def _victim_view(victim: Tenant) -> dict[str, Any]:
    client = victim.client
    return {
        "members": client.get("/api/v1/members").json(),
        "tokens": client.get("/api/v1/api-tokens?everyone=true").json(),
        "contacts": [
            client.get(f"/api/v1/contacts/{c}").status_code for c in victim.ids["contact"]
        ],
        "webhooks": client.get("/api/v1/webhooks").json(),
        "canned": client.get("/api/v1/canned-responses").json(),
        "quotes": [client.get(f"/api/v1/quotes/{q}").status_code for q in victim.ids["quotes"]],
        "team": "pending-" in client.get("/settings/team").text,
    }


# -- each action, as a page and as JSON --------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One destructive action: how to make its object, where to destroy it, how to see it."""

    name: str
    audit: str
    make: Callable[[httpx.Client, dict[str, str]], str]
    page: str  # path template with {id}
    api: str  # DELETE path template with {id}, or "" when there is no JSON route
    exists: Callable[[httpx.Client, str], bool]


def _contact(client: httpx.Client, headers: dict[str, str]) -> str:
    made = client.post(
        "/api/v1/contacts", json={"name": "Thandi Step", "phone": sa_mobile()}, headers=headers
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _webhook(client: httpx.Client, headers: dict[str, str]) -> str:
    made = client.post(
        "/api/v1/webhooks",
        json={"url": f"https://hooks.example.com/{uuid.uuid4().hex}", "events": ["lead.created"]},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _canned(client: httpx.Client, headers: dict[str, str]) -> str:
    made = client.post(
        "/api/v1/canned-responses",
        json={"shortcut": f"s{uuid.uuid4().hex[:6]}", "body": "We are on our way."},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _quote(client: httpx.Client, headers: dict[str, str]) -> str:
    return str(draft(client, headers, "quotes", phone=sa_mobile())["id"])


def _member(client: httpx.Client, headers: dict[str, str]) -> str:
    tenant_id, owner_id = factories.signed_in_as(client)
    joined = factories.teammate(
        factories.settings_of(client),
        tenant_id,
        owner_id,
        email=factories.unique_email("agent"),
        role=Role.AGENT,
        name="Agent Step",
    )
    return str(joined.user_id)


def _token(client: httpx.Client, headers: dict[str, str]) -> str:
    tenant_id, user_id = factories.signed_in_as(client)
    account = factories.Account("", PASSWORD, "", tenant_id, user_id)
    return api_token(account, client)[1]


def _invitation(client: httpx.Client, headers: dict[str, str]) -> str:
    made = client.post(
        "/api/v1/invitations", json={"email": factories.unique_email("invited")}, headers=headers
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


ACTIONS = [
    Action(
        "contact",
        "contact_deleted",
        _contact,
        "/contacts/{id}/delete",
        "/api/v1/contacts/{id}",
        lambda c, i: c.get(f"/api/v1/contacts/{i}").status_code == 200,
    ),
    Action(
        "webhook",
        "webhook_deleted",
        _webhook,
        "/settings/integrations/webhooks/{id}/delete",
        "/api/v1/webhooks/{id}",
        lambda c, i: c.get(f"/api/v1/webhooks/{i}").status_code == 200,
    ),
    Action(
        "canned",
        "canned_response_deleted",
        _canned,
        "/inbox/canned/{id}/delete",
        "/api/v1/canned-responses/{id}",
        lambda c, i: i in {r["id"] for r in c.get("/api/v1/canned-responses").json()},
    ),
    Action(
        "quote",
        "document_deleted",
        _quote,
        "/quotes/{id}/delete",
        "/api/v1/quotes/{id}",
        lambda c, i: c.get(f"/api/v1/quotes/{i}").status_code == 200,
    ),
    Action(
        "member",
        "member_removed",
        _member,
        "/settings/team/members/{id}/remove",
        "/api/v1/members/{id}",
        lambda c, i: any(m["id"] == i and m["is_active"] for m in c.get("/api/v1/members").json()),
    ),
    Action(
        "own token",
        "api_token_revoked",
        _token,
        "/settings/account/api-tokens/{id}/revoke",
        "/api/v1/api-tokens/{id}",
        lambda c, i: i in {t["id"] for t in c.get("/api/v1/api-tokens").json()},
    ),
    Action(
        "team token",
        "api_token_revoked",
        _token,
        "/settings/team/api-tokens/{id}/revoke",
        "",
        lambda c, i: i in {t["id"] for t in c.get("/api/v1/api-tokens").json()},
    ),
    Action(
        "invitation",
        "invitation_revoked",
        _invitation,
        "/settings/team/invitations/{id}/revoke",
        "",
        lambda c, i: f"/settings/team/invitations/{i}/revoke" in c.get("/settings/team").text,
    ),
]


def audited(client: httpx.Client, action: str) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/audit-events", params={"action": action})
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


@pytest.mark.parametrize("action", ACTIONS, ids=[a.name for a in ACTIONS])
def test_the_page_asks_for_the_password_refuses_a_wrong_one_and_remembers_a_right_one(
    client: httpx.Client, action: Action, clean_throttle: None
) -> None:
    _, headers = vat_business(client)
    first, second, third = (action.make(client, headers) for _ in range(3))
    page = action.page.format(id=first)
    csrf = page_csrf(client, "/settings/account")

    forged = client.post(page, data={"password": PASSWORD})
    assert forged.status_code == 403 and "Confirm it's you" not in forged.text, "no CSRF token"
    asked = client.post(page, data={"csrf_token": csrf})
    assert asked.status_code == 403
    assert "Confirm it's you" in asked.text and 'type="password"' in asked.text
    assert f"{STEP_UP_MINUTES} minutes" in asked.text
    wrong = client.post(page, data={"csrf_token": csrf, "password": "not my password"})
    assert wrong.status_code == 403
    assert "That is not your password. Nothing was changed." in wrong.text
    assert action.exists(client, first), "refused, and nothing changed"
    failed = audited(client, "step_up_failed")
    assert failed and failed[0]["target_label"] == f"POST {page}"

    done = client.post(page, data={"csrf_token": csrf, "password": PASSWORD})
    assert done.status_code == 303, done.text[:500]
    assert not action.exists(client, first)
    trail = audited(client, action.audit)
    assert trail and trail[0]["target_id"] == first
    assert trail[0]["action_label"] and trail[0]["action_label"] != action.audit

    # Inside the window: the next one does not ask again.
    again = client.post(action.page.format(id=second), data={"csrf_token": csrf})
    assert again.status_code == 303, again.text[:500]
    assert not action.exists(client, second)
    # Past it: asked again, nothing changed.
    expire_step_up(client)
    late = client.post(action.page.format(id=third), data={"csrf_token": csrf})
    assert late.status_code == 403 and "Confirm it's you" in late.text
    assert action.exists(client, third)


API_ACTIONS = [a for a in ACTIONS if a.api]


@pytest.mark.parametrize("action", API_ACTIONS, ids=[a.name for a in API_ACTIONS])
def test_the_api_wants_a_recent_step_up_or_the_password_header(
    client: httpx.Client, action: Action, clean_throttle: None
) -> None:
    account, headers = vat_business(client)
    token, _ = api_token(account, client)
    ids = [action.make(client, headers) for _ in range(4)]
    with httpx.Client(base_url=str(client.base_url), timeout=20) as bearer:
        bearer.headers["Authorization"] = f"Bearer {token}"
        url = action.api.format(id=ids[0])

        refused = bearer.delete(url)
        assert refused.status_code == 403 and _code(refused) == "step_up_required"
        assert "X-Confirm-Password" in refused.json()["error"]["message"]
        wrong = bearer.delete(url, headers={"X-Confirm-Password": "not my password"})
        assert wrong.status_code == 403 and _code(wrong) == "step_up_failed"
        cookie = client.delete(url, headers=headers)
        assert cookie.status_code == 403 and _code(cookie) == "step_up_required"
        no_csrf = client.delete(url, headers=CONFIRM)
        assert no_csrf.status_code == 403 and _code(no_csrf) == "csrf_failed"
        assert action.exists(client, ids[0]), "refused, and nothing changed"

        done = bearer.delete(url, headers=CONFIRM)
        assert done.status_code in (200, 204), done.text
        assert not action.exists(client, ids[0])
        assert audited(client, action.audit)[0]["target_id"] == ids[0]
        assert stepped_up_at(client) is None, "a token's confirmation opens no session's window"

    # A cookie session steps up once, then deletes without the header; later it must again.
    assert step_up(client, "not my password").status_code == 403
    assert step_up(client).status_code == 200
    assert client.delete(action.api.format(id=ids[1]), headers=headers).status_code in (200, 204)
    assert not action.exists(client, ids[1])
    expire_step_up(client)
    late = client.delete(action.api.format(id=ids[2]), headers=headers)
    assert late.status_code == 403 and _code(late) == "step_up_required"
    assert action.exists(client, ids[2])
    # A password that is given is checked even inside the window.
    assert step_up(client).status_code == 200
    wrong_inside = client.delete(
        action.api.format(id=ids[3]), headers={**headers, "X-Confirm-Password": "nope nope"}
    )
    assert wrong_inside.status_code == 403 and _code(wrong_inside) == "step_up_failed"
    assert action.exists(client, ids[3])


def test_an_agent_is_refused_for_rank_before_being_asked_for_a_password(
    live_server: LiveServer,
) -> None:
    with (
        httpx.Client(base_url=live_server.url) as owner,
        httpx.Client(base_url=live_server.url) as agent,
    ):
        account = sign_up(owner)
        contact = _contact(owner, api_headers(owner))
        joined = factories.teammate(
            factories.settings_of(owner),
            account.tenant_id,
            account.user_id,
            email=factories.unique_email("agent"),
            role=Role.AGENT,
            name="Agent",
        )
        factories.sign_in(agent, joined)
        answer = agent.delete(f"/api/v1/contacts/{contact}", headers=api_headers(agent))
        assert answer.status_code == 403 and _code(answer) == "forbidden"


def test_wrong_passwords_lock_the_step_up_like_sign_in(
    client: httpx.Client, live_server: LiveServer, clean_throttle: None
) -> None:
    """A borrowed session cannot guess the password faster here than at /login."""
    account, headers = vat_business(client)
    contact = _contact(client, headers)
    limit = live_server.settings.login_max_failures_per_account
    for _ in range(limit):
        wrong = client.delete(
            f"/api/v1/contacts/{contact}", headers={**headers, "X-Confirm-Password": "guess"}
        )
        assert wrong.status_code == 403
    locked = client.delete(f"/api/v1/contacts/{contact}", headers={**headers, **CONFIRM})
    assert locked.status_code == 429 and "retry-after" in locked.headers
    assert client.get(f"/api/v1/contacts/{contact}").status_code == 200
    with httpx.Client(base_url=live_server.url) as other:
        assert log_in(other, account.email, PASSWORD).status_code == 429, "sign-in is locked too"


def test_an_api_token_cannot_open_a_window(client: httpx.Client, clean_throttle: None) -> None:
    account = sign_up(client)
    token, _ = api_token(account, client)
    with httpx.Client(base_url=str(client.base_url)) as bearer:
        answer = bearer.post(
            "/api/v1/me/step-up",
            json={"password": PASSWORD},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 422 and "X-Confirm-Password" in answer.text


def test_the_audit_page_names_and_filters_the_new_actions(client: httpx.Client) -> None:
    sign_up(client)
    page = client.get("/settings/audit")
    assert page.status_code == 200
    for value, label in (
        ("contact_deleted", "Deleted a contact"),
        ("webhook_deleted", "Deleted a webhook"),
        ("document_deleted", "Deleted a draft document"),
        ("invitation_revoked", "Revoked an invitation"),
        ("canned_response_deleted", "Deleted a canned response"),
        ("step_up_failed", "Wrong password to confirm an action"),
    ):
        assert f'value="{value}"' in page.text and label in page.text
        assert client.get("/settings/audit", params={"action": value}).status_code == 200


# -- erasure and closure: their own password field, and the window ----------------------------


def test_erasure_takes_its_password_or_a_recent_step_up_and_opens_the_window(
    client: httpx.Client, clean_throttle: None
) -> None:
    _, headers = vat_business(client)
    first, second, third = (_contact(client, headers) for _ in range(3))
    csrf = page_csrf(client, f"/contacts/{first}/erase")
    assert "you may leave this empty" not in client.get(f"/contacts/{first}/erase").text

    blank = client.post(f"/contacts/{first}/erase", data={"csrf_token": csrf})
    assert blank.status_code == 422 and "Enter your password" in blank.text
    done = client.post(f"/contacts/{first}/erase", data={"csrf_token": csrf, "password": PASSWORD})
    assert done.status_code == 200, done.text[:500]
    assert stepped_up_at(client) is not None, "a right password here opens the window"

    # Inside the window: no password needed, on the page or over the API.
    page = client.get(f"/contacts/{second}/erase")
    assert "you may leave this empty" in page.text
    wrong = client.post(f"/contacts/{second}/erase", data={"csrf_token": csrf, "password": "x"})
    assert wrong.status_code == 422, "a password that is given is checked all the same"
    assert client.get(f"/api/v1/contacts/{second}").json()["name"] == "Thandi Step"
    again = client.post(f"/contacts/{second}/erase", data={"csrf_token": csrf})
    assert again.status_code == 200, again.text[:500]
    assert client.get(f"/api/v1/contacts/{second}").json()["name"] != "Thandi Step"

    expire_step_up(client)
    late = client.post(f"/api/v1/contacts/{third}/erase", json={}, headers=headers)
    assert late.status_code == 422
    assert client.get(f"/api/v1/contacts/{third}").json()["name"] == "Thandi Step"
    header = client.post(f"/api/v1/contacts/{third}/erase", json={}, headers={**headers, **CONFIRM})
    assert header.status_code == 200, header.text


def test_closing_the_business_honours_a_recent_step_up(
    client: httpx.Client, clean_throttle: None
) -> None:
    sign_up(client)
    headers = api_headers(client)
    refused = client.post("/api/v1/business/close", json={}, headers=headers)
    assert refused.status_code == 422
    assert client.get("/api/v1/me").status_code == 200, "still open"
    assert step_up(client).status_code == 200
    assert "you may leave this empty" in client.get("/settings/close").text
    wrong = client.post("/api/v1/business/close", json={"password": "nope"}, headers=headers)
    assert wrong.status_code == 422 and client.get("/api/v1/me").status_code == 200
    closed = client.post("/api/v1/business/close", json={}, headers=headers)
    assert closed.status_code == 202, closed.text
    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("route", ["erase", "close"])
def test_wrong_passwords_at_erasure_and_closure_lock_like_sign_in(
    client: httpx.Client, live_server: LiveServer, clean_throttle: None, route: str
) -> None:
    """Their own password field is throttled and audited like every step-up: a borrowed
    session cannot guess there either."""
    account, headers = vat_business(client)
    contact = _contact(client, headers)
    path = f"/api/v1/contacts/{contact}/erase" if route == "erase" else "/api/v1/business/close"
    limit = live_server.settings.login_max_failures_per_account
    for _ in range(limit):
        wrong = client.post(path, json={"password": "guess"}, headers=headers)
        assert wrong.status_code == 422, wrong.text
    locked = client.post(path, json={"password": PASSWORD}, headers=headers)
    assert locked.status_code == 429 and "retry-after" in locked.headers
    assert client.get(f"/api/v1/contacts/{contact}").json()["name"] == "Thandi Step"
    assert client.get("/api/v1/me").status_code == 200, "nothing closed"
    trail = client.get("/api/v1/audit-events", params={"action": "step_up_failed"}).json()
    assert len(trail["events"]) == limit, trail
    with httpx.Client(base_url=live_server.url) as other:
        assert log_in(other, account.email, PASSWORD).status_code == 429, "sign-in is locked too"
