"""A local push service (RFC 8030) that checks what a real one checks, and reads the message
as the browser would, so a delivery here proves a phone could show it.

- `subscribe(application_server_key)` plays the browser's `pushManager.subscribe`: a fresh
  P-256 key pair and 16-byte auth secret, returned as `{endpoint, keys: {p256dh, auth}}`.
- `POST /push/<id>` checks the VAPID Authorization (RFC 8292: `vapid t=<jwt>, k=<key>`; the
  ES256 signature checked with PyJWT against k, aud = this origin, exp in the future and at
  most 24 h ahead, sub present; k must be the key the subscription was made with), the TTL
  header and `Content-Encoding: aes128gcm`, then decrypts the body with `http_ece` and the
  subscription's private key (RFC 8291). A good push is answered 201 with a Location and
  recorded; a bad one gets the status a push service gives, and is recorded as a rejection.
- `PushService(decrypt_on_receipt=False)` (bench/notify) keeps each accepted body sealed and
  decrypts it when the deliveries are read, as the phone does later on its own CPU. The
  push service's checks still run on receipt; a body that then fails to decrypt makes
  `deliveries()` raise.
- `gone(endpoint)` answers 410 from then on; `fail(endpoint, times, status, retry_after)`
  answers 503 (or another status) that many times first.

It runs under uvicorn as a bare ASGI app, on a thread of its own; its records are guarded by
one lock, so a benchmark can read them while a thousand deliveries arrive.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import http_ece
import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.waiting import wait_for

MAX_PAYLOAD_BYTES = 4096  # RFC 8291 §4: what a push service must accept, and Chrome's limit
MAX_EXP_AHEAD_SECONDS = 24 * 3600
TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Device:
    """A browser's side of one subscription: what it decrypts with, and the key it trusts."""

    id: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    application_server_key: str
    gone: bool = False
    failures: list[tuple[int, str | None]] = field(default_factory=list)


@dataclass(frozen=True)
class Delivery:
    endpoint: str
    payload: dict[str, Any]
    headers: dict[str, str]
    received_at: float  # time.time()


@dataclass(frozen=True)
class Rejection:
    endpoint: str
    status: int
    reason: str


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_vapid(header: str) -> tuple[str, str]:
    """`vapid t=<jwt>, k=<key>` (auth-params, RFC 8292 §3) → (token, key)."""
    scheme, _, params = header.strip().partition(" ")
    if scheme.lower() != "vapid":
        raise Refused(401, f"Authorization scheme {scheme!r} is not vapid")
    values = {}
    for item in params.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            values[name.strip().lower()] = value.strip()
    if "t" not in values or "k" not in values:
        raise Refused(401, "vapid Authorization needs t= and k=")
    return values["t"], values["k"]


def check_vapid(header: str, audience: str, expected_key: str) -> dict[str, Any]:
    """The claims of a valid VAPID token from the expected key, or `Refused`.

    A token's signature is checked once, as a push service caches a sender's JWT for its
    life (a sender reuses one for many pushes; bench/notify sends a thousand with one): the
    expiry and the subscription's key are still checked on every push."""
    token, key = parse_vapid(header)
    claims = _verified(token, key, audience)
    if claims["exp"] <= time.time():
        raise Refused(401, "VAPID token rejected: ExpiredSignatureError: Signature has expired")
    # RFC 8292 §4.2: a push to a subscription made with another key is forbidden.
    if key.rstrip("=") != expected_key.rstrip("="):
        raise Refused(403, "k is not the applicationServerKey this subscription was made with")
    return dict(claims)


@functools.lru_cache(maxsize=256)
def _verified(token: str, key: str, audience: str) -> dict[str, Any]:
    """The claims of a token whose ES256 signature, audience and claims are good (a refusal
    raises, so it is never cached)."""
    try:
        point = unb64url(key)
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except (ValueError, binascii.Error) as exc:
        raise Refused(401, "k is not a P-256 public key") from exc
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            public_key,
            algorithms=["ES256"],
            audience=audience,
            options={"require": ["aud", "exp", "sub"]},
        )
    except jwt.InvalidTokenError as exc:
        raise Refused(401, f"VAPID token rejected: {type(exc).__name__}: {exc}") from exc
    if claims["exp"] > time.time() + MAX_EXP_AHEAD_SECONDS:
        raise Refused(401, "VAPID exp is more than 24 hours ahead")
    if not str(claims["sub"]).startswith(("mailto:", "https://")):
        raise Refused(401, "VAPID sub must be a mailto: or https: URL")
    return claims


class PushService:
    """The stand-in: an ASGI app (`app`), the devices it knows, and what reached them."""

    def __init__(self, *, decrypt_on_receipt: bool = True) -> None:
        self.url = ""
        self.decrypt_on_receipt = decrypt_on_receipt
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        # How many arrivals each waiter waits for: a thread woken on every push took a seventh
        # of this process's CPU at 1,000 pushes (GIL hand-offs), so only the last one wakes it.
        self._awaited: list[int] = []
        self._devices: dict[str, Device] = {}
        self._deliveries: list[Delivery] = []
        # Accepted, not yet decrypted (decrypt_on_receipt=False): endpoint, body, device,
        # headers, when it arrived.
        self._sealed: list[tuple[str, bytes, Device, dict[str, str], float]] = []
        self._rejections: list[Rejection] = []

    # -- the browser's side ---------------------------------------------------------------

    def subscribe(self, application_server_key: str) -> dict[str, Any]:
        """A new subscription in the browser's `PushSubscription.toJSON()` shape."""
        private_key = ec.generate_private_key(ec.SECP256R1())
        point = private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        device = Device(uuid.uuid4().hex, private_key, os.urandom(16), application_server_key)
        with self._lock:
            self._devices[device.id] = device
        return {
            "endpoint": f"{self.url}/push/{device.id}",
            "keys": {"p256dh": b64url(point), "auth": b64url(device.auth)},
        }

    def gone(self, endpoint: str) -> None:
        """The browser unsubscribed: 410 Gone from now on."""
        with self._lock:
            self._device(endpoint).gone = True

    def fail(
        self, endpoint: str, times: int = 1, status: int = 503, retry_after: str | None = None
    ) -> None:
        """Answer `status` (with Retry-After, if given) to the next `times` pushes."""
        with self._lock:
            self._device(endpoint).failures.extend([(status, retry_after)] * times)

    # -- what arrived ---------------------------------------------------------------------

    def deliveries(self, endpoint: str | None = None) -> list[Delivery]:
        with self._lock:
            sealed, self._sealed = self._sealed, []
        opened = [
            Delivery(where, open_payload(body, device), headers, received_at)
            for where, body, device, headers, received_at in sealed
        ]
        with self._lock:
            self._deliveries.extend(opened)
            return [d for d in self._deliveries if endpoint is None or d.endpoint == endpoint]

    def rejections(self, endpoint: str | None = None) -> list[Rejection]:
        with self._lock:
            return [r for r in self._rejections if endpoint is None or r.endpoint == endpoint]

    def wait_for_deliveries(self, count: int, timeout: float = 15) -> list[Delivery]:
        """Block until at least `count` deliveries arrived (all endpoints)."""
        self.wait_for_arrivals(count, timeout)
        return self.deliveries()

    def wait_for_arrivals(self, count: int, timeout: float = 15) -> None:
        """Block until at least `count` pushes were accepted, without decrypting them."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            self._awaited.append(count)
            try:
                while (arrived := self._arrival_count()) < count:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise AssertionError(
                            f"timed out waiting for {count} pushes ({arrived} arrived)"
                        )
                    self._arrived.wait(left)
            finally:
                self._awaited.remove(count)

    def _arrival_count(self) -> int:
        return len(self._deliveries) + len(self._sealed)

    def clear(self) -> None:
        with self._lock:
            self._deliveries.clear()
            self._sealed.clear()
            self._rejections.clear()

    def _device(self, endpoint: str) -> Device:
        device_id = urlsplit(endpoint).path.rsplit("/", 1)[-1]
        return self._devices[device_id]

    # -- the push service's side ----------------------------------------------------------

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The push service as a bare ASGI app with its one route, `POST /push/<id>`:
        Starlette's routing and middleware were most of this stand-in's CPU at 1,000 pushes
        (bench/notify), which is not ours to measure."""
        if scope["type"] != "http":
            return
        path = str(scope["path"])
        if scope["method"] != "POST" or not path.startswith("/push/"):
            await _respond(send, 404, b"no such resource")
            return
        received_at = time.time()
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        audience = f"{scope['scheme']}://{headers.get('host', '')}"
        status, reason, extra = self._receive(
            path.removeprefix("/push/"), bytes(body), headers, audience, received_at
        )
        await _respond(send, status, reason.encode(), extra)

    def _receive(
        self,
        device_id: str,
        body: bytes,
        headers: dict[str, str],
        audience: str,
        received_at: float,
    ) -> tuple[int, str, dict[str, str]]:
        """One push: its status, the reason a refusal gives, and the response's headers."""
        endpoint = f"{self.url}/push/{device_id}"
        with self._lock:
            device = self._devices.get(device_id)
            failure = device.failures.pop(0) if device and device.failures else None
        try:
            if device is None:
                raise Refused(404, "no such subscription")
            if device.gone:
                raise Refused(410, "the subscription has expired or was unsubscribed")
            if failure is not None:
                status, retry_after = failure
                with self._lock:
                    self._rejections.append(Rejection(endpoint, status, "told to fail"))
                return (
                    status,
                    "try again later",
                    {"Retry-After": retry_after} if retry_after else {},
                )
            self._check(headers, audience, body, device)
            payload = open_payload(body, device) if self.decrypt_on_receipt else None
        except Refused as refused:
            with self._lock:
                self._rejections.append(Rejection(endpoint, refused.status, refused.reason))
            return refused.status, refused.reason, {}
        with self._arrived:
            if payload is None:
                self._sealed.append((endpoint, body, device, headers, received_at))
            else:
                self._deliveries.append(Delivery(endpoint, payload, headers, received_at))
            if self._awaited and self._arrival_count() >= min(self._awaited):
                self._arrived.notify_all()
        return 201, "", {"Location": f"{self.url}/message/{uuid.uuid4().hex}"}

    def _check(self, headers: dict[str, str], audience: str, body: bytes, device: Device) -> None:
        """What the push service itself checks (RFC 8030, RFC 8292): it cannot read the body."""
        check_vapid(headers.get("authorization", ""), audience, device.application_server_key)
        ttl = headers.get("ttl", "")
        if not ttl.isdigit():
            raise Refused(400, "TTL header missing or not a number (RFC 8030 §5.2)")
        urgency = headers.get("urgency", "normal")
        if urgency not in ("very-low", "low", "normal", "high"):
            raise Refused(400, f"Urgency {urgency!r} is not one of RFC 8030 §5.3's")
        topic = headers.get("topic")
        if topic is not None and not TOPIC.fullmatch(topic):
            raise Refused(400, "Topic must be at most 32 base64url characters (RFC 8030 §5.4)")
        if headers.get("content-encoding", "").lower() != "aes128gcm":
            raise Refused(415, "Content-Encoding must be aes128gcm (RFC 8291)")
        if len(body) > MAX_PAYLOAD_BYTES:
            raise Refused(413, "payload larger than 4096 bytes")


async def _respond(
    send: Any, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    raw = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in (headers or {}).items()
    ]
    raw.append((b"content-length", str(len(body)).encode()))
    if body:
        raw.append((b"content-type", b"text/plain; charset=utf-8"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def open_payload(body: bytes, device: Device) -> dict[str, Any]:
    """What the browser reads: the body decrypted with the device's private key (RFC 8291)."""
    try:
        plain = http_ece.decrypt(
            body, private_key=device.private_key, auth_secret=device.auth, version="aes128gcm"
        )
    except Exception as exc:  # http_ece raises several types for a bad message
        raise Refused(400, f"the payload does not decrypt: {type(exc).__name__}") from exc
    try:
        payload: dict[str, Any] = json.loads(plain)
    except ValueError as exc:
        raise Refused(400, "the decrypted payload is not JSON") from exc
    return payload


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PushServiceServer:
    """`PushService` under uvicorn on a thread, on a free loopback port."""

    def __init__(self, *, decrypt_on_receipt: bool = True) -> None:
        port = _free_port()
        self.service = PushService(decrypt_on_receipt=decrypt_on_receipt)
        self.service.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            self.service.app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            interface="asgi3",  # a bound method: uvicorn would take it for ASGI 2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="push-service", daemon=True)

    def start(self) -> PushService:
        self.thread.start()
        wait_for(
            lambda: self.server.started or not self.thread.is_alive(),
            20,
            "the push service stand-in",
            every=0.02,
        )
        if not self.server.started:
            raise RuntimeError("the push service stand-in did not start")
        return self.service

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def running() -> Iterator[PushService]:
    """For a fixture: `yield from running()`."""
    server = PushServiceServer()
    service = server.start()
    try:
        yield service
    finally:
        server.stop()
