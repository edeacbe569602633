"""One place that turns errors into responses: JSON under /api, a page or toast elsewhere."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from clientcompass.errors import DomainError, NotAuthenticated, TooManyAttempts
from clientcompass.web.auth import SignedOut
from clientcompass.web.forms import field_errors, messages_by_field
from clientcompass.web.render import safe_next
from clientcompass.web.state import app_state


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, object]:
    error: dict[str, object] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


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


def install_error_handlers(app: FastAPI) -> None:
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
        if wants_json(request):
            return JSONResponse(
                error_body("http_" + str(exc.status_code), message),
                exc.status_code,
                headers=exc.headers,
            )
        return render_error_page(request, exc.status_code, message)


__all__ = ["error_body", "field_errors", "install_error_handlers", "wants_json"]
