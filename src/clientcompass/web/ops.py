"""Operations endpoints: liveness, readiness naming what is down, Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from clientcompass.web.auth import State

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: State) -> Response:
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
    if down:
        return JSONResponse(
            {"status": "unavailable", "down": sorted(down), "errors": down}, status_code=503
        )
    return JSONResponse({"status": "ready", "checks": {name: "ok" for name in checks}})


@router.get("/metrics")
async def metrics(state: State) -> Response:
    return PlainTextResponse(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)
