"""The ceiling for bench/webhook_ingest: a bare Starlette route that validates Twilio's
signature and does one `INSERT … ON CONFLICT DO NOTHING`. Nothing the product does is cheaper."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

DATABASE_URL = os.environ.get("CEILING_DATABASE_URL", "")
AUTH_TOKEN = os.environ.get("CEILING_AUTH_TOKEN", "")
PUBLIC_URL = os.environ.get("CEILING_PUBLIC_URL", "")
pool = AsyncConnectionPool(DATABASE_URL, min_size=10, max_size=20, open=False)
validator = RequestValidator(AUTH_TOKEN)


async def inbound(request: Request) -> Response:
    form = await request.form()
    params = {key: value for key, value in form.items() if isinstance(value, str)}
    if not validator.validate(PUBLIC_URL, params, request.headers.get("x-twilio-signature", "")):
        return Response("forbidden", status_code=403)
    async with pool.connection() as conn:
        await conn.execute(
            "insert into bench_ceiling (message_sid, body) values (%s, %s) on conflict do nothing",
            (params["MessageSid"], params.get("Body", "")),
        )
    return Response('<?xml version="1.0" encoding="UTF-8"?><Response/>', media_type="text/xml")


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    await pool.open()
    yield
    await pool.close()


app = Starlette(routes=[Route("/inbound", inbound, methods=["POST"])], lifespan=lifespan)
