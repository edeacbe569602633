"""One pure-ASGI middleware for what every response needs: request id, JSON access log,
metrics by route template, security headers, and cookies the request decided to set."""

from __future__ import annotations

import re
import secrets
import time
from http.cookies import SimpleCookie

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clientcompass.config import Settings
from clientcompass.metrics import Metrics
from clientcompass.web.auth import CSRF_COOKIE, SESSION_COOKIE

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

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
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
            raise
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
