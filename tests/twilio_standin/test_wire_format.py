"""The local Twilio stand-in speaks Twilio's wire format.

Proven against Twilio's own SDK and OpenAPI schemas, the twilio package's signature
validator, and the behaviours the app depends on: the 24-hour window, media behind
Basic auth and a CDN redirect, template approval, and faults that leave a send's
outcome unknown. Everything runs over real HTTP (uvicorn in threads).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import email.utils
import json
import os
import secrets
import socket
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList
from twilio.rest.content.v1.content.approval_create import ApprovalCreateList

from clientcompass.twilio_standin import create_standin
from tests.conftest import PROJECT_ROOT
from tests.support.waiting import wait_for

OPENAPI_DIR = PROJECT_ROOT.parent / "shared" / "twilio-openapi"
API_SPEC = OPENAPI_DIR / "twilio_api_v2010_messaging_subset.json"
CONTENT_SPEC = OPENAPI_DIR / "twilio_content_v1.json"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
DELAYS = (0.02, 0.03, 0.04)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadServer:
    """An ASGI app under uvicorn in a daemon thread, on a free loopback port."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.url = f"http://127.0.0.1:{free_port()}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=int(self.url.rsplit(":", 1)[1]),
            log_config=None,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        wait_for(lambda: self.server.started or not self.thread.is_alive(), 20, "server start")
        if not self.server.started:
            raise RuntimeError("the server failed to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Hit:
    url: str
    params: dict[str, str]
    signature: str


class Receiver:
    """Plays the app: records every webhook and serves media for outbound MediaUrl."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.app = FastAPI()

        @self.app.get("/media/{name}")
        async def media(name: str) -> Response:
            return Response(PNG, media_type="image/png")

        @self.app.post("/{path:path}")
        async def hook(path: str, request: Request) -> Response:
            form = await request.form()
            self.hits.append(
                Hit(
                    url=str(request.url),
                    params={k: str(v) for k, v in form.items()},
                    signature=request.headers.get("X-Twilio-Signature", ""),
                )
            )
            return Response("<Response/>", media_type="text/xml")

    def at(self, url: str) -> list[Hit]:
        return [hit for hit in self.hits if hit.url == url]

    def statuses(self, url: str, sid: str) -> list[str]:
        return [h.params["MessageStatus"] for h in self.at(url) if h.params["MessageSid"] == sid]


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    hook = Receiver()
    with ThreadServer(hook.app) as server:
        yield hook, server.url


@pytest.fixture(scope="module")
def standin() -> Iterator[str]:
    with ThreadServer(create_standin(progress_delays=DELAYS)) as server:
        yield server.url


@dataclass
class Tenant:
    """One stand-in account with one WhatsApp sender pointed at the receiver."""

    base: str
    sid: str
    token: str
    sender: str
    inbound_url: str
    status_url: str
    receiver: Receiver
    http: httpx.Client

    def customer(self) -> str:
        return "whatsapp:+2782" + str(secrets.randbelow(10**7)).zfill(7)

    def inbound(self, customer: str, **fields: Any) -> dict[str, Any]:
        response = self.http.post(
            "/_control/inbound", json={"to": self.sender, "from": customer, **fields}
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def send(self, customer: str, **form: Any) -> httpx.Response:
        data = {"To": customer, "From": self.sender, "StatusCallback": self.status_url, **form}
        return self.http.post(
            f"/2010-04-01/Accounts/{self.sid}/Messages.json", data=data, auth=(self.sid, self.token)
        )

    def fetch(self, sid: str) -> dict[str, Any]:
        response = self.http.get(
            f"/2010-04-01/Accounts/{self.sid}/Messages/{sid}.json", auth=(self.sid, self.token)
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def final_status(self, sid: str, expected: str) -> list[Hit]:
        """Wait for the status callback ``expected`` of message ``sid``."""
        hits: list[Hit] = wait_for(
            lambda: [
                h
                for h in self.receiver.at(self.status_url)
                if h.params["MessageSid"] == sid and h.params["MessageStatus"] == expected
            ],
            5,
            f"{expected} callback for {sid}",
        )
        return hits

    def template(self, name: str = "booking_confirmed", **types: Any) -> str:
        response = self.http.post(
            "/v1/Content",
            auth=(self.sid, self.token),
            json={
                "friendly_name": name,
                "language": "en",
                "variables": {"1": "Thandi", "2": "Tuesday"},
                "types": types or {"twilio/text": {"body": "Hi {{1}}, see you on {{2}}."}},
            },
        )
        assert response.status_code == 201, response.text
        sid: str = response.json()["sid"]
        return sid


@contextlib.contextmanager
def tenant_for(base: str, hook: Receiver, hook_url: str) -> Iterator[Tenant]:
    with httpx.Client(base_url=base, timeout=10) as http:
        creds = http.post("/_control/accounts", json={}).json()
        sender = "whatsapp:+2760" + str(secrets.randbelow(10**7)).zfill(7)
        token = secrets.token_hex(4)
        tenant = Tenant(
            base=base,
            sid=creds["account_sid"],
            token=creds["auth_token"],
            sender=sender,
            inbound_url=f"{hook_url}/inbound/{token}",
            status_url=f"{hook_url}/status/{token}",
            receiver=hook,
            http=http,
        )
        response = http.post(
            "/_control/senders",
            json={
                "account_sid": tenant.sid,
                "from": sender,
                "inbound_url": tenant.inbound_url,
                "status_url": tenant.status_url,
            },
        )
        assert response.status_code == 200, response.text
        yield tenant


@pytest.fixture
def tenant(standin: str, receiver: tuple[Receiver, str]) -> Iterator[Tenant]:
    with tenant_for(standin, *receiver) as created:
        yield created


# -- OpenAPI schemas --------------------------------------------------------------------


def strict(node: Any) -> Any:
    """OpenAPI 3.0 → JSON Schema, tightened: ``nullable`` becomes a type union, and
    every object with declared properties must have all of them and nothing else
    (Twilio always sends every field; the stand-in must too)."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items() if k not in ("nullable", "x-twilio", "example")}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if out.get("type") in ("object", ["object", "null"]) and "properties" in out:
        out.setdefault("required", list(out["properties"]))
        out.setdefault("additionalProperties", False)
    return out


FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time-rfc-2822", raises=(TypeError, ValueError))
def _rfc2822(value: object) -> bool:
    return not isinstance(value, str) or email.utils.parsedate_to_datetime(value) is not None


@FORMATS.checks("uri", raises=ValueError)
def _uri(value: object) -> bool:
    """Twilio's specs say `format: uri` for paging links its API sends relative
    (`first_page_uri`: "/2010-04-01/Accounts/…/Messages.json?…"): what it means is a URI
    reference. jsonschema checks `uri` strictly only when rfc3987 happens to be installed."""
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc) or value.startswith("/")


@FORMATS.checks("date-time", raises=ValueError)
def _iso(value: object) -> bool:
    return not isinstance(value, str) or bool(datetime.fromisoformat(value.replace("Z", "+00:00")))


class Schemas:
    def __init__(self, path: Path) -> None:
        if not path.exists():
            if os.environ.get("CI"):  # CI always has shared/ beside the clone: never skip there
                pytest.fail(f"Twilio's OpenAPI specs are missing from {OPENAPI_DIR}")
            pytest.skip(
                f"Twilio's OpenAPI specs are not at {OPENAPI_DIR} (a clone without shared/ beside it)"
            )
        self.spec = json.loads(path.read_text())
        self.components = strict(self.spec["components"])

    def _check(self, schema: dict[str, Any], instance: Any) -> None:
        root = {**strict(schema), "components": self.components}
        jsonschema.Draft7Validator(root, format_checker=FORMATS).validate(instance)

    def component(self, name: str, instance: Any) -> None:
        self._check({"$ref": f"#/components/schemas/{name}"}, instance)

    def response(self, path: str, method: str, status: str, instance: Any) -> None:
        operation = self.spec["paths"][path][method]
        self._check(
            operation["responses"][status]["content"]["application/json"]["schema"], instance
        )


@pytest.fixture(scope="module")
def api_schemas() -> Schemas:
    return Schemas(API_SPEC)


@pytest.fixture(scope="module")
def content_schemas() -> Schemas:
    return Schemas(CONTENT_SPEC)


class RecordingHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, keeping every raw response for schema checks."""

    def __init__(self) -> None:
        super().__init__(timeout=10)
        self.responses: list[TwilioResponse] = []

    def request(self, *args: Any, **kwargs: Any) -> TwilioResponse:
        response = super().request(*args, **kwargs)
        self.responses.append(response)
        return response

    def last(self, status: int = 200) -> Any:
        response = self.responses[-1]
        assert response.status_code == status, response.text
        return json.loads(response.text)


def official_client(tenant: Tenant, base: str) -> tuple[Client, RecordingHttpClient]:
    recorder = RecordingHttpClient()
    client = Client(tenant.sid, tenant.token, http_client=recorder)
    client.api.base_url = base
    client.content.base_url = base
    return client, recorder


# -- 1. wire compatibility --------------------------------------------------------------


def test_official_client_and_openapi_schemas(
    tenant: Tenant,
    standin: str,
    receiver: tuple[Receiver, str],
    api_schemas: Schemas,
    content_schemas: Schemas,
) -> None:
    client, raw = official_client(tenant, standin)
    messages_path = "/2010-04-01/Accounts/{AccountSid}/Messages.json"

    account = client.api.v2010.accounts(tenant.sid).fetch()
    assert account.sid == tenant.sid and account.status == "active"
    api_schemas.component("api.v2010.account", raw.last())

    customer = tenant.customer()
    tenant.inbound(customer, body="hi")
    sent = client.messages.create(
        to=customer,
        from_=tenant.sender,
        body="Your quote is ready",
        media_url=[f"{receiver[1]}/media/quote.png"],
        status_callback=tenant.status_url,
    )
    assert sent.status == "queued" and sent.sid.startswith("MM") and sent.num_media == "1"
    created = raw.last(201)
    api_schemas.response(messages_path, "post", "201", created)

    fetched = client.messages(sent.sid).fetch()
    assert (fetched.sid, fetched.to, fetched.from_) == (sent.sid, customer, tenant.sender)
    api_schemas.component("api.v2010.account.message", raw.last())

    listed = client.messages.list(to=customer, limit=20)
    assert [m.sid for m in listed if m.direction == "outbound-api"] == [sent.sid]
    api_schemas.response(messages_path, "get", "200", raw.last())

    tenant.final_status(sent.sid, "delivered")  # media fetched by now
    media = client.messages(sent.sid).media.list()
    assert [m.content_type for m in media] == ["image/png"]
    api_schemas.response(
        "/2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}/Media.json",
        "get",
        "200",
        raw.last(),
    )
    client.messages(sent.sid).media(media[0].sid).fetch()
    api_schemas.component("api.v2010.account.message.media", raw.last())

    content = client.content.v1.contents.create(
        ContentList.ContentCreateRequest(
            {
                "friendly_name": "quote_ready",
                "language": "en",
                "variables": {"1": "Thandi"},
                "types": {
                    "twilio/quick-reply": {
                        "body": "Hi {{1}}, your quote is ready. Accept it?",
                        "actions": [
                            {"title": "Accept", "id": "accept"},
                            {"title": "Not now", "id": "later"},
                        ],
                    },
                    "twilio/text": {"body": "Hi {{1}}, your quote is ready."},
                },
            }
        )
    )
    assert content.sid.startswith("HX") and content.language == "en"
    content_schemas.response("/v1/Content", "post", "201", raw.last(201))
    assert client.content.v1.contents(content.sid).fetch().friendly_name == "quote_ready"
    content_schemas.component("content.v1.content", raw.last())

    approval = client.content.v1.contents(content.sid).approval_create.create(
        ApprovalCreateList.ContentApprovalRequest({"name": "quote_ready", "category": "UTILITY"})
    )
    assert approval.status == "received" and approval.content_type == "twilio/quick-reply"
    content_schemas.component("content.v1.content.approval_create", raw.last(201))

    def approved() -> bool:
        fetched = client.content.v1.contents(content.sid).approval_fetch().fetch()
        return bool(fetched.whatsapp and fetched.whatsapp["status"] == "approved")

    wait_for(approved, 5, "template approval")
    content_schemas.component("content.v1.content.approval_fetch", raw.last())
    assert raw.last()["whatsapp"]["category"] == "UTILITY"

    assert [c.sid for c in client.content.v1.contents.list()] == [content.sid]
    content_schemas.response("/v1/Content", "get", "200", raw.last())
    both = client.content.v1.content_and_approvals.list()
    assert both[0].approval_requests["status"] == "approved"
    content_schemas.response("/v1/ContentAndApprovals", "get", "200", raw.last())


def test_schema_check_rejects_what_twilio_would_not_send(
    tenant: Tenant, api_schemas: Schemas
) -> None:
    """The schema assertions above can fail: each single corruption is caught."""
    message = tenant.fetch(tenant.send(tenant.customer(), Body="x").json()["sid"])
    api_schemas.component("api.v2010.account.message", message)
    corruptions: list[Callable[[dict[str, Any]], None]] = [
        lambda m: m.update(sid="XX" + m["sid"][2:]),
        lambda m: m.update(status="bogus"),
        lambda m: m.update(num_media=0),
        lambda m: m.update(date_created="2024-01-01T00:00:00Z"),
        lambda m: m.pop("error_code"),
        lambda m: m.update(unexpected=True),
    ]
    for corrupt in corruptions:
        bad = copy.deepcopy(message)
        corrupt(bad)
        with pytest.raises(jsonschema.ValidationError):
            api_schemas.component("api.v2010.account.message", bad)


# -- 2. signed webhooks -----------------------------------------------------------------


def test_inbound_webhook_and_status_callbacks_are_signed_like_twilio(tenant: Tenant) -> None:
    customer = tenant.customer()
    result = tenant.inbound(
        customer,
        profile_name="Thandi",
        body="Can you fix a geyser?",
        media=[{"content_type": "image/png", "data_base64": base64.b64encode(PNG).decode()}],
    )
    assert (result["status_code"], result["response_text"]) == (200, "<Response/>")
    (hit,) = tenant.receiver.at(tenant.inbound_url)
    valid = RequestValidator(tenant.token)
    assert valid.validate(hit.url, hit.params, hit.signature)
    assert not RequestValidator("another-token").validate(hit.url, hit.params, hit.signature)
    assert not valid.validate(hit.url, {**hit.params, "Body": "forged"}, hit.signature)

    sid = result["message_sid"]
    p = hit.params
    assert p["MessageSid"] == p["SmsMessageSid"] == p["SmsSid"] == sid and sid.startswith("MM")
    assert (p["From"], p["To"], p["AccountSid"]) == (customer, tenant.sender, tenant.sid)
    assert p["WaId"] == customer.removeprefix("whatsapp:+") and p["ProfileName"] == "Thandi"
    assert (p["NumMedia"], p["MediaContentType0"], p["SmsStatus"]) == ("1", "image/png", "received")
    assert p["MediaUrl0"].startswith(
        f"{tenant.base}/2010-04-01/Accounts/{tenant.sid}/Messages/{sid}/Media/ME"
    )
    assert (p["ApiVersion"], p["NumSegments"], p["MessageType"]) == ("2010-04-01", "1", "image")
    assert json.loads(p["ChannelMetadata"])["data"]["context"]["WaId"] == p["WaId"]

    reply = tenant.send(customer, Body="Yes, tomorrow at 9?")
    assert reply.status_code == 201, reply.text
    message_sid = reply.json()["sid"]
    tenant.final_status(message_sid, "read")
    callbacks = [
        h for h in tenant.receiver.at(tenant.status_url) if h.params["MessageSid"] == message_sid
    ]
    assert [h.params["MessageStatus"] for h in callbacks] == ["sent", "delivered", "read"]
    for callback in callbacks:
        assert valid.validate(callback.url, callback.params, callback.signature)
        assert not RequestValidator("another-token").validate(
            callback.url, callback.params, callback.signature
        )
        c = callback.params
        assert c["SmsSid"] == message_sid and c["SmsStatus"] == c["MessageStatus"]
        assert (c["AccountSid"], c["From"], c["To"]) == (tenant.sid, tenant.sender, customer)
        assert (c["ApiVersion"], c["ChannelPrefix"]) == ("2010-04-01", "whatsapp")
        assert c["ChannelInstallSid"].startswith("XE") and "ErrorCode" not in c
    assert callbacks[-1].params["EventType"] == "READ"


def test_redelivery_of_one_message_sid_carries_identical_signed_params(tenant: Tenant) -> None:
    customer = tenant.customer()
    sid = "SM" + secrets.token_hex(16)
    result = tenant.inbound(customer, body="hello?", message_sid=sid, deliveries=10)
    assert result["message_sid"] == sid
    assert [d["status_code"] for d in result["deliveries"]] == [200] * 10
    hits = tenant.receiver.at(tenant.inbound_url)
    assert len(hits) == 10 and all(h.params == hits[0].params for h in hits)
    assert all(RequestValidator(tenant.token).validate(h.url, h.params, h.signature) for h in hits)
    tenant.inbound(customer, body="hello?", message_sid=sid)  # a later redelivery
    assert len(tenant.receiver.at(tenant.inbound_url)) == 11


def test_inbound_whatsapp_fields(tenant: Tenant) -> None:
    customer = tenant.customer()
    original = tenant.send(customer, Body="Pick a slot").json()["sid"]
    tenant.inbound(
        customer,
        body="Tuesday",
        button_payload="slot_tue",
        button_text="Tuesday",
        original_replied_message_sid=original,
        referral={
            "source_id": "123",
            "source_type": "ad",
            "ctwa_clid": "ARAbc",
            "headline": "Geysers",
        },
    )
    tenant.inbound(
        customer, latitude=-33.9249, longitude=18.4241, address="1 Long St", label="Shop"
    )
    buttons, location = (h.params for h in tenant.receiver.at(tenant.inbound_url))
    assert (buttons["ButtonPayload"], buttons["ButtonText"], buttons["MessageType"]) == (
        "slot_tue",
        "Tuesday",
        "button",
    )
    assert buttons["OriginalRepliedMessageSid"] == original
    assert buttons["OriginalRepliedMessageSender"] == tenant.sender
    assert (buttons["ReferralSourceId"], buttons["ReferralCtwaClid"]) == ("123", "ARAbc")
    assert (location["Latitude"], location["Longitude"]) == ("-33.9249", "18.4241")
    assert (location["Address"], location["Label"], location["MessageType"]) == (
        "1 Long St",
        "Shop",
        "location",
    )


# -- 3. the 24-hour window --------------------------------------------------------------


def test_window_free_text_fails_outside_and_templates_always_deliver(tenant: Tenant) -> None:
    customer = tenant.customer()

    cold = tenant.send(customer, Body="Hello stranger")
    assert cold.status_code == 201 and cold.json()["status"] == "queued"
    (failed,) = tenant.final_status(cold.json()["sid"], "failed")
    assert failed.params["ErrorCode"] == "63016" and failed.params["ChannelStatusMessage"]
    resource = tenant.fetch(cold.json()["sid"])
    assert (resource["status"], resource["error_code"]) == ("failed", 63016)

    tenant.inbound(customer, body="Hi, I need a plumber")
    warm = tenant.send(customer, Body="Happy to help").json()["sid"]
    tenant.final_status(warm, "delivered")
    assert tenant.fetch(warm)["error_code"] is None

    closed_at = (datetime.now(UTC) - timedelta(hours=24, minutes=1)).isoformat()
    window = tenant.http.post(
        "/_control/window",
        json={"sender": tenant.sender, "customer": customer, "last_inbound_at": closed_at},
    )
    assert window.json() == {"open": False}
    late = tenant.send(customer, Body="Still there?").json()["sid"]
    assert tenant.final_status(late, "failed")[0].params["ErrorCode"] == "63016"

    template = tenant.template()
    unapproved = tenant.send(customer, ContentSid=template).json()["sid"]
    assert tenant.final_status(unapproved, "failed")[0].params["ErrorCode"] == "63016"
    tenant.http.post(f"/_control/content/{template}/approval", json={"status": "approved"})
    sent = tenant.send(customer, ContentSid=template, ContentVariables=json.dumps({"1": "Sipho"}))
    assert sent.status_code == 201, sent.text
    assert sent.json()["body"] == "Hi Sipho, see you on Tuesday."
    tenant.final_status(sent.json()["sid"], "read")


# -- 4. media behind Basic auth and a CDN redirect ------------------------------------------


def test_media_url_needs_auth_and_redirects_to_an_open_cdn(tenant: Tenant) -> None:
    result = tenant.inbound(
        tenant.customer(),
        media=[{"content_type": "image/png", "data_base64": base64.b64encode(PNG).decode()}],
        media_not_found_first=2,
    )
    url = result["params"]["MediaUrl0"]
    with httpx.Client(timeout=10, follow_redirects=False) as http:
        anonymous = http.get(url)
        assert anonymous.status_code == 401
        assert anonymous.json() == {
            "code": 20003,
            "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 401,
        }
        assert http.get(url, auth=(tenant.sid, "wrong")).status_code == 401
        for _ in range(2):  # "just arrived": Twilio briefly answers 404
            early = http.get(url, auth=(tenant.sid, tenant.token))
            assert (early.status_code, early.json()["code"]) == (404, 20404)
        found = http.get(url, auth=(tenant.sid, tenant.token))
        assert found.status_code == 307
        cdn = found.headers["location"]
        assert cdn.startswith(f"{tenant.base}/_cdn/") and len(cdn.rsplit("/", 1)[1]) >= 40
        content = http.get(cdn)
        assert content.status_code == 200 and content.content == PNG
        assert content.headers["content-type"] == "image/png"
        assert http.get(f"{tenant.base}/_cdn/guess").status_code == 404
        meta = http.get(url + ".json", auth=(tenant.sid, tenant.token)).json()
        assert (meta["content_type"], meta["parent_sid"]) == ("image/png", result["message_sid"])


def test_unreachable_outbound_media_fails_with_63019(tenant: Tenant) -> None:
    customer = tenant.customer()
    tenant.inbound(customer, body="send the photo")
    sid = tenant.send(customer, MediaUrl=f"http://127.0.0.1:{free_port()}/gone.png").json()["sid"]
    assert tenant.final_status(sid, "failed")[0].params["ErrorCode"] == "63019"
    assert tenant.fetch(sid)["error_code"] == 63019


# -- 5. faults ------------------------------------------------------------------------


def test_http_429_then_success(tenant: Tenant, standin: str) -> None:
    client, _ = official_client(tenant, standin)
    customer = tenant.customer()
    before = tenant.http.get("/_control/stats").json()["creates"]
    tenant.http.post("/_control/faults", json={"mode": "http_429", "count": 1})
    with pytest.raises(TwilioRestException) as refused:
        client.messages.create(to=customer, from_=tenant.sender, body="one")
    assert (refused.value.status, refused.value.code) == (429, 20429)
    assert client.messages.create(to=customer, from_=tenant.sender, body="one").status == "queued"
    stats = tenant.http.get("/_control/stats").json()
    assert stats["creates"] == before + 1 and stats["sends_by_to"][customer] == 1

    tenant.http.post("/_control/faults", json={"mode": "http_500", "count": 1})
    assert tenant.send(customer, Body="two").json()["code"] == 20500
    assert tenant.send(customer, Body="two").status_code == 201


def test_timeout_after_accept_creates_the_message(tenant: Tenant) -> None:
    customer = tenant.customer()
    tenant.http.post("/_control/faults", json={"mode": "timeout_after_accept", "count": 1})
    with pytest.raises(httpx.ReadTimeout):
        tenant.http.post(
            f"/2010-04-01/Accounts/{tenant.sid}/Messages.json",
            data={"To": customer, "From": tenant.sender, "Body": "did it go?"},
            auth=(tenant.sid, tenant.token),
            timeout=0.5,
        )
    listed = tenant.http.get(
        f"/2010-04-01/Accounts/{tenant.sid}/Messages.json",
        params={
            "To": customer,
            "From": tenant.sender,
            "DateSent>": datetime.now(UTC).date().isoformat(),
        },
        auth=(tenant.sid, tenant.token),
    ).json()
    assert [m["body"] for m in listed["messages"]] == ["did it go?"]
    assert tenant.http.get("/_control/stats").json()["sends_by_to"][customer] == 1
    assert tenant.send(customer, Body="next").status_code == 201  # the fault is spent


# -- REST errors and listing ------------------------------------------------------------


def test_twilio_error_codes(tenant: Tenant, standin: str, receiver: tuple[Receiver, str]) -> None:
    customer = tenant.customer()
    messages = f"/2010-04-01/Accounts/{tenant.sid}/Messages.json"
    assert tenant.http.post(messages, data={"To": customer, "Body": "x"}).status_code == 401
    assert tenant.http.get(messages, auth=(tenant.sid, "nope")).json()["code"] == 20003

    def code(**form: str) -> int:
        response = tenant.send(customer, **form)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}"
        assert body["status"] == 400
        return int(body["code"])

    with tenant_for(standin, *receiver) as other:
        assert code(From=other.sender, Body="x") == 63007
        assert code(ContentSid=other.template()) == 21655
    assert code(To="", Body="x") == 21604
    assert code(To="+27821234567", Body="x") == 21211
    assert code() == 21619
    assert code(ContentSid="HX" + "0" * 32) == 21655
    assert code(Body="x", ContentVariables="{}") == 21654
    assert code(ContentSid=tenant.template(), ContentVariables="not json") == 21656
    assert code(Body="x" * 1601) == 21617
    missing = tenant.http.get(
        f"/2010-04-01/Accounts/{tenant.sid}/Messages/SM{'0' * 32}.json",
        auth=(tenant.sid, tenant.token),
    )
    assert (missing.status_code, missing.json()["code"]) == (404, 20404)
    assert tenant.http.get("/2010-04-01/Nothing.json").json()["code"] == 20404


def test_list_filters_and_paging_through_the_sdk(tenant: Tenant, standin: str) -> None:
    client, _ = official_client(tenant, standin)
    customer = tenant.customer()
    sids = [tenant.send(customer, Body=f"n{i}").json()["sid"] for i in range(5)]
    tenant.send(tenant.customer(), Body="someone else")
    today = datetime.now(UTC).date()
    listed = client.messages.list(to=customer, from_=tenant.sender, page_size=2)
    assert [m.sid for m in listed] == sids[::-1]  # newest first, across three pages
    assert (
        len(
            client.messages.list(
                to=customer, date_sent_after=datetime.now(UTC) - timedelta(minutes=5)
            )
        )
        == 5
    )
    assert client.messages.list(to=customer, date_sent_before=today - timedelta(days=1)) == []
    assert len(client.messages.list(to=customer, date_sent=today)) == 5


# -- templates ------------------------------------------------------------------------


def test_template_rejection_control_and_deletion(tenant: Tenant) -> None:
    auth = (tenant.sid, tenant.token)
    sid = tenant.template(
        "promo",
        **{
            "twilio/call-to-action": {
                "body": "Book now",
                "actions": [{"type": "URL", "title": "Book", "url": "https://example.com/{{1}}"}],
            }
        },
    )
    submitted = tenant.http.post(
        f"/v1/Content/{sid}/ApprovalRequests/whatsapp",
        json={"name": "please_reject_me", "category": "MARKETING"},
        auth=auth,
    )
    assert submitted.status_code == 201 and submitted.json()["status"] == "received"

    def whatsapp() -> dict[str, Any]:
        body: dict[str, Any] = tenant.http.get(
            f"/v1/Content/{sid}/ApprovalRequests", auth=auth
        ).json()
        return dict(body["whatsapp"])

    wait_for(lambda: whatsapp()["status"] == "rejected", 5, "rejection")
    assert whatsapp()["rejection_reason"]
    for status in ("approved", "paused", "disabled"):
        tenant.http.post(f"/_control/content/{sid}/approval", json={"status": status})
        assert whatsapp()["status"] == status

    bad = tenant.http.post(
        f"/v1/Content/{sid}/ApprovalRequests/whatsapp",
        json={"name": "x", "category": "SPAM"},
        auth=auth,
    )
    assert bad.status_code == 400
    invalid = tenant.http.post(
        "/v1/Content",
        json={"language": "en", "types": {"twilio/quick-reply": {"body": "x"}}},
        auth=auth,
    )
    assert invalid.status_code == 400
    assert tenant.http.delete(f"/v1/Content/{sid}", auth=auth).status_code == 204
    assert tenant.http.get(f"/v1/Content/{sid}", auth=auth).json()["code"] == 20404
    assert tenant.send(tenant.customer(), ContentSid=sid).json()["code"] == 21655


# -- control surface, mounting -----------------------------------------------------------


def test_driven_callbacks_never_move_the_resource_backwards(receiver: tuple[Receiver, str]) -> None:
    with (
        ThreadServer(create_standin(auto_progress=False)) as server,
        tenant_for(server.url, *receiver) as tenant,
    ):
        customer = tenant.customer()
        sid = tenant.send(customer, Body="hi").json()["sid"]
        for status in ("read", "sent", "delivered", "delivered"):
            result = tenant.http.post(f"/_control/messages/{sid}/status", json={"status": status})
            assert (result.json()["status_code"], result.json()["status"]) == (200, "read")
        assert tenant.receiver.statuses(tenant.status_url, sid) == [
            "read",
            "sent",
            "delivered",
            "delivered",
        ]
        assert tenant.fetch(sid)["status"] == "read"

        phone = tenant.http.get("/_control/messages", params={"to": customer}).json()
        assert [(m["sid"], m["status"], m["body"]) for m in phone] == [(sid, "read", "hi")]
        assert tenant.http.get("/_control/stats").json()["creates"] == 1
        tenant.http.post("/_control/reset")
        assert tenant.http.get("/_control/stats").json() == {
            "creates": 0,
            "sends_by_to": {},
            "messages": 0,
            "inbound": 0,
        }
        assert tenant.send(customer, Body="hi").status_code == 401  # accounts are gone too


def test_mounted_under_a_prefix(receiver: tuple[Receiver, str]) -> None:
    standin_app = create_standin(progress_delays=DELAYS)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await standin_app.state.standin.aclose()  # a mounted app's lifespan does not run

    host = FastAPI(lifespan=lifespan)
    host.mount("/__twilio", standin_app)
    with ThreadServer(host) as server, tenant_for(f"{server.url}/__twilio", *receiver) as tenant:
        base = tenant.base
        client, _ = official_client(tenant, base)
        customer = tenant.customer()
        url = tenant.inbound(
            customer,
            media=[{"content_type": "image/png", "data_base64": base64.b64encode(PNG).decode()}],
        )["params"]["MediaUrl0"]
        assert url.startswith(f"{base}/2010-04-01/")
        sids = [
            client.messages.create(to=customer, from_=tenant.sender, body=str(i)).sid
            for i in range(3)
        ]
        assert [
            m.sid
            for m in client.messages.list(to=customer, page_size=1)
            if m.direction != "inbound"
        ] == sids[::-1]
        content = tenant.template()
        assert client.content.v1.contents(content).fetch().url == f"{base}/v1/Content/{content}"
        tenant.final_status(sids[-1], "read")
