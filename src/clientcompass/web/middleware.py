"""One pure-ASGI middleware for what every response needs: request id, JSON access log,
metrics by route template, security headers, cookies the request decided to set, and a 500
page for an error nothing else handled, on a connection that stays open."""

from __future__ import annotations

import re
import secrets
import time
from http.cookies import SimpleCookie

import structlog
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clientcompass.config import Settings
from clientcompass.metrics import Metrics
from clientcompass.web.auth import CSRF_COOKIE, SESSION_COOKIE
from clientcompass.web.errors import error_body, render_error_page, wants_json

log = structlog.get_logger("clientcompass.access")
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _cookie_header(name: str, value: str, *, max_age: int, secure: bool, samesite: str) -> str:
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = value
    morsel = cookie[name]
    morsel["path"] = "/"
    morsel["max-age"] = max_age
    morsel["httponly"] = True
    morsel["samesite"] = samesite
    if secure:
        morsel["secure"] = True
    return morsel.OutputString()


def _unrouted_label(path: str) -> str:
    """Static files are served by mounts, not routes; one label keeps metrics cardinality low."""
    return "/static/{path}" if path.startswith("/static/") else "<unmatched>"


SERVER_ERROR = (
    "Something went wrong on our side and nothing was changed. Try again in a moment; if it "
    "keeps happening, tell us this reference: {request_id}."
)


def server_error(scope: Scope, request_id: str) -> Response:
    """The 500 a person can act on: the error page (or toast), or JSON under /api."""
    request = Request(scope)
    message = SERVER_ERROR.format(request_id=request_id)
    if wants_json(request):
        return JSONResponse(error_body("server_error", message), 500)
    try:
        return render_error_page(request, 500, message)
    except Exception:  # the error page itself could not be drawn: plain words still go out
        return PlainTextResponse(message + "\n", 500)


class RequestMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, metrics: Metrics) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.hsts = settings.cookies_secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if REQUEST_ID_PATTERN.match(incoming) else secrets.token_hex(8)
        scope.setdefault("state", {})
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                self._security_headers(headers, scope)
                headers["x-request-id"] = request_id
                self._cookies(headers, scope)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            # Logged here, with the request id, whatever the server's own logging is.
            log.exception("unhandled error", method=scope["method"], path=scope.get("path", ""))
            if response_started:
                raise  # half an answer is out: only closing the connection can end it
            # Answered here rather than re-raised: Starlette's ServerErrorMiddleware answers
            # too but then re-raises, and uvicorn drops the keep-alive connection, so the
            # client's next request on it failed as well.
            await server_error(scope, request_id)(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or _unrouted_label(scope.get("path", ""))
            self.metrics.observe_request(scope["method"], template, status, elapsed)
            log.info(
                "request",
                method=scope["method"],
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")

    def _security_headers(self, headers: MutableHeaders, scope: Scope) -> None:
        headers.setdefault("content-security-policy", CONTENT_SECURITY_POLICY)
        headers["x-content-type-options"] = "nosniff"
        headers["x-frame-options"] = "DENY"
        headers.setdefault("referrer-policy", "strict-origin-when-cross-origin")
        headers["permissions-policy"] = "camera=(), microphone=(), geolocation=()"
        headers["cross-origin-opener-policy"] = "same-origin"
        if self.hsts:
            headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"
        path: str = scope.get("path", "")
        if not path.startswith("/static/"):
            headers.setdefault("cache-control", "no-store")

    def _cookies(self, headers: MutableHeaders, scope: Scope) -> None:
        state = scope.get("state", {})
        secure = self.settings.cookies_secure
        reissued = state.get("reissued_jwt")
        if reissued:
            headers.append(
                "set-cookie",
                _cookie_header(
                    SESSION_COOKIE,
                    reissued,
                    max_age=self.settings.session_absolute_seconds,
                    secure=secure,
                    samesite="lax",
                ),
            )
        new_csrf = state.get("new_csrf_cookie")
        if new_csrf:
            headers.append(
                "set-cookie",
                _cookie_header(
                    CSRF_COOKIE, new_csrf, max_age=7 * 24 * 3600, secure=secure, samesite="strict"
                ),
            )
