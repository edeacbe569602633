"""Operations endpoints: liveness, readiness naming what is down (or that the process is
draining for shutdown, so the proxy stops sending it work), Prometheus metrics."""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from clientcompass.draining import draining_of
from clientcompass.web.auth import State

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, state: State) -> Response:
    async def database() -> None:
        async with state.db.engine.connect() as conn:
            await conn.execute(text("select 1"))

    async def redis() -> None:
        await state.redis.ping()

    checks = {"postgresql": database, "redis": redis}
    down: dict[str, str] = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check(), timeout=2)
        except Exception as exc:  # any failure means "not ready"; the reason is reported
            down[name] = type(exc).__name__
    if draining_of(request.app).active:
        return JSONResponse(
            {"status": "draining", "down": sorted(down), "errors": down}, status_code=503
        )
    if down:
        return JSONResponse(
            {"status": "unavailable", "down": sorted(down), "errors": down}, status_code=503
        )
    return JSONResponse({"status": "ready", "checks": {name: "ok" for name in checks}})


@router.get("/metrics")
async def metrics(request: Request, state: State) -> Response:
    """Prometheus text format; behind `Authorization: Bearer METRICS_TOKEN` when that is set."""
    expected = state.settings.metrics_token
    if expected:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return PlainTextResponse(
                "metrics need the METRICS_TOKEN bearer token\n", status_code=401
            )
    return PlainTextResponse(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)
