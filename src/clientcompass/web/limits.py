"""Request bodies at the door: a size limit per kind of route, enforced as the bytes arrive,
and the control characters taken out of forms, JSON and query strings before any route reads
them.

Without a limit one anonymous 200 MB JSON request took the web process from 254 MB to 805 MB,
and a proxy in front is not always there to stop it. So this step counts the bytes of every
`http.request` message: a declared Content-Length over the limit is refused before a byte of
the body is read, and a body without one (chunked) is cut off the moment it passes the limit.
The answer is 413 with a message (a page, a toast for htmx, or JSON under /api) and
`Connection: close`, since the client may still be sending.

The limits: forms and JSON `MAX_BODY_BYTES` (1 MB); uploads their documented maximum plus
room for the form around the file (`upload_limits`); Twilio's webhooks
`MAX_WEBHOOK_BODY_BYTES` (64 KB).

Forms and JSON (at most 1 MB) are read whole here and cleaned once (web/forms.py's
`clean_form_bytes` / `clean_json_bytes`), so no route can forget to: a NUL in any field gave
a 500 on about 25 endpoints. Webhook bodies and query strings are left exactly as sent, since
Twilio's signature covers them; whatsapp/webhooks.py cleans their values after checking it.
Multipart forms stream through (files are bytes, not text); forms.parse cleans their fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clientcompass.config import SANDBOX_MOUNT, Settings
from clientcompass.web.errors import error_body, render_error_page, wants_json
from clientcompass.web.forms import clean_form_bytes, clean_json_bytes, clean_text

log = structlog.get_logger(__name__)

MB = 1024 * 1024
WEBHOOK_PREFIX = "/webhooks/"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Limit:
    max_bytes: int
    message: str


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a body passes its limit; whatever the route does with it,
    the client gets the 413 (BodyLimits replaces any other answer)."""

    def __init__(self, limit: Limit) -> None:
        super().__init__(413, limit.message)
        self.limit = limit


def size_text(size: int) -> str:
    return f"{size // MB} MB" if size % MB == 0 else f"{size // 1024} KB"


def readable_size(size: int) -> str:
    """A file's size as a person reads it (templates' `file_size`): a 20-byte file is not
    "0.0 KB", nor a 16 MB video "16384.0 KB"."""
    if size < 1024:
        return "1 byte" if size == 1 else f"{size} bytes"
    kilobytes = round(size / 1024)
    if kilobytes < 1024:
        return f"{kilobytes} KB"
    return f"{size / MB:.1f}".removesuffix(".0") + " MB"


def upload_limits(settings: Settings, *, csv_import_bytes: int) -> dict[str, Limit]:
    """The routes that take a file (POST), by path: the file's documented maximum, plus
    MAX_BODY_BYTES of room for the form's other fields and the multipart framing. The routes
    check the file's own size exactly and say so in their own words."""

    def upload(max_bytes: int, what: str) -> Limit:
        return Limit(
            max_bytes + settings.max_body_bytes,
            f"That {what} is too large: the limit is {size_text(max_bytes)}.",
        )

    logo = upload(settings.max_logo_bytes, "logo")
    contacts = upload(csv_import_bytes, "file")
    media = upload(settings.media_max_bytes, "file")
    return {
        "/settings/business": logo,
        "/contacts/import": contacts,
        "/api/v1/contacts/import": contacts,
        "/api/v1/media": media,
        "/sandbox/send": media,  # the sandbox phone's photo (development only)
    }


class BodyLimits:
    """The pure ASGI step described above; it sits inside RequestMiddleware, so a 413 has the
    request id, the access log line and the headers of every other answer."""

    def __init__(self, app: ASGIApp, settings: Settings, uploads: Mapping[str, Limit]) -> None:
        self.app = app
        self.uploads = dict(uploads)
        self.default = Limit(
            settings.max_body_bytes,
            f"That is more than we accept in one request ({size_text(settings.max_body_bytes)}). "
            "Send less at a time.",
        )
        self.webhook = Limit(
            settings.max_webhook_body_bytes,
            f"Request body too large (limit {size_text(settings.max_webhook_body_bytes)})",
        )
        # The built-in Twilio stand-in (development) takes media as Twilio's API does.
        self.standin = Limit(
            settings.media_max_bytes + settings.max_body_bytes, "Request body too large"
        )

    def limit_for(self, method: str, path: str) -> Limit:
        if path.startswith(WEBHOOK_PREFIX):
            return self.webhook
        if method == "POST" and path in self.uploads:
            return self.uploads[path]
        if path.startswith(SANDBOX_MOUNT + "/"):
            return self.standin
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        cleaned_path = clean_text(path)
        if cleaned_path != path:
            scope["path"] = cleaned_path
        webhook = path.startswith(WEBHOOK_PREFIX)
        if not webhook and scope["query_string"]:
            scope["query_string"] = clean_form_bytes(scope["query_string"])
        limit = self.limit_for(scope["method"], cleaned_path)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit.max_bytes:
            await self.refuse(scope, send, limit)
            return
        counted = _Counted(receive, limit)
        kind = _content_type(headers.get(b"content-type", b""))
        if not webhook and scope["method"] not in ("GET", "HEAD") and _is_text_body(kind):
            # Forms and JSON: read whole (at most the limit), cleaned, then handed on.
            try:
                body, disconnected = await counted.read_all()
            except BodyTooLarge:
                await self.refuse(scope, send, limit)
                return
            if not disconnected:
                cleaned = clean_form_bytes(body) if kind == FORM else clean_json_bytes(body)
                if cleaned != body:
                    _set_content_length(scope, len(cleaned))
                await self.app(scope, _Replay(cleaned, receive), send)
                return
        if declared.isdigit() and b"transfer-encoding" not in headers:
            # The server reads no more than a declared length (h11 holds it to it), and that
            # is within the limit: nothing to count (the webhooks' hot path). A request with
            # Transfer-Encoding too would go by its chunks (uvicorn refuses those anyway).
            await self.app(scope, receive, send)
            return
        await self._run(scope, send, counted, limit)

    async def _run(self, scope: Scope, send: Send, counted: _Counted, limit: Limit) -> None:
        """The app reading a body of unknown length as it streams (chunked), with its answer
        replaced by the 413 if the body passed the limit, whatever the route made of that."""
        started = False
        replaced = False

        async def guarded_send(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                if counted.over and not started:
                    replaced = True
                    await self.refuse(scope, send, limit)
                    return
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not counted.over or started:
                raise
            if not replaced:
                await self.refuse(scope, send, limit)

    async def refuse(self, scope: Scope, send: Send, limit: Limit) -> None:
        log.warning("request body too large", path=scope["path"], limit=limit.max_bytes)

        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        response = _too_large(Request(scope, nothing), limit.message)
        response.headers["connection"] = "close"  # it may still be sending: don't read on
        await response(scope, nothing, send)


def _too_large(request: Request, message: str) -> Response:
    path = request.url.path
    if wants_json(request):
        return JSONResponse(error_body("too_large", message), 413)
    if path.startswith(WEBHOOK_PREFIX) or path.startswith(SANDBOX_MOUNT + "/"):
        return PlainTextResponse(message + "\n", 413)
    try:
        return render_error_page(request, 413, message)
    except Exception:  # no templates (start-up failed): the words still reach the person
        return PlainTextResponse(message + "\n", 413)


def _content_type(value: bytes) -> str:
    return value.split(b";", 1)[0].strip().lower().decode("latin-1")


def _is_text_body(kind: str) -> bool:
    """A urlencoded form, or JSON (FastAPI reads a body without a content type as JSON)."""
    return kind in ("", FORM, "application/json") or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def _set_content_length(scope: Scope, length: int) -> None:
    scope["headers"] = [
        (name, str(length).encode() if name == b"content-length" else value)
        for name, value in scope["headers"]
    ]


class _Counted:
    """`receive`, counting the body's bytes; raises BodyTooLarge past the limit."""

    def __init__(self, receive: Receive, limit: Limit) -> None:
        self.receive = receive
        self.limit = limit
        self.size = 0
        self.over = False

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit.max_bytes:
                self.over = True
                raise BodyTooLarge(self.limit)
        return message

    async def read_all(self) -> tuple[bytes, bool]:
        """The whole body, and whether the client went away before sending it all."""
        chunks: list[bytes] = []
        while True:
            message = await self()
            if message["type"] != "http.request":
                return b"".join(chunks), True
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks), False


class _Replay:
    """`receive` that gives the (cleaned) body once, then waits on the real one (for the
    disconnect a streaming response listens for)."""

    def __init__(self, body: bytes, receive: Receive) -> None:
        self.body: bytes | None = body
        self.receive = receive

    async def __call__(self) -> Message:
        if self.body is None:
            return await self.receive()
        body, self.body = self.body, None
        return {"type": "http.request", "body": body, "more_body": False}
