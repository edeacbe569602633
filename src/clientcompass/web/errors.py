"""One place that turns errors into responses: JSON under /api, a page or toast elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from clientcompass.db import DATABASE_ERRORS, database_unavailable
from clientcompass.errors import DomainError, NotAuthenticated, TooManyAttempts
from clientcompass.redis import REDIS_ERRORS, redis_unavailable
from clientcompass.web.auth import SignedOut
from clientcompass.web.forms import field_errors, messages_by_field
from clientcompass.web.render import safe_next
from clientcompass.web.state import app_state

log = structlog.get_logger(__name__)
# How long a client is asked to wait before trying again after a 503.
RETRY_AFTER_SECONDS = 5


@dataclass(frozen=True)
class Outage:
    """A service the request needed and could not reach: a 503, never a 500."""

    service: str  # as /readyz names it
    code: str
    message: str


DATABASE_OUTAGE = Outage(
    "postgresql",
    "database_unavailable",
    "We can't reach our database; your work is safe, try again in a moment.",
)
REDIS_OUTAGE = Outage(
    "redis",
    "sessions_unavailable",
    "We can't reach our sign-in and live-update service; your work is safe, try again in a moment.",
)


def outage_of(exc: BaseException) -> Outage | None:
    """The outage `exc` means, or None for any other error (which stays a 500)."""
    if database_unavailable(exc):
        return DATABASE_OUTAGE
    if redis_unavailable(exc):
        return REDIS_OUTAGE
    return None


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, object]:
    error: dict[str, object] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, for programs: not_found, invalid, csrf_failed, …")
    message: str = Field(description="For people: what went wrong and what to do.")
    fields: dict[str, str] | None = Field(None, description="Field name → its problem.")


class ErrorOut(BaseModel):
    """The body of every JSON error (`error_body`)."""

    error: ErrorDetail


# Declared once for every JSON route (create_app): any route can answer signed out (401),
# forbidden (403), not found (404), invalid (422), too large (413) or busy (429), and 503
# while the database or Redis is out of reach. Without it the schema promised 200 and
# FastAPI's own 422 shape, which these routes never send.
API_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorOut, "description": "Refused: the body says why."},
    503: {"model": ErrorOut, "description": "A service we need is unreachable; retry later."},
}


def render_error_page(request: Request, status: int, message: str) -> Response:
    if request.headers.get("hx-request"):
        # htmx swaps this into the toast region instead of the target.
        return app_state(request).templates.TemplateResponse(
            request,
            "partials/toast.html",
            {"message": message, "kind": "error"},
            status_code=status,
            headers={"HX-Retarget": "#toasts", "HX-Reswap": "beforeend"},
        )
    return app_state(request).templates.TemplateResponse(
        request, "error.html", {"message": message, "status": status}, status_code=status
    )


def return_to(request: Request) -> str:
    """The page to come back to after signing in: this one for a GET; for a change (a POST
    to /inbox/…/messages), the page it was sent from, and only if that is ours."""
    if request.method in ("GET", "HEAD"):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return safe_next(target, "")
    sent_from = request.headers.get("hx-current-url") or request.headers.get("referer") or ""
    parts = urlsplit(sent_from)
    if parts.netloc != request.url.netloc or parts.scheme not in ("http", "https"):
        return ""
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""), "")


def login_url(request: Request, *, signed_out: bool) -> str:
    """/login, naming the page to return to (same site only) and why the person is there."""
    params = {}
    target = return_to(request)
    if target and not target.startswith("/login"):
        params["next"] = target
    if signed_out:
        params["signed_out"] = "session"
    return "/login" + (f"?{urlencode(params)}" if params else "")


def unavailable_response(request: Request, outage: Outage) -> Response:
    """503 with Retry-After: JSON under /api, the error page (or a toast) elsewhere."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if wants_json(request):
        return JSONResponse(error_body(outage.code, outage.message), 503, headers=headers)
    response = render_error_page(request, 503, outage.message)
    response.headers.update(headers)
    return response


def install_error_handlers(app: FastAPI) -> None:
    async def unavailable(request: Request, exc: Exception) -> Response:
        outage = outage_of(exc)
        if outage is None:
            raise exc  # not an outage: the 500 it always was
        log.warning(
            "service unavailable",
            service=outage.service,
            error=type(exc).__name__,
            path=request.url.path,
        )
        return unavailable_response(request, outage)

    # Keyed by type: Starlette picks a handler by the exception's class, and the outage test
    # above tells a lost server from a failed statement of the same class.
    for error in (*DATABASE_ERRORS, *REDIS_ERRORS):
        app.add_exception_handler(error, unavailable)

    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> Response:
        headers = {}
        if isinstance(exc, TooManyAttempts):
            headers["Retry-After"] = str(exc.retry_after)
        if wants_json(request):
            fields = {exc.field: exc.message} if exc.field else None
            return JSONResponse(
                error_body(exc.code, exc.message, fields), exc.status_code, headers=headers
            )
        if isinstance(exc, NotAuthenticated):
            login = login_url(request, signed_out=isinstance(exc, SignedOut))
            if request.headers.get("hx-request"):
                return Response(status_code=401, headers={"HX-Redirect": login})
            return RedirectResponse(login, status_code=303)
        return render_error_page(request, exc.status_code, exc.message)

    def invalid(request: Request, fields: dict[str, str]) -> Response:
        message = "Some fields need attention: " + "; ".join(f"{k}: {v}" for k, v in fields.items())
        if wants_json(request):
            return JSONResponse(error_body("invalid", message, fields), 422)
        return render_error_page(request, 422, message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        skip = ("body", "query", "path", "header", "cookie")
        return invalid(request, messages_by_field(exc.errors(), skip=skip, default="body"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = {
            404: "There is nothing at this address.",
            405: "That action is not allowed here.",
        }.get(exc.status_code, str(exc.detail))
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        if wants_json(request):
            return JSONResponse(
                error_body("http_" + str(exc.status_code), message),
                exc.status_code,
                headers=headers,
            )
        return render_error_page(request, exc.status_code, message)


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path, for a 405's Allow header: Starlette names
    only the methods of the first route that matched, and GET and PUT of one path are two."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if route.path and route.methods and compile_path(route.path)[0].match(request.url.path):
            methods |= route.methods
    return ", ".join(sorted(methods))


__all__ = [
    "API_ERROR_RESPONSES",
    "ErrorOut",
    "error_body",
    "field_errors",
    "install_error_handlers",
    "outage_of",
    "unavailable_response",
    "wants_json",
]
