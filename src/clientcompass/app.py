"""The wiring of the web process: `create_app(settings)` builds its resources and mounts
every feature's routes and the middleware. Features never import this module."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from prometheus_client import CollectorRegistry
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from clientcompass import jobs
from clientcompass.accounts import api as accounts_api
from clientcompass.accounts import step_up
from clientcompass.accounts import views as accounts_views
from clientcompass.audit import api as audit_api
from clientcompass.audit import views as audit_views
from clientcompass.audit.context import RequestOrigin
from clientcompass.auth.sessions import SessionStore
from clientcompass.auth.throttle import LoginThrottle
from clientcompass.business import api as business_api
from clientcompass.business import views as business_views
from clientcompass.config import SANDBOX_MOUNT, Settings
from clientcompass.contacts import api as contacts_api
from clientcompass.contacts import csv_io
from clientcompass.contacts import views as contacts_views
from clientcompass.crypto import Keyring
from clientcompass.db import Database, FastPath, create_engine
from clientcompass.documents import api as documents_api
from clientcompass.documents import export_views as documents_export_views
from clientcompass.documents import public_views as documents_public_views
from clientcompass.documents import send_api as documents_send_api
from clientcompass.documents import settings_views as documents_settings_views
from clientcompass.documents import views as documents_views
from clientcompass.draining import Draining
from clientcompass.flows import api as flows_api
from clientcompass.flows import thread_views as flows_thread_views
from clientcompass.flows import views as flows_views
from clientcompass.inbox import action_views as inbox_action_views
from clientcompass.inbox import api as inbox_api
from clientcompass.inbox import views as inbox_views
from clientcompass.integrations import api as integrations_api
from clientcompass.integrations import views as integrations_views
from clientcompass.leads import api as leads_api
from clientcompass.leads import views as leads_views
from clientcompass.lifecycle import (
    closure_views,
    erasure_views,
    export_api,
    export_views,
    policy_views,
    promises,
)
from clientcompass.lifecycle import metrics as lifecycle_metrics
from clientcompass.lifecycle import views as lifecycle_views
from clientcompass.metrics import Metrics, WhatsAppMetrics
from clientcompass.notifications import api as notifications_api
from clientcompass.notifications import unsubscribe as notifications_unsubscribe
from clientcompass.notifications import views as notifications_views
from clientcompass.phones import national
from clientcompass.realtime.bus import Announcer
from clientcompass.redis import create_redis
from clientcompass.sandbox import views as sandbox_views
from clientcompass.team import api as team_api
from clientcompass.team import views as team_views
from clientcompass.twilio_client import twilio_client
from clientcompass.twilio_standin import create_standin
from clientcompass.web import ops, pages, privacy, pwa
from clientcompass.web.assets import StaticAssets, node_modules_dir, served_folders
from clientcompass.web.auth import csrf_token_for
from clientcompass.web.errors import API_ERROR_RESPONSES, install_error_handlers
from clientcompass.web.limits import BodyLimits, readable_size, upload_limits
from clientcompass.web.middleware import RequestMiddleware
from clientcompass.web.render import HOME_TIME_ZONE, render, time_zone_choices
from clientcompass.web.state import AppState
from clientcompass.whatsapp import api as whatsapp_api
from clientcompass.whatsapp import templates_api, templates_views
from clientcompass.whatsapp import views as whatsapp_views
from clientcompass.whatsapp import webhooks as whatsapp_webhooks

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
# HTML and JSON are compressed on the way out; these are not: already compressed (documents,
# media, images), or a live stream that must not wait in a compressor (Server-Sent Events).
NOT_GZIPPED = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,
    "text/event-stream",
    "application/pdf",
    "application/octet-stream",
    "image/*",
)
# Smaller bodies gain less than gzip's framing costs.
GZIP_MINIMUM_BYTES = 1024
FAVICON_CACHE = "public, max-age=86400"


def build_templates(settings: Settings, assets: StaticAssets) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.globals["static_url"] = assets.url
    templates.env.globals["home_time_zone"] = HOME_TIME_ZONE
    templates.env.globals["time_zone_choices"] = time_zone_choices
    templates.env.globals["csrf_token"] = csrf_token_for
    templates.env.globals["policy_seen_marker"] = privacy.seen_marker
    templates.env.globals["promises"] = promises.facts(settings)
    templates.env.globals["upcoming_policy"] = policy_views.announced
    templates.env.filters["phone"] = national
    templates.env.filters["file_size"] = readable_size
    templates.env.globals["sandbox_enabled"] = settings.sandbox_enabled
    templates.env.globals["sandbox_built_in"] = settings.sandbox_is_built_in
    return templates


def create_app(settings: Settings) -> FastAPI:
    settings = settings.ensure_secrets()
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    whatsapp_metrics = WhatsAppMetrics(registry)
    # In development the Twilio stand-in lives inside the app, at SANDBOX_MOUNT. Its deliveries
    # are paced so a person watching the sandbox phone sees each tick arrive.
    standin = (
        create_standin(
            progress_delays=(1.0, 1.5, 2.5),
            public_base_url=settings.sandbox_twilio_url,
            state_file=settings.sandbox_state_file,
        )
        if settings.sandbox_enabled
        else None
    )
    assets = StaticAssets(served_folders(node_modules_dir()))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            create_engine(settings.app_database_url(), pool_size=settings.database_pool_size)
        )
        await db.assert_cannot_bypass_rls()
        metrics.watch_pool(db.engine)
        metrics.watch_send_errors(settings.redis_url)
        lifecycle_metrics.watch(registry, settings.redis_url)
        redis = create_redis(settings.redis_url)
        job_app, _ = jobs.build_job_app(settings)
        twilio = twilio_client(settings)
        fast = FastPath(settings.app_database_url(), max_size=settings.database_pool_size)
        await fast.open()
        announcer = Announcer(redis)
        async with job_app.open_async():
            app.state.cc = AppState(
                settings=settings,
                db=db,
                redis=redis,
                keyring=Keyring(settings.encryption_keys),
                sessions=SessionStore(redis, settings),
                throttle=LoginThrottle(redis, settings),
                job_app=job_app,
                templates=build_templates(settings, assets),
                registry=registry,
                metrics=whatsapp_metrics,
                twilio=twilio,
                fast=fast,
                announcer=announcer,
            )
            # What start-up built lives as long as the process: keep it out of the collector's
            # full passes, which showed as latency spikes in bench/webhook_ingest.
            gc.freeze()
            try:
                yield
            finally:
                if standin is not None:
                    # Starlette does not run a mounted app's lifespan: stop its deliveries here.
                    await standin.state.standin.aclose()
                await announcer.close()
                await fast.close()
                await twilio.http.aclose()
                await redis.aclose()
                await db.dispose()

    app = FastAPI(
        title="Client Compass API",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        responses=API_ERROR_RESPONSES,
    )
    # Set by `clientcompass web` on SIGTERM (draining.py): /readyz and the SSE streams read it.
    app.state.draining = Draining()
    install_error_handlers(app)
    # "Confirm it's you" (a page, or 403 step_up_required under /api): accounts/step_up.py.
    app.add_exception_handler(step_up.StepUpRequired, step_up.step_up_refused)
    # Added first, so it runs inside RequestMiddleware (request id, access log, metrics).
    app.add_middleware(whatsapp_webhooks.InboundFastLane)
    app.add_middleware(RequestOrigin)  # who is asking, for the audit trail
    app.add_middleware(
        BodyLimits,
        settings=settings,
        uploads=upload_limits(settings, csv_import_bytes=csv_io.MAX_IMPORT_BYTES),
    )
    app.add_middleware(RequestMiddleware, settings=settings, metrics=metrics)
    # Outermost: it compresses as the inner layers send, so the access log still times it.
    app.add_middleware(
        GZipMiddleware,
        minimum_size=GZIP_MINIMUM_BYTES,
        compresslevel=6,
        exclude_content_types=NOT_GZIPPED,
    )

    # Routers carry their full prefix, so a route's `path` is its whole template (metrics).
    for router in (
        # The status webhook first: a hot path should not be matched against every route.
        whatsapp_webhooks.router,
        accounts_api.router,
        business_api.router,
        team_api.router,
        whatsapp_api.router,
        contacts_api.router,
        templates_api.router,
        inbox_api.router,
        documents_export_views.router,  # before the /{id} routes: "export.csv" is no id
        documents_api.router,
        documents_public_views.router,
        documents_settings_views.router,
        documents_send_api.router,
        notifications_api.router,
        leads_api.router,
        flows_api.router,
        integrations_api.router,
        whatsapp_views.router,
        templates_views.router,
        inbox_views.router,
        inbox_action_views.router,
        contacts_views.router,
        documents_views.router,
        *([sandbox_views.router] if settings.sandbox_enabled else []),
        ops.router,
        accounts_views.router,
        business_views.router,
        team_views.router,
        notifications_views.router,
        leads_views.router,
        flows_views.router,
        flows_thread_views.router,
        integrations_views.router,
        notifications_unsubscribe.router,
        pwa.router,
        pages.router,
        privacy.router,
        audit_views.router,
        audit_api.router,
        lifecycle_views.router,
        closure_views.router,
        closure_views.api,
        policy_views.router,
        erasure_views.router,
        erasure_views.api_router,
        export_views.router,
        export_api.router,
    ):
        app.include_router(router)

    @app.get("/api/docs", include_in_schema=False)
    async def api_docs(request: Request) -> Response:
        return render(request, "api_docs.html")

    if standin is not None:
        app.mount(SANDBOX_MOUNT, standin, name="twilio-standin")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon(request: Request) -> Response:
        # Asked for by browsers and crawlers whatever the page links; a day is fresh enough.
        return await assets.response("favicon.ico", request.headers, cache=FAVICON_CACHE)

    app.mount("/static", assets, name="static")
    return app
