"""One place that turns errors into responses: JSON under /api, a page or toast elsewhere."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from clientcompass.errors import DomainError, NotAuthenticated, TooManyAttempts
from clientcompass.web.forms import field_errors
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
            if request.headers.get("hx-request"):
                return Response(status_code=401, headers={"HX-Redirect": "/login"})
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return render_error_page(request, exc.status_code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        fields: dict[str, str] = {}
        for error in exc.errors():
            loc = [str(part) for part in error["loc"] if part not in ("body", "query", "path")]
            message = str(error["msg"]).removeprefix("Value error, ")
            fields.setdefault(".".join(loc) or "body", message[:1].upper() + message[1:])
        message = "Some fields need attention: " + "; ".join(f"{k}: {v}" for k, v in fields.items())
        if wants_json(request):
            return JSONResponse(error_body("invalid", message, fields), 422)
        return render_error_page(request, 422, message)

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
