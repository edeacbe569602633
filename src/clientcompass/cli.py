"""`clientcompass`: serve, web, worker, migrate, and provisioning commands (`--json`)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import procrastinate
import structlog
import uvicorn
import uvloop

from clientcompass import jobs, supervisor, work
from clientcompass.accounts import service as accounts
from clientcompass.app import create_app
from clientcompass.audit import service as audit
from clientcompass.auth import tokens
from clientcompass.auth.principal import AuthMethod, Principal
from clientcompass.config import Settings
from clientcompass.crypto import Keyring
from clientcompass.db import Database, UnitOfWork, create_engine
from clientcompass.draining import DrainingServer, draining_of
from clientcompass.embedded import embedded_servers
from clientcompass.errors import ConfigurationError, DomainError
from clientcompass.lifecycle import retention
from clientcompass.logs import configure_logging
from clientcompass.migrate import migrate
from clientcompass.models import Role
from clientcompass.sandbox import provision
from clientcompass.team import service as team
from clientcompass.twilio_client import twilio_client
from clientcompass.whatsapp import channels

log = structlog.get_logger("clientcompass.cli")


def _print(args: argparse.Namespace, payload: dict[str, Any], human: str) -> None:
    print(json.dumps(payload, default=str) if args.json else human)


# What `serve` gives its children beyond SHUTDOWN_GRACE_SECONDS to stop before a SIGKILL.
STOP_MARGIN_SECONDS = 20


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Web, worker and scheduler on one machine, on embedded servers unless URLs are set;
    with the sandbox on (development), first a demo business wired to it."""
    need_pg, need_redis = not settings.database_url, not settings.redis_url
    with embedded_servers(
        settings.data_dir, need_postgres=need_pg, need_redis=need_redis
    ) as servers:
        env = dict(os.environ)
        if need_pg:
            env["DATABASE_URL"] = servers.database_url
        if need_redis:
            env["REDIS_URL"] = servers.redis_url
        env["CLIENTCOMPASS_DATA_DIR"] = str(settings.data_dir.resolve())
        if "shutdown_notice_seconds" not in settings.model_fields_set:
            # One machine, no proxy to tell: a stopping web need not linger before it closes.
            env["SHUTDOWN_NOTICE_SECONDS"] = "0"
        settings = settings.model_copy(
            update={"database_url": env["DATABASE_URL"], "redis_url": env["REDIS_URL"]}
        ).ensure_secrets()
        migrate(settings)
        if settings.sandbox_enabled:
            try:
                demo = provision.provision_demo(settings, jobs.build_job_app(settings))
            except DomainError as exc:  # the demo is a convenience: serve without it
                demo = None
                print(f"clientcompass: no sandbox demo: {exc.message}", file=sys.stderr)
            if demo is not None:
                print(provision.banner(demo, settings.base_url), flush=True)
        # Long enough for the web's drain and the worker's running jobs, then SIGKILL.
        stop_timeout = (
            settings.shutdown_notice_seconds + settings.shutdown_grace_seconds + STOP_MARGIN_SECONDS
        )
        return _supervise(env, ["web", "worker"], stop_timeout=stop_timeout)


def _supervise(
    env: dict[str, str],
    commands: list[str],
    *,
    backoff: supervisor.Backoff | None = None,
    stop_timeout: float = 30.0,
) -> int:
    """Run each `clientcompass <command>` as a child, restarting one that dies (with backoff,
    each restart logged) until SIGINT/SIGTERM, which drains and stops them all."""
    argv = [sys.executable, "-m", "clientcompass"]
    return supervisor.supervise(
        [(command, [*argv, command]) for command in commands],
        env,
        backoff=backoff,
        stop_timeout=stop_timeout,
    )


def _require_urls(settings: Settings) -> None:
    database = settings.database_app_url or settings.database_url
    missing = [
        n for n, v in (("DATABASE_URL", database), ("REDIS_URL", settings.redis_url)) if not v
    ]
    if missing:
        raise ConfigurationError(
            f"{' and '.join(missing)} must be set for this command; `clientcompass serve` "
            "starts embedded servers when they are not"
        )


# uvicorn's own exit code for an app whose start-up failed.
WEB_STARTUP_FAILURE = 3


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    """uvicorn serving the app; on SIGTERM it drains (draining.py): /readyz turns 503, SSE
    streams end with a `retry:` hint, and in-flight requests get SHUTDOWN_GRACE_SECONDS."""
    _require_urls(settings)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    server = DrainingServer(config, draining_of(app), settings.shutdown_notice_seconds)
    server.run()
    # As `uvicorn.run` does: a web that never started (its lifespan failed) exits non-zero.
    return 0 if server.started else WEB_STARTUP_FAILURE


ONCE_MAX_ROUNDS = 20


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """The job worker and scheduler; it outlives database and Redis outages (jobs.run_worker)."""
    _require_urls(settings)
    rounds = ONCE_MAX_ROUNDS if args.once else 0
    # uvloop, as the web process has through uvicorn: a worker is mostly socket round trips
    # (PostgreSQL, Redis, push services), and its event loop's share of the CPU halves.
    uvloop.run(jobs.run_worker(settings.ensure_secrets(), once_rounds=rounds))
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    if settings.database_url:
        migrate(settings)
        return 0
    with embedded_servers(settings.data_dir, need_postgres=True, need_redis=False) as servers:
        migrate(settings.model_copy(update={"database_url": servers.database_url}))
    return 0


@dataclass
class Workspace:
    """What a provisioning command acts through: the app role's database and the job queue."""

    db: Database
    job_app: procrastinate.App

    def unit_of_work(
        self, tenant_id: uuid.UUID | None = None
    ) -> AbstractAsyncContextManager[UnitOfWork]:
        return work.unit_of_work(self.db, self.job_app, tenant_id)


def _with_database(
    settings: Settings, action: Callable[[Workspace], Coroutine[Any, Any, dict[str, Any]]]
) -> dict[str, Any]:
    """Run a provisioning action as the app role (RLS applies), on embedded PG if need be."""

    async def run(url_settings: Settings) -> dict[str, Any]:
        db = Database(create_engine(url_settings.app_database_url(), pool_size=1))
        try:
            await db.assert_cannot_bypass_rls()
            job_app, _ = jobs.build_job_app(url_settings.ensure_secrets())
            async with job_app.open_async():
                return await action(Workspace(db, job_app))
        finally:
            await db.dispose()

    if settings.database_url:
        migrate(settings)
        return asyncio.run(run(settings))
    with embedded_servers(settings.data_dir, need_postgres=True, need_redis=False) as servers:
        embedded = settings.model_copy(update={"database_url": servers.database_url})
        migrate(embedded)
        return asyncio.run(run(embedded))


def cmd_tenant_create(args: argparse.Namespace, settings: Settings) -> int:
    async def action(ws: Workspace) -> dict[str, Any]:
        async with ws.unit_of_work() as uow:
            user = await accounts.sign_up(
                uow,
                business_name=args.name,
                owner_name=args.owner_name or args.owner_email.split("@")[0],
                email=args.owner_email,
                password=args.owner_password,
            )
        return {
            "tenant_id": str(user.tenant_id),
            "owner_id": str(user.id),
            "owner_email": user.email,
        }

    result = _with_database(settings, action)
    _print(
        args,
        result,
        f"Created business {args.name!r} ({result['tenant_id']}) with owner {result['owner_email']}",
    )
    return 0


async def _principal_for(ws: Workspace, tenant: str, email: str) -> Principal:
    async with ws.unit_of_work() as uow:
        found = await accounts.find_login(uow, email)
    if found is None or str(found[0]) != tenant:
        raise DomainError(f"No user {email} in business {tenant}.")
    async with ws.unit_of_work(found[0]) as uow:
        user = await accounts.get_user(uow, found[1])
    return Principal.of_user(user, AuthMethod.COMMAND)


def cmd_user_invite(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.ensure_secrets()

    async def action(ws: Workspace) -> dict[str, Any]:
        actor = await _principal_for(ws, args.tenant, args.invited_by)
        async with ws.unit_of_work(actor.tenant_id) as uow:
            issued = await team.invite(
                uow,
                actor,
                email=args.email,
                role=Role(args.role),
                lifetime_seconds=settings.invitation_lifetime_seconds,
                base_url=settings.base_url,
            )
        return {
            "invitation_id": str(issued.invitation.id),
            "email": issued.invitation.email,
            "role": issued.invitation.role.value,
            "url": issued.url,
            "expires_at": issued.invitation.expires_at.isoformat(),
        }

    result = _with_database(settings, action)
    _print(args, result, f"Invitation for {result['email']} ({result['role']}): {result['url']}")
    return 0


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    async def action(ws: Workspace) -> dict[str, Any]:
        actor = await _principal_for(ws, args.tenant, args.email)
        async with ws.unit_of_work(actor.tenant_id) as uow:
            user = await accounts.get_user(uow, actor.user_id)
            issued = await tokens.create_api_token(uow, user, name=args.name)
            await audit.record_token_created(uow, user.id, issued.api_token, device="Command line")
        return {
            "token_id": str(issued.api_token.id),
            "token": issued.token,
            "user_id": str(user.id),
        }

    result = _with_database(settings, action)
    _print(args, result, result["token"])
    return 0


def cmd_channel_add_twilio(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.ensure_secrets()

    async def action(ws: Workspace) -> dict[str, Any]:
        async with ws.unit_of_work() as uow:
            owners = await accounts.owners_of(uow, uuid.UUID(args.tenant))
        if not owners:
            raise DomainError(f"No business {args.tenant}.")
        actor = await _principal_for(ws, args.tenant, owners[0])
        twilio = twilio_client(settings)
        try:
            sender = channels.checked_sender(
                account_sid=args.account_sid,
                auth_token=args.auth_token,
                whatsapp_from=args.from_,
                messaging_service_sid=args.messaging_service_sid,
            )
            channel = await channels.connect_twilio(
                ws.unit_of_work,
                actor,
                Keyring(settings.encryption_keys),
                twilio,
                sender,
                sends_per_second=settings.whatsapp_sends_per_second,
            )
        finally:
            await twilio.http.aclose()
        urls = channels.webhook_urls(settings.base_url, channel)
        return {
            "channel_id": str(channel.id),
            "whatsapp_from": channel.whatsapp_from,
            "inbound_webhook_url": urls.inbound,
            "status_callback_url": urls.status,
        }

    result = _with_database(settings, action)
    _print(
        args,
        result,
        f"Connected {result['whatsapp_from']}. In Twilio, set\n"
        f"  incoming messages webhook: {result['inbound_webhook_url']}\n"
        f"  status callback URL:       {result['status_callback_url']}",
    )
    return 0


def cmd_retention(args: argparse.Namespace, settings: Settings) -> int:
    """Apply the retention rules now (lifecycle/retention.py), or count with --dry-run."""

    async def action(ws: Workspace) -> dict[str, Any]:
        found = await retention.run(
            ws.unit_of_work, settings, datetime.now(UTC), dry_run=args.dry_run
        )
        return retention.report(found, dry_run=args.dry_run)

    result = _with_database(settings, action)
    _print(args, result, retention.describe(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clientcompass", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="web + worker + scheduler on one machine").set_defaults(
        func=cmd_serve
    )
    sub.add_parser("web", help="the web app only (production)").set_defaults(func=cmd_web)
    worker = sub.add_parser("worker", help="the job worker and scheduler only (production)")
    worker.add_argument("--once", action="store_true", help="run the queued jobs, then exit")
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="apply database migrations as the owner").set_defaults(
        func=cmd_migrate
    )

    tenant = sub.add_parser("tenant", help="businesses").add_subparsers(
        dest="tenant_command", required=True
    )
    create = tenant.add_parser("create", help="create a business and its owner")
    create.add_argument("--name", required=True)
    create.add_argument("--owner-email", required=True)
    create.add_argument("--owner-password", required=True)
    create.add_argument("--owner-name", default="")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=cmd_tenant_create)

    user = sub.add_parser("user", help="team members").add_subparsers(
        dest="user_command", required=True
    )
    invite = user.add_parser("invite", help="create a one-time invitation link")
    invite.add_argument("--tenant", required=True, help="business id")
    invite.add_argument("--email", required=True)
    invite.add_argument("--role", choices=[r.value for r in Role], default=Role.AGENT.value)
    invite.add_argument("--invited-by", required=True, help="email of an owner or admin")
    invite.add_argument("--json", action="store_true")
    invite.set_defaults(func=cmd_user_invite)

    token = sub.add_parser("token", help="personal API tokens").add_subparsers(
        dest="token_command", required=True
    )
    token_create = token.add_parser("create", help="issue a personal API token")
    token_create.add_argument("--tenant", required=True, help="business id")
    token_create.add_argument("--email", required=True)
    token_create.add_argument("--name", default="CLI token")
    token_create.add_argument("--json", action="store_true")
    token_create.set_defaults(func=cmd_token_create)

    channel = sub.add_parser("channel", help="WhatsApp channels").add_subparsers(
        dest="channel_command", required=True
    )
    add_twilio = channel.add_parser("add-twilio", help="connect a Twilio WhatsApp sender")
    add_twilio.add_argument("--tenant", required=True, help="business id")
    add_twilio.add_argument("--account-sid", required=True)
    add_twilio.add_argument("--auth-token", required=True)
    add_twilio.add_argument("--from", dest="from_", required=True, help="whatsapp:+27…")
    add_twilio.add_argument("--messaging-service-sid", default="")
    add_twilio.add_argument("--json", action="store_true")
    add_twilio.set_defaults(func=cmd_channel_add_twilio)
    keep = sub.add_parser("retention", help="delete what is past its keeping period")
    keep.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    keep.add_argument("--json", action="store_true")
    keep.set_defaults(func=cmd_retention)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level)
    try:
        result: int = args.func(args, settings)
        return result
    except (ConfigurationError, DomainError) as exc:
        message = exc.message if isinstance(exc, DomainError) else str(exc)
        if getattr(args, "json", False):
            print(json.dumps({"error": {"message": message}}))
        else:
            print(f"clientcompass: {message}", file=sys.stderr)
        return 2
