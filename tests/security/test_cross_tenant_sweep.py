"""Every route in the app's route table, tried with another business's ids and with no, an
expired or a forged session.

The routes come from the app itself (`create_app(settings).routes`), so a route added
tomorrow is swept without anyone adding it here. A path parameter this file does not know
fails the sweep until someone says which kind of object it names (`PARAMETER_KINDS`) and
gives the victim one (tests/security/conftest.py).
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote_plus

import httpx
import jwt
import pytest
import redis as sync_redis
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from clientcompass.auth.sessions import SESSION_KEY
from clientcompass.phones import national
from tests.conftest import LiveServer
from tests.security.conftest import PNG, Tenant
from tests.support import factories
from tests.support.accounts import sign_up

# Path (and query) parameter name → the kind of the victim's object it names.
PARAMETER_KINDS = {
    "contact_id": "contact",
    "duplicate_id": "contact",
    "conversation_id": "conversation",
    "message_id": "message",
    "note_id": "note",
    "label": "label",
    "document_id": "document",
    "quote_id": "document",
    "invoice_id": "document",
    "credit_note_id": "document",
    "template_id": "template",
    "canned_id": "canned",
    "media_id": "media",
    "file_id": "media",
    "import_id": "import",
    "user_id": "user",
    "member_id": "user",
    "assignee_id": "user",
    "invitation_id": "invitation",
    "token_id": "token",
    "channel_id": "channel",
    "subscription_id": "subscription",
    "webhook_id": "webhook",
    "lead_id": "lead",
    "flow_id": "flow",
    "export_id": "export",
    "number": "flow_version",  # /api/v1/flows/{flow_id}/versions/{number}
}

# Routes anyone may call, and why that is safe. Everything else needs a session or a token.
PUBLIC = {
    "/webhooks/twilio/{key}/status": "Twilio-signed; tests/whatsapp test the signature",
    "/d/{token}": "the signed public document link (tests/documents test the signature)",
    "/d/{token}/accept": "the signed public document link",
    "/d/{token}/decline": "the signed public document link",
    "/d/{token}/pdf": "the signed public document link",
    "/d/{token}/logo": "the signed public document link",
    "/m/{token}/{filename}": "the signed media link Twilio fetches",
    "/notifications/unsubscribe/{token}": (
        "the signed unsubscribe link of a notification email (tests/notifications/"
        "test_unsubscribe.py tests the signature)"
    ),
    "/sandbox/media/{token}": "the sandbox phone's signed media link (development only)",
    "/meta/data-deletion": (
        "Meta's server-to-server callback: HMAC-SHA256 signed_request (tests/lifecycle_data)"
    ),
    "/meta/data-deletion/{code}": "a Meta deletion request's status, found by its random code",
    "/__twilio": "the built-in Twilio stand-in (development only; Twilio's own auth)",
    "/static": "static assets",
    "/manifest.webmanifest": "the web app manifest (public by design)",
    "/sw.js": "the service worker script (public by design)",
    "/offline": "the offline page the service worker caches; holds nothing personal",
    "/favicon.ico": "static asset",
    "/healthz": "liveness probe",
    "/readyz": "readiness probe",
    "/metrics": "Prometheus; METRICS_TOKEN when set, blocked at the proxy otherwise",
    "/api/v1/openapi.json": "the API's schema",
    "/api/docs": "the API's documentation page",
    "/deletion.html": "how to delete your data (the privacy policy links it)",
    "/privacy": "the privacy policy (public by design)",
    "/": "the landing page (the inbox once signed in)",
    "/signup": "signing up",
    "/login": "signing in",
    "/logout": "signing out",
    "/forgot-password": "asking for a reset link",
    "/reset-password": "the emailed reset link",
    "/invite": "the emailed invitation link",
    "/verify-email": "the emailed email-change link (tests/accounts/test_email_change.py)",
    "/reopen": "the emailed reopen link of a closed business, HMAC-signed (tests/closure)",
    "/api/v1/business/reopen": "the same reopen link's token, as JSON (tests/closure)",
    "/privacy/upcoming": "the announced next version of the privacy policy (public by design)",
}
DOCUMENT_KINDS = {"quotes", "invoices", "credit-notes"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# What another business's id may get: not found, forbidden, not allowed, or refused input.
REFUSED = {403, 404, 405, 422}


@dataclass(frozen=True)
class Endpoint:
    path: str  # the route's template, e.g. /inbox/{conversation_id:uuid}
    method: str
    route: Any

    @property
    def params(self) -> list[str]:
        return re.findall(r"\{(\w+)(?::\w+)?\}", self.path)

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def public(self) -> bool:
        return self.path in PUBLIC

    @property
    def collection(self) -> str:
        """`quotes` for /quotes/… and /api/v1/quotes/…."""
        return self.path.removeprefix("/api/v1").split("/")[1]

    def url(self, values: dict[str, str]) -> str:
        return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], self.path)


def endpoints(app: FastAPI) -> Iterator[Endpoint]:
    """Every (route, method) the app serves, included routers unfolded, mounts as one GET."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            yield Endpoint(route.path, "GET", route)
            continue
        for method in sorted((context.methods or set()) - {"HEAD"}):
            yield Endpoint(str(context.path), method, route)


def query_id_params(endpoint: Endpoint) -> list[str]:
    """Query parameters of a JSON route that name an object (`?contact_id=`)."""
    if not isinstance(endpoint.route, APIRoute):
        return []
    return [
        param.alias
        for param in endpoint.route.dependant.query_params
        if param.alias in PARAMETER_KINDS
    ]


# -- request bodies --------------------------------------------------------------------------

PLAUSIBLE = {
    "phone": "+27825550199",
    "email": "someone@example.co.za",
    "unit_price": "100",
    "quantity": "1",
    "amount": "10",
    "role": "agent",
    "status": "resolved",
    "text": "Hello",
    "body": "Hello",
    "label": "urgent",
    "reason": "Wrong job",
    "description": "Labour",
    "name": "Someone",
}


class JsonBodies:
    """A body that passes a JSON route's validation, built from the OpenAPI schema, with every
    field that names an object (`contact_id`, `media_ids`) set to the victim's object: the
    route must then refuse on the tenant wall, not on a malformed body."""

    def __init__(self, schema: dict[str, Any], victim: Tenant) -> None:
        self.schema = schema
        self.victim = victim
        self.unmapped: set[str] = set()

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[1]
            node = self.schema["components"]["schemas"][name]
        return node

    def value(self, name: str, node: dict[str, Any]) -> Any:
        node = self.resolve(node)
        for key in ("anyOf", "oneOf"):
            if key in node:
                options = [self.resolve(o) for o in node[key] if o.get("type") != "null"]
                return self.value(name, options[0]) if options else None
        kind = PARAMETER_KINDS.get(name) or PARAMETER_KINDS.get(name.removesuffix("s"))
        if kind is not None:
            # The last of its kind: a path names the first (a merge must not be with itself).
            ids = self.victim.ids.get(kind, [])
            return ids if node.get("type") == "array" else ids[-1] if ids else str(uuid.uuid4())
        if node.get("format") == "uuid":
            self.unmapped.add(name)
        if "enum" in node:
            return node["enum"][0]
        if "default" in node and node["default"] is not None:
            return node["default"]
        kind_of = node.get("type")
        if kind_of == "object":
            return self.object(node)
        if kind_of == "array":
            items = node.get("items", {})
            return [self.value(name, items)] if node.get("minItems", 0) else []
        if kind_of in ("integer", "number"):
            return node.get("minimum", 1)
        if kind_of == "boolean":
            return False
        if node.get("format") == "date":
            return "2030-01-01"
        if node.get("format") == "date-time":
            return "2030-01-01T10:00:00+02:00"
        if node.get("format") == "email":
            return PLAUSIBLE["email"]
        return PLAUSIBLE.get(name, "Something")

    def object(self, node: dict[str, Any]) -> dict[str, Any]:
        required = set(node.get("required", []))
        result = {}
        for name, prop in node.get("properties", {}).items():
            named = name in PARAMETER_KINDS or name.removesuffix("s") in PARAMETER_KINDS
            if name in required or named or name == "text":
                result[name] = self.value(name, prop)
        if result.get("lines") == []:
            items = self.resolve(node["properties"]["lines"])
            result["lines"] = [self.value("lines", self.resolve(items).get("items", items))]
        return result

    def for_operation(self, path: str, method: str) -> dict[str, Any]:
        """httpx keyword arguments carrying a valid body for this operation, if it takes one."""
        # The schema names `{id}` where the route says `{id:uuid}`.
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)
        operation = self.schema["paths"].get(path, {}).get(method.lower(), {})
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            return {"json": self.value("body", content["application/json"]["schema"])}
        if "multipart/form-data" in content:
            return {"files": {"file": ("sweep.png", PNG, "image/png")}}
        return {}


class Forms(HTMLParser):
    """The POST forms of a page: action → the fields a browser would send (the first option
    of a choice, the first named button)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self.current: dict[str, str] | None = None
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        if tag == "form" and attributes.get("method", "").lower() == "post":
            self.current = self.forms.setdefault(attributes.get("action", ""), {})
            return
        if self.current is None:
            return
        name = attributes.get("name", "")
        if tag == "select":
            self.select = name
        elif tag == "option" and self.select and attributes.get("value"):
            self.current.setdefault(self.select, attributes["value"])
        elif tag in ("input", "textarea", "button") and name and name not in self.current:
            sent = attributes.get("type") not in ("file", "checkbox", "radio")
            if sent or "checked" in attributes:
                self.current[name] = attributes.get("value", "") or "1"

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None


# -- the sweep -------------------------------------------------------------------------------


@dataclass
class Sweep:
    app: FastAPI
    victim: Tenant
    attacker: Tenant
    problems: list[str]

    def __post_init__(self) -> None:
        self.schema = self.app.openapi()
        self.bodies = JsonBodies(self.schema, self.victim)
        self.unmapped: dict[str, set[str]] = {}
        # The victim's own forms, by the URL they post to: what an attacker would copy.
        self.victim_forms: dict[str, dict[str, str]] = {}
        self.leaks = [*self.victim.secrets, *self.phone_spellings()]
        self.answers: Counter[int] = Counter()

    def phone_spellings(self) -> list[str]:
        return [national(s) for s in self.victim.secrets if s.startswith("+27")]

    def fillings(self, endpoint: Endpoint) -> Iterator[dict[str, str]]:
        """Every combination of the victim's objects for the route's parameters."""
        params = endpoint.params
        unknown = [p for p in params if p not in PARAMETER_KINDS]
        if unknown:
            self.unmapped.setdefault(endpoint.path, set()).update(unknown)
            return
        choices = [self.candidates(endpoint, p) for p in params]
        for missing in (p for p, c in zip(params, choices, strict=True) if not c):
            self.problems.append(f"the victim has no {PARAMETER_KINDS[missing]} for {missing}")
        for combination in itertools.product(*choices):
            yield dict(zip(params, combination, strict=True))

    def candidates(self, endpoint: Endpoint, param: str) -> list[str]:
        """The victim's objects for a parameter; a document route gets its own kind (a quote's
        id under /invoices is not found for anyone, so it proves nothing)."""
        kind = PARAMETER_KINDS[param]
        if kind == "document":
            kind = endpoint.collection if endpoint.collection in DOCUMENT_KINDS else kind
        return self.victim.ids.get(kind, [])

    def harvest_forms(self, url: str, *, with_ids: bool) -> None:
        """The victim opens its own page: the ids are real (a 404 here would make the
        attacker's 404 meaningless), and its forms are what an attacker would copy."""
        response = self.call(self.victim.client, "GET", url, {}, {}, {})
        if with_ids and response.status_code == 404:
            self.problems.append(f"control: the victim itself gets 404 at GET {url}")
        if response.status_code == 200 and "text/html" in response.headers.get("content-type", ""):
            parser = Forms()
            parser.feed(response.text)
            for action, fields in parser.forms.items():
                self.victim_forms.setdefault(action, fields)

    def send(
        self, endpoint: Endpoint, url: str, auth: str, query: dict[str, str]
    ) -> httpx.Response:
        client = self.attacker.client
        headers: dict[str, str] = {}
        kwargs: dict[str, Any] = {}
        unsafe = endpoint.method not in SAFE_METHODS
        if unsafe:
            kwargs = self.bodies.for_operation(endpoint.path, endpoint.method)
        if auth == "bearer":
            cookies_off = httpx.Client(base_url=str(client.base_url), timeout=30)
            headers.update(self.attacker.bearer)
            with cookies_off:
                return self.call(cookies_off, endpoint.method, url, headers, query, kwargs)
        if unsafe:
            csrf = factories.known_csrf(client) or ""
            headers["X-CSRF-Token"] = csrf
            if not kwargs:
                kwargs = {"data": {**self.victim_forms.get(url, {}), "csrf_token": csrf}}
        return self.call(client, endpoint.method, url, headers, query, kwargs)

    @staticmethod
    def call(
        client: httpx.Client,
        method: str,
        url: str,
        headers: dict[str, str],
        query: dict[str, str],
        kwargs: dict[str, Any],
    ) -> httpx.Response:
        request = client.build_request(method, url, headers=headers, params=query, **kwargs)
        response = client.send(request, stream=True)
        try:
            # A live event stream never ends: its status and headers are the answer.
            if "text/event-stream" not in response.headers.get("content-type", ""):
                response.read()
        finally:
            response.close()
        return response

    def judge(
        self, endpoint: Endpoint, url: str, sent: set[str], response: httpx.Response, auth: str
    ) -> None:
        where = f"{endpoint.method} {url} ({auth}) → {response.status_code}"
        self.answers[response.status_code] += 1
        if response.status_code >= 500:
            self.problems.append(f"{where}: server error {text_of(response)[:200]!r}")
            return
        body = text_of(response)
        # What the attacker typed may be shown back to them (a form with its errors).
        echoed = unquote_plus(response.request.read().decode(errors="replace"))
        # The victim's ids in the body (`contact_id`, `media_ids`, a copied form) count as
        # sent: using another business's object by reference must be refused as well.
        sent = sent | {value for value in self.victim.all_ids() if value in echoed}
        for secret in self.leaks:
            if secret and secret in body and secret not in echoed:
                self.problems.append(f"{where}: shows the victim's {secret!r}")
        for foreign in self.victim.all_ids() - sent:
            if foreign in body:
                self.problems.append(f"{where}: shows the victim's id {foreign}")
        location = response.headers.get("location", "")
        if not sent:
            return
        if response.status_code in REFUSED:
            return
        if 300 <= response.status_code < 400 and not any(i in location for i in sent):
            # Sent back to a page of the attacker's own (a list, with an error): not the object.
            return
        self.problems.append(f"{where}: reached the victim's object {location}")

    def victim_view(self) -> dict[str, Any]:
        """Everything the victim's JSON API shows it (every GET of /api with its own ids), to
        compare before and after: whatever the attacker got back, nothing may have changed."""
        view: dict[str, Any] = {}
        for endpoint in endpoints(self.app):
            if endpoint.method != "GET" or not endpoint.is_api or endpoint.public:
                continue
            for values in self.fillings(endpoint):
                url = endpoint.url(values)
                response = self.call(self.victim.client, "GET", url, {}, {}, {})
                if response.headers.get("content-type", "").startswith("application/json"):
                    view[url] = (response.status_code, steady(response.json()))
        view["bearer still works"] = self.call(
            httpx.Client(base_url=str(self.victim.client.base_url)),
            "GET",
            "/api/v1/me",
            self.victim.bearer,
            {},
            {},
        ).status_code
        return view

    def run(self) -> None:
        found = list(endpoints(self.app))
        for endpoint in found:
            # Every page (for its forms) and every address with an id (for the control).
            wanted = endpoint.params or not endpoint.is_api
            if endpoint.method == "GET" and wanted and not endpoint.public:
                for values in self.fillings(endpoint):
                    self.harvest_forms(endpoint.url(values), with_ids=bool(values))
        # After the victim's own visits (opening a conversation marks it read).
        self.before = self.victim_view()
        for endpoint in found:
            if endpoint.public or isinstance(endpoint.route, Mount):
                continue
            query_params = query_id_params(endpoint)
            for values in self.fillings(endpoint):
                url = endpoint.url(values)
                # A filter (`?contact_id=`) naming another business's object finds nothing:
                # only what the answer shows is judged, not its status.
                query = {p: self.victim.ids[PARAMETER_KINDS[p]][0] for p in query_params}
                for auth in ("session", "bearer") if endpoint.is_api else ("session",):
                    response = self.send(endpoint, url, auth, query)
                    if signed_out(response):
                        # An earlier route ended the attacker's session: sign in again.
                        self.attacker.renew()
                        response = self.send(endpoint, url, auth, query)
                    self.judge(endpoint, url, set(values.values()), response, auth)
        self.after = self.victim_view()


# Fields that move by themselves (a clock, the victim's own use of its token, a link signed
# afresh on each read).
VOLATILE = {"seconds_left", "last_used_at", "exported_at", "download_url"}


def steady(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: steady(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [steady(v) for v in value]
    return value


def difference(old: Any, new: Any, where: str = "") -> str:
    """Where two JSON values first differ, and how."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys()):
            if old.get(key) != new.get(key):
                return difference(old.get(key), new.get(key), f"{where}.{key}")
    if isinstance(old, list | tuple) and isinstance(new, list | tuple) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                return difference(a, b, f"{where}[{index}]")
    return f"{where or 'value'}: {old!r} → {new!r}"[:400]


def signed_out(response: httpx.Response) -> bool:
    """The attacker's own session or token ended (a route like "log out everywhere")."""
    return response.status_code == 401 or response.headers.get("location", "").startswith("/login")


def text_of(response: httpx.Response) -> str:
    try:
        return response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        return ""


def test_another_business_reaches_none_of_the_victims_objects_on_any_route(
    live_server: LiveServer, victim: Tenant, attacker: Tenant
) -> None:
    sweep = Sweep(live_server.app, victim, attacker, [])
    sweep.run()
    print(f"cross-tenant sweep: {sum(sweep.answers.values())} requests, {dict(sweep.answers)}")
    before, after = sweep.before, sweep.after
    unmapped = [
        f"{path}: {', '.join(sorted(params))}" for path, params in sorted(sweep.unmapped.items())
    ]
    assert not unmapped, (
        "These routes take parameters the cross-tenant sweep does not know. Add each to "
        "PARAMETER_KINDS in tests/security/test_cross_tenant_sweep.py (or to PUBLIC, with the "
        "reason it is safe) and give the victim in tests/security/conftest.py an object of "
        "that kind:\n" + "\n".join(unmapped)
    )
    assert not sweep.bodies.unmapped, (
        "Request bodies name objects by fields the sweep does not know; add them to "
        f"PARAMETER_KINDS: {sorted(sweep.bodies.unmapped)}"
    )
    assert not sweep.problems, "\n".join(sweep.problems)
    changed = [url for url in before if before[url] != after.get(url)]
    assert not changed, "the attacker changed the victim's data:\n" + "\n".join(
        f"{url}: {difference(before[url], after.get(url))}" for url in changed
    )


# -- signed out ------------------------------------------------------------------------------


def forged_session(live_server: LiveServer, account: Any) -> str:
    """A session JWT for a real user, signed with a key that is not the server's."""
    now = int(time.time())
    claims = {
        "sid": "x" * 43,
        "sub": str(account.user_id),
        "tid": str(account.tenant_id),
        "iat": now,
        "exp": now + 900,
    }
    return jwt.encode(claims, "not-the-server-key-" * 3, algorithm="HS256")


def expired_session(live_server: LiveServer, redis_url: str) -> str:
    """A genuine session JWT whose session has ended (deleted from Redis, as expiry does)."""
    with httpx.Client(base_url=live_server.url) as client:
        sign_up(client)
        token = client.cookies["cc_session"]
    claims = jwt.decode(
        token, live_server.settings.secret_key, algorithms=["HS256"], options={"verify_exp": False}
    )
    store = sync_redis.Redis.from_url(redis_url)
    try:
        deleted = store.delete(SESSION_KEY.format(sid=claims["sid"]))
    finally:
        store.close()
    assert deleted, "the session was not found in Redis to end it"
    return token


@pytest.mark.parametrize("session", ["none", "expired", "forged"])
def test_nothing_but_the_public_routes_answers_without_a_live_session(
    live_server: LiveServer, victim: Tenant, redis_url: str, session: str
) -> None:
    sweep = Sweep(live_server.app, victim, victim, [])
    cookie = {
        "none": None,
        "expired": lambda: expired_session(live_server, redis_url),
        "forged": lambda: forged_session(live_server, victim.account),
    }[session]
    problems = []
    with httpx.Client(base_url=live_server.url, follow_redirects=False, timeout=30) as anonymous:
        if cookie is not None:
            anonymous.cookies.set("cc_session", cookie(), domain=anonymous.base_url.host, path="/")
        for endpoint in endpoints(live_server.app):
            if isinstance(endpoint.route, Mount):
                continue
            # A public route's own tokens are tested where they are made; here any will do.
            fillings = (
                [dict.fromkeys(endpoint.params, "a" * 40)]
                if endpoint.public
                else itertools.islice(sweep.fillings(endpoint), 1)
            )
            for values in fillings:
                url = endpoint.url(values)
                headers = {} if endpoint.method in SAFE_METHODS else {"X-CSRF-Token": "guess"}
                kwargs = {} if endpoint.method in SAFE_METHODS else {"data": {"csrf_token": "x"}}
                response = Sweep.call(anonymous, endpoint.method, url, headers, {}, kwargs)
                where = f"{endpoint.method} {url} → {response.status_code}"
                body = text_of(response)
                if response.status_code >= 500:
                    problems.append(f"{where}: server error")
                leaked = [
                    s
                    for s in sweep.leaks + sorted(victim.all_ids() - set(values.values()))
                    if s in body
                ]
                if leaked:
                    problems.append(f"{where}: shows {leaked}")
                if endpoint.public:
                    continue
                to_login = response.headers.get("location", "").startswith("/login")
                if not (response.status_code == 401 or (response.is_redirect and to_login)):
                    problems.append(f"{where}: answers without a session")
    assert not sweep.unmapped, f"unknown parameters: {sweep.unmapped}"
    assert not problems, "\n".join(problems)


# -- the sweep's own judgement ---------------------------------------------------------------


def test_the_sweep_flags_a_leak_a_reached_object_a_500_and_an_unknown_parameter() -> None:
    """The rules above, on made-up answers: a sweep that could not fail would prove nothing."""
    victim_id = str(uuid.uuid4())
    victim = Tenant(httpx.Client(), None, "")  # type: ignore[arg-type]
    victim.add("contact", victim_id)
    victim.secrets.append("Nomvula Secret")
    sweep = Sweep(FastAPI(), victim, victim, [])
    endpoint = Endpoint("/contacts/{contact_id:uuid}", "GET", None)
    url = endpoint.url({"contact_id": victim_id})

    def answer(status: int, text: str = "", location: str = "") -> httpx.Response:
        headers = {"location": location} if location else {}
        request = httpx.Request("GET", f"http://test{url}")
        return httpx.Response(status, text=text, headers=headers, request=request)

    for refused in (answer(404), answer(403), answer(303, location="/contacts?error=1")):
        sweep.judge(endpoint, url, {victim_id}, refused, "session")
    assert sweep.problems == []
    sweep.judge(endpoint, url, {victim_id}, answer(200, "a page"), "session")
    sweep.judge(endpoint, url, {victim_id}, answer(303, location=f"/x/{victim_id}"), "session")
    sweep.judge(endpoint, url, {victim_id}, answer(500), "session")
    sweep.judge(endpoint, "/contacts", set(), answer(200, "Nomvula Secret's page"), "session")
    assert len(sweep.problems) == 4, sweep.problems
    assert list(sweep.fillings(Endpoint("/widgets/{widget_id}", "GET", None))) == []
    assert sweep.unmapped == {"/widgets/{widget_id}": {"widget_id"}}
