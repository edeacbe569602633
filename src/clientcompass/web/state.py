"""Per-process resources, built once in the app's lifespan and reached from the request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import cast

import procrastinate
from fastapi import Request
from fastapi.templating import Jinja2Templates
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from clientcompass import work
from clientcompass.auth.sessions import SessionStore
from clientcompass.auth.throttle import LoginThrottle
from clientcompass.cache import TtlCache
from clientcompass.config import Settings
from clientcompass.crypto import Keyring
from clientcompass.db import Database, FastPath, UnitOfWork
from clientcompass.metrics import WhatsAppMetrics
from clientcompass.realtime.bus import Announcer
from clientcompass.twilio_client import TwilioClient


@dataclass
class AppState:
    settings: Settings
    db: Database
    redis: Redis
    keyring: Keyring
    sessions: SessionStore
    throttle: LoginThrottle
    job_app: procrastinate.App
    templates: Jinja2Templates
    registry: CollectorRegistry
    metrics: WhatsAppMetrics
    twilio: TwilioClient
    fast: FastPath
    announcer: Announcer
    # Webhook key → channel (whatsapp/channels.py): every webhook would otherwise pay a
    # query and a decryption.
    channel_cache: TtlCache[str, object] = field(default_factory=TtlCache)

    @asynccontextmanager
    async def unit_of_work(self, tenant_id: uuid.UUID | None = None) -> AsyncIterator[UnitOfWork]:
        async with work.unit_of_work(
            self.db, self.job_app, tenant_id, publisher=self.announcer
        ) as uow:
            yield uow


def app_state(request: Request) -> AppState:
    return cast(AppState, request.app.state.cc)


async def app_state_dependency(request: Request) -> AppState:
    """The same, as an async dependency: FastAPI runs sync dependencies on a thread pool."""
    return app_state(request)
