"""The demo business `clientcompass serve` creates in development, wired to the sandbox.

`make run` on a fresh machine should leave someone one sign-in away from trying the
product end to end, with no Twilio account: a business, its owner, and a WhatsApp
sandbox number whose webhooks reach this app. Every step is idempotent, so each start
re-checks the same demo instead of making another.

It runs before the web process starts, so it talks to the built-in stand-in in-process
(through its persisted state file) rather than over HTTP.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import procrastinate
import structlog

from clientcompass import work
from clientcompass.accounts import service as accounts
from clientcompass.auth.principal import AuthMethod, Principal
from clientcompass.config import Settings
from clientcompass.crypto import Keyring
from clientcompass.db import Database, create_engine
from clientcompass.sandbox import samples
from clientcompass.sandbox import service as sandbox
from clientcompass.sandbox.control import StandinControl
from clientcompass.storage import Storage
from clientcompass.twilio_client import TwilioClient
from clientcompass.twilio_standin import create_standin
from clientcompass.work import LazyResources

log = structlog.get_logger(__name__)

DEMO_BUSINESS = "Demo Plumbing"
DEMO_OWNER = "Demo Owner"
# Not `demo@clientcompass.local`: sign-in validates addresses and refuses the special-use
# `.local` domain, so that owner could never sign in. example.com is reserved for examples.
DEMO_EMAIL = "demo@example.com"
PASSWORD_FILE = "demo-password.txt"  # noqa: S105 (a file name, not a password)
# Any host will do: requests go straight into the stand-in app, never onto the network.
IN_PROCESS_URL = "http://twilio-standin.invalid"


@dataclass(frozen=True)
class DemoTenant:
    tenant_id: uuid.UUID
    email: str
    password: str
    password_file: Path
    whatsapp_from: str
    created: bool


def _new_password() -> str:
    return secrets.token_urlsafe(12)


def _read_password(path: Path) -> str | None:
    return path.read_text().strip() if path.exists() else None


def _write_password(path: Path, password: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(password + "\n")
    path.chmod(0o600)


async def _owner(
    db: Database, job_app: procrastinate.App, password_file: Path
) -> tuple[Principal, str, bool]:
    """The demo owner, signed up once; their password is the one in `password_file`.

    If that file was deleted, a new password replaces the old one through the ordinary
    reset flow, so the console never shows a password that does not work.
    """
    async with work.unit_of_work(db, job_app) as uow:
        found = await accounts.find_login(uow, DEMO_EMAIL)
    created = found is None
    if found is None:
        password = _read_password(password_file) or _new_password()
        async with work.unit_of_work(db, job_app) as uow:
            user = await accounts.sign_up(
                uow,
                business_name=DEMO_BUSINESS,
                owner_name=DEMO_OWNER,
                email=DEMO_EMAIL,
                password=password,
            )
        _write_password(password_file, password)
    else:
        kept = _read_password(password_file)
        if kept is not None:
            password = kept
        else:
            password = _new_password()
            async with work.unit_of_work(db, job_app) as uow:
                link = await accounts.start_password_reset(uow, DEMO_EMAIL, lifetime_seconds=60)
                assert link is not None
                await accounts.finish_password_reset(uow, link.token, password)
            _write_password(password_file, password)
        async with work.unit_of_work(db, job_app, found[0]) as uow:
            user = await accounts.get_user(uow, found[1])
    actor = Principal.of_user(user, AuthMethod.COMMAND)
    return actor, password, created


async def ensure_demo(
    db: Database,
    job_app: procrastinate.App,
    keyring: Keyring,
    twilio: TwilioClient,
    control: StandinControl,
    *,
    base_url: str,
    data_dir: Path,
    storage: Storage,
) -> DemoTenant:
    """Make sure the demo business, its owner and its wired sandbox channel exist; a new
    demo also gets its sample customer, quote and invoice."""
    password_file = data_dir / PASSWORD_FILE
    actor, password, created = await _owner(db, job_app, password_file)
    async with work.unit_of_work(db, job_app, actor.tenant_id) as uow:
        channel = await sandbox.connect_sandbox(
            uow, actor, keyring, twilio, control, base_url=base_url
        )
        whatsapp_from = channel.whatsapp_from
        if created:
            await samples.add(uow, actor, channel, keyring, storage)
    return DemoTenant(
        tenant_id=actor.tenant_id,
        email=DEMO_EMAIL,
        password=password,
        password_file=password_file,
        whatsapp_from=whatsapp_from,
        created=created,
    )


async def _provision(
    settings: Settings, job_app: procrastinate.App, resources: LazyResources
) -> DemoTenant:
    standin = create_standin(
        public_base_url=settings.sandbox_twilio_url, state_file=settings.sandbox_state_file
    )
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=standin), timeout=30)
    twilio = TwilioClient(http, api_base_url=IN_PROCESS_URL, content_base_url=IN_PROCESS_URL)
    db = Database(create_engine(settings.app_database_url(), pool_size=1))
    try:
        await db.assert_cannot_bypass_rls()
        async with job_app.open_async():
            return await ensure_demo(
                db,
                job_app,
                Keyring(settings.encryption_keys),
                twilio,
                StandinControl(http, IN_PROCESS_URL),
                base_url=settings.base_url,
                data_dir=settings.data_dir,
                storage=Storage(),
            )
    finally:
        await resources.close()
        await standin.state.standin.aclose()
        await http.aclose()
        await db.dispose()


def provision_demo(
    settings: Settings, jobs: tuple[procrastinate.App, LazyResources]
) -> DemoTenant | None:
    """For `serve`: the demo on the built-in sandbox; None when the app talks to another
    Twilio (TWILIO_API_BASE_URL set), which this cannot wire before the web starts. `jobs`
    is the process's job app (`jobs.build_job_app`), whose queue the demo's work goes to."""
    if not settings.sandbox_is_built_in:
        log.info("sandbox.demo_skipped", reason="TWILIO_API_BASE_URL points elsewhere")
        return None
    return asyncio.run(_provision(settings, *jobs))


def banner(demo: DemoTenant, base_url: str) -> str:
    """What `serve` prints so the demo's sign-in is the first thing one sees."""
    rule = "─" * 72
    return "\n".join(
        [
            rule,
            f" Client Compass demo: {DEMO_BUSINESS}, on the built-in WhatsApp sandbox",
            f"   Sign in at  {base_url}/login",
            f"   Email       {demo.email}",
            f"   Password    {demo.password}   (kept in {demo.password_file})",
            f"   Play the customer on the sandbox phone: {base_url}/sandbox",
            f"   The business's sandbox number is {demo.whatsapp_from.removeprefix('whatsapp:')}.",
            rule,
        ]
    )
