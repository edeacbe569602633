"""Where a request came from (IP and device), for audit events recorded deep in a service
that never sees the request: a pure ASGI middleware sets it for the request's task."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from clientcompass.auth.devices import device_label


@dataclass(frozen=True)
class Origin:
    ip: str
    device: str


_origin: ContextVar[Origin | None] = ContextVar("audit_origin", default=None)


def current_origin() -> Origin | None:
    """The request being served's origin, or None outside a request (a job, a command)."""
    return _origin.get()


class RequestOrigin:
    """Remember each HTTP request's client IP and device label while it is served."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        agent = next((v for k, v in scope["headers"] if k == b"user-agent"), b"")
        token = _origin.set(
            Origin(
                ip=client[0] if client else "unknown",
                device=device_label(agent.decode("latin-1")[:300]),
            )
        )
        try:
            await self.app(scope, receive, send)
        finally:
            _origin.reset(token)
