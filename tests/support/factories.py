"""Plain factory functions: set-up made through the app's own services, not its pages.

Each call opens the app's unit of work as its non-owner database role, so row-level security
binds the factories exactly as it binds the app; only the behaviour under test goes over HTTP.
The app behind a client is found by its URL: every `LiveServer` registers its settings here.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
import jwt
import procrastinate
from psycopg_pool import AsyncConnectionPool

from clientcompass.accounts import service as accounts
from clientcompass.auth.principal import AuthMethod, Principal
from clientcompass.auth.sessions import JWT_ALGORITHM, SessionStore
from clientcompass.business import service as business
from clientcompass.business.schemas import BankingDetails, BusinessProfileIn
from clientcompass.config import Settings
from clientcompass.crypto import Keyring
from clientcompass.db import Database, UnitOfWork, create_engine, libpq_url
from clientcompass.jobs import build_job_app
from clientcompass.models import Role, User
from clientcompass.redis import create_redis
from clientcompass.team import service as team
from clientcompass.web.auth import SESSION_COOKIE
from clientcompass.whatsapp import channels
from clientcompass.work import unit_of_work

if TYPE_CHECKING:
    from tests.conftest import StandinServer

T = TypeVar("T")
PASSWORD = "correct horse battery"
OWNER_NAME = "Thandi Owner"


@dataclass
class Account:
    email: str
    password: str
    business_name: str
    tenant_id: uuid.UUID
    user_id: uuid.UUID


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.co.za"


# The settings of every app server the tests started, by base URL.
_apps: dict[str, Settings] = {}
# For each client a factory signed in: the session's JWT and its CSRF token.
_csrf: weakref.WeakKeyDictionary[httpx.Client, tuple[str, str]] = weakref.WeakKeyDictionary()


def register_app(settings: Settings) -> None:
    """Let factories reach the app served at `settings.base_url` (called by `LiveServer`)."""
    _apps[settings.base_url.rstrip("/")] = settings


def settings_of(client: httpx.Client) -> Settings:
    """The settings of the app `client` talks to."""
    url = str(client.base_url).rstrip("/")
    settings = _apps.get(url)
    assert settings is not None, f"no test app serves {url}; factories need a LiveServer"
    return settings


@dataclass
class Services:
    """What a factory works with: the app's own database role, job app, Redis and keys."""

    settings: Settings
    db: Database
    job_app: procrastinate.App
    sessions: SessionStore
    keyring: Keyring

    @asynccontextmanager
    async def unit_of_work(self, tenant_id: uuid.UUID | None = None) -> AsyncIterator[UnitOfWork]:
        async with unit_of_work(self.db, self.job_app, tenant_id, publisher=None) as uow:
            yield uow


class _FactoryLoop:
    """One event loop on a thread of its own for every factory call (the browser tests hold
    the main thread's), so the services a factory uses stay open from one call to the next:
    a fresh loop per call would have to connect to PostgreSQL and Redis anew each time."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="factories", daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()


@functools.cache
def _factory_loop() -> _FactoryLoop:
    return _FactoryLoop()


# Built on the factories' loop, on first use: per database, its engine (its role checked) and
# job app; per settings object (each server's), the services with its keys.
_databases: dict[str, tuple[Database, procrastinate.App]] = {}
_services: dict[int, Services] = {}


async def _database(settings: Settings) -> tuple[Database, procrastinate.App]:
    url = settings.app_database_url()
    if url not in _databases:
        db = Database(create_engine(url, pool_size=2))
        await db.assert_cannot_bypass_rls()
        job_app = build_job_app(settings)[0]
        # A unit of work writes its jobs in its own transaction, so the job app's connector
        # is barely used: one connection where procrastinate's default pool opens four.
        pool = AsyncConnectionPool(libpq_url(url), min_size=1, max_size=1, open=False)
        await pool.open()
        await job_app.open_async(pool)
        _databases[url] = (db, job_app)
    return _databases[url]


async def _services_for(settings: Settings) -> Services:
    # Keyed by identity: the Services keep their settings alive, so the id is never reused.
    if id(settings) not in _services:
        db, job_app = await _database(settings)
        _services[id(settings)] = Services(
            settings,
            db,
            job_app,
            SessionStore(create_redis(settings.redis_url), settings),
            Keyring(settings.encryption_keys),
        )
    return _services[id(settings)]


def run(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Run `work` with the services of the app these settings configure."""

    async def main() -> T:
        return await work(await _services_for(settings))

    return _factory_loop().run(main())


async def _member(uow: UnitOfWork, user_id: uuid.UUID) -> Principal:
    """A member of the unit of work's business, acting as a server-side command would."""
    return Principal.of_user(await accounts.get_user(uow, user_id), AuthMethod.COMMAND)


def business_with_owner(
    settings: Settings,
    *,
    business_name: str = "",
    owner_name: str = OWNER_NAME,
    email: str = "",
    password: str = PASSWORD,
) -> Account:
    """A new business and its owner, as sign-up makes them."""
    email = email or unique_email("owner")
    business_name = business_name or f"Biz {uuid.uuid4().hex[:6]}"

    async def make(services: Services) -> User:
        async with services.unit_of_work() as uow:
            return await accounts.sign_up(
                uow,
                business_name=business_name,
                owner_name=owner_name,
                email=email,
                password=password,
            )

    user = run(settings, make)
    return Account(email, password, business_name, user.tenant_id, user.id)


def sign_in(client: httpx.Client, account: Account) -> None:
    """Sign `client` in as the account's user without the form: a live session in Redis and
    its JWT in the session cookie, as the login view leaves them."""
    settings = settings_of(client)

    async def start(services: Services) -> tuple[str, str]:
        session = await services.sessions.create(
            account.tenant_id,
            account.user_id,
            ip="127.0.0.1",
            user_agent=client.headers.get("user-agent", ""),
        )
        return services.sessions.issue_jwt(session), session.csrf_token

    token, csrf = run(settings, start)
    client.cookies.set(SESSION_COOKIE, token, domain=client.base_url.host, path="/")
    _csrf[client] = (token, csrf)


def known_csrf(client: httpx.Client) -> str | None:
    """The CSRF token of the session `sign_in` gave this client, while it still holds it."""
    known = _csrf.get(client)
    if known is None:
        return None
    held = [cookie.value for cookie in client.cookies.jar if cookie.name == SESSION_COOKIE]
    return known[1] if held == [known[0]] else None


def signed_in_as(client: httpx.Client) -> tuple[uuid.UUID, uuid.UUID]:
    """The tenant and user of the session `client` holds, read off its JWT."""
    settings = settings_of(client)
    held = [cookie.value for cookie in client.cookies.jar if cookie.name == SESSION_COOKIE]
    assert len(held) == 1, "the client is not signed in"
    claims = jwt.decode(
        held[0], settings.secret_key, algorithms=[JWT_ALGORITHM], options={"verify_exp": False}
    )
    return uuid.UUID(claims["tid"]), uuid.UUID(claims["sub"])


def business_profile(
    settings: Settings,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    profile: dict[str, Any],
    banking: dict[str, Any] | None = None,
) -> None:
    """Fill in the business profile, and banking details if given, as that member (the
    banking form's password step-up is the page's, so a `password` key is ignored)."""
    data = BusinessProfileIn.model_validate(profile)
    details = None
    if banking is not None:
        details = BankingDetails.model_validate(
            {k: v for k, v in banking.items() if k != "password"}
        )

    async def fill(services: Services) -> None:
        async with services.unit_of_work(tenant_id) as uow:
            actor = await _member(uow, user_id)
            await business.update_profile(uow, actor, data)
            if details is not None:
                await business.set_banking_details(uow, actor, services.keyring, details)

    run(settings, fill)


def whatsapp_channel(
    settings: Settings,
    standin: StandinServer,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    whatsapp_from: str,
) -> dict[str, Any]:
    """A WhatsApp sender on a new stand-in account, stored as connecting it does and with its
    webhooks configured in the stand-in; shaped as the API returns it, plus the credentials."""
    account = standin.control("POST", "accounts", json={}).json()
    sender = channels.checked_sender(
        account_sid=account["account_sid"],
        auth_token=account["auth_token"],
        whatsapp_from=whatsapp_from,
    )

    async def store(services: Services) -> dict[str, Any]:
        async with services.unit_of_work(tenant_id) as uow:
            actor = await _member(uow, user_id)
            channel = await channels.store_channel(
                uow,
                actor,
                services.keyring,
                sender,
                sends_per_second=settings.whatsapp_sends_per_second,
            )
        urls = channels.webhook_urls(settings.base_url, channel)
        return {
            "id": str(channel.id),
            "name": channel.name,
            "whatsapp_from": channel.whatsapp_from,
            "account_sid": channel.account_sid,
            "is_sandbox": channel.is_sandbox,
            "inbound_webhook_url": urls.inbound,
            "status_callback_url": urls.status,
        }

    channel = run(settings, store)
    standin.control(
        "POST",
        "senders",
        json={
            "account_sid": account["account_sid"],
            "from": channel["whatsapp_from"],
            "inbound_url": channel["inbound_webhook_url"],
            "status_url": channel["status_callback_url"],
        },
    )
    return {**channel, **account}


def teammate(
    settings: Settings,
    tenant_id: uuid.UUID,
    inviter_id: uuid.UUID,
    *,
    email: str,
    role: Role,
    name: str,
    password: str = PASSWORD,
) -> Account:
    """A member invited by `inviter_id` who has accepted, as the team pages do it (the
    invitation email is queued as it would be)."""

    async def join(services: Services) -> tuple[User, str]:
        async with services.unit_of_work(tenant_id) as uow:
            issued = await team.invite(
                uow,
                await _member(uow, inviter_id),
                email=email,
                role=role,
                lifetime_seconds=settings.invitation_lifetime_seconds,
                base_url=settings.base_url,
            )
            business_name = (await accounts.get_tenant(uow)).name
        async with services.unit_of_work() as uow:
            user = await team.accept_invitation(uow, issued.token, name=name, password=password)
        return user, business_name

    user, business_name = run(settings, join)
    return Account(email, password, business_name, user.tenant_id, user.id)
