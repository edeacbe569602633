"""Assembling the stand-in as one ASGI app that can run alone or be mounted.

Every route is relative, so the same app serves ``http://host:port/...`` under uvicorn
in a test and ``http://host:port/__twilio/...`` mounted in the dev server; the
TWILIO_API_BASE_URL and TWILIO_CONTENT_BASE_URL settings then both point at that
prefix (Twilio's two hosts share one stand-in, their paths do not collide).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import content, control, media, rest
from .errors import TwilioError, error_body
from .state import StandinState

# Twilio's codes for errors raised by routing rather than by a resource.
ROUTING_CODES = {404: 20404, 405: 20004}


def create_standin(
    *,
    auto_progress: bool = True,
    progress_delays: tuple[float, float, float] = (0.05, 0.1, 0.2),
    public_base_url: str = "",
    state_file: Path | None = None,
) -> FastAPI:
    """A local Twilio (Messages, Media, Content API) plus its ``/_control`` surface.

    ``auto_progress`` plays deliveries (sent → delivered → read, or failed) and template
    approvals on their own, waiting ``progress_delays`` seconds between steps; without
    it, tests drive them through the control surface. ``public_base_url`` is where the
    stand-in is reachable (for ``MediaUrl{N}``, CDN redirects and Content API ``url``
    values); empty means "derive it from each request". ``state_file`` keeps the
    accounts and senders across restarts (the development sandbox); None keeps nothing.

    State lives on ``app.state.standin``. When mounted, the host app must await
    ``app.state.standin.aclose()`` on shutdown, because Starlette does not run a mounted
    app's lifespan.
    """
    state = StandinState(
        auto_progress=auto_progress,
        progress_delays=progress_delays,
        public_base_url=public_base_url,
        state_file=state_file,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await state.aclose()

    app = FastAPI(
        title="Twilio stand-in",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.standin = state

    @app.exception_handler(TwilioError)
    async def twilio_error(_request: Request, exc: TwilioError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def routing_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Control endpoints keep FastAPI's {"detail": ...}; Twilio paths speak Twilio.
        if "/_control/" in request.url.path or exc.status_code not in ROUTING_CODES:
            return await http_exception_handler(request, exc)
        code = ROUTING_CODES[exc.status_code]
        message = (
            f"The requested resource {request.url.path} was not found"
            if exc.status_code == 404
            else None
        )
        return JSONResponse(error_body(exc.status_code, code, message), status_code=exc.status_code)

    app.include_router(rest.build_router(state))
    app.include_router(media.build_router(state))
    app.include_router(content.build_router(state))
    app.include_router(control.build_router(state))
    return app
