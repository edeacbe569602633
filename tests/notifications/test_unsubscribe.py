"""Unsubscribing from a notification email without signing in: the emailed link (a page,
then its button) and RFC 8058's one-click POST from a mail client (no cookie, no CSRF token)
each turn that one email off for that one person; a forged or altered token changes nothing."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, expect

from clientcompass import links
from clientcompass.config import Settings
from clientcompass.models import Role
from clientcompass.notifications import email as lead_email
from clientcompass.notifications import preferences
from clientcompass.notifications.kinds import Channel, Kind
from clientcompass.notifications.preferences import Preferences
from clientcompass.notifications.unsubscribe import token_for
from tests.conftest import LiveServer, MailSink, StandinServer
from tests.support import factories
from tests.support.accounts import sign_up
from tests.support.aio import run_async
from tests.support.browser import PHONE, assert_fits_phone, in_own_browser, new_page, shot
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile
from tests.support.worker import run_queued_jobs

UNSUBSCRIBE_LINE = re.compile(r"^Unsubscribe: (\S+)", re.MULTILINE)


@dataclass
class Business:
    client: httpx.Client
    account: factories.Account
    channel: dict[str, object]


def run_jobs(settings: Settings) -> None:
    """Run every due job, and those they defer, as `worker --once` does."""
    run_async(lambda: run_queued_jobs(settings))


def new_lead_emails(
    settings: Settings, owner_conn: psycopg.Connection, business: Business, standin: StandinServer
) -> str:
    """A new customer writes, and 2 minutes pass (made due, not slept): the new-lead email
    job runs. Returns the conversation's id."""
    phone = sa_mobile()
    customer_says(standin, business.channel, phone, "Hello, do you fix gates?")
    conversation_id = str(conversation_with(business.client, phone)["id"])

    async def defer(services: factories.Services) -> None:
        async with services.unit_of_work(business.account.tenant_id) as uow:
            uow.defer_job(
                lead_email.NEW_LEAD_TASK,
                schedule_in=lead_email.LEAD_DELAY_SECONDS,
                tenant_id=str(business.account.tenant_id),
                conversation_id=conversation_id,
            )

    factories.run(settings, defer)
    owner_conn.execute(
        "update procrastinate_jobs set scheduled_at = now() where task_name = %s "
        "and status = 'todo' and args->>'conversation_id' = %s",
        (lead_email.NEW_LEAD_TASK, conversation_id),
    )
    run_jobs(settings)
    return conversation_id


def lead_emails_to(mail_sink: MailSink, address: str) -> list[str]:
    return [
        m["body"]
        for m in mail_sink.messages
        if address in m["to"] and m["subject"].startswith("New lead")
    ]


def link_in(body: str) -> str:
    found = UNSUBSCRIBE_LINE.search(body)
    assert found is not None, body
    return found.group(1)


def choices(settings: Settings, account: factories.Account) -> Preferences:
    async def load(services: factories.Services) -> Preferences:
        async with services.unit_of_work(account.tenant_id) as uow:
            return await preferences.load(uow, account.user_id)

    return factories.run(settings, load)


def business_with_team(
    live_server: LiveServer, standin: StandinServer
) -> tuple[Business, factories.Account, factories.Account]:
    client = httpx.Client(base_url=live_server.url, timeout=20)
    account = sign_up(client, business_name=f"Gates {uuid.uuid4().hex[:6]}")
    channel = connect_channel(client, standin)
    settings = live_server.settings
    agent, keeper = (
        factories.teammate(
            settings,
            account.tenant_id,
            account.user_id,
            email=factories.unique_email(name.lower()),
            role=Role.AGENT,
            name=name,
        )
        for name in ("Lwazi", "Naledi")
    )
    return Business(client, account, channel), agent, keeper


def test_the_link_and_the_one_click_post_each_stop_the_new_lead_email(
    live_server: LiveServer,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
    mail_sink: MailSink,
) -> None:
    settings = live_server.settings
    business, agent, keeper = business_with_team(live_server, standin)
    owner = business.account
    new_lead_emails(settings, owner_conn, business, standin)
    [owner_mail] = lead_emails_to(mail_sink, owner.email)
    [agent_mail] = lead_emails_to(mail_sink, agent.email)

    # The owner follows the link: a page saying what will stop, changing nothing yet.
    with httpx.Client(timeout=20) as browser:
        page = browser.get(link_in(owner_mail))
        assert page.status_code == 200
        assert "new conversation or lead" in page.text and owner.email in page.text
        assert business.account.business_name in page.text
        assert 'data-testid="unsubscribe-button"' in page.text
        assert choices(settings, owner).wants(Kind.NEW_CONVERSATION, Channel.EMAIL)
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action is not None
        done = browser.post(
            live_server.url + action.group(1), data={"List-Unsubscribe": "One-Click"}
        )
    assert done.status_code == 200 and 'data-testid="unsubscribe-done"' in done.text
    assert not choices(settings, owner).wants(Kind.NEW_CONVERSATION, Channel.EMAIL)
    assert choices(settings, owner).wants(Kind.DIGEST, Channel.EMAIL), "only that email stops"

    # The agent's mail client posts RFC 8058's one-click body: no cookie, no CSRF token.
    one_click = httpx.post(
        link_in(agent_mail),
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=20,
    )
    assert one_click.status_code == 200
    assert not choices(settings, agent).wants(Kind.NEW_CONVERSATION, Channel.EMAIL)
    assert choices(settings, keeper).wants(Kind.NEW_CONVERSATION, Channel.EMAIL)

    # The next new customer: only the one who kept the email gets it.
    new_lead_emails(settings, owner_conn, business, standin)
    assert len(lead_emails_to(mail_sink, keeper.email)) == 2
    assert len(lead_emails_to(mail_sink, owner.email)) == 1
    assert len(lead_emails_to(mail_sink, agent.email)) == 1
    business.client.close()


def test_a_forged_or_altered_token_changes_nothing(
    live_server: LiveServer, standin: StandinServer, client: httpx.Client
) -> None:
    settings = live_server.settings
    business, agent, _ = business_with_team(live_server, standin)
    other = sign_up(client, business_name=f"Other {uuid.uuid4().hex[:6]}")
    secret = settings.secret_key
    real = token_for(secret, agent.tenant_id, agent.user_id, Kind.NEW_CONVERSATION)
    kind, _, signed = real.partition(".")
    flipped = signed[:10] + ("A" if signed[10] != "A" else "B") + signed[11:]
    forged = [
        f"{kind}.{flipped}",  # altered signature
        f"{Kind.DIGEST.value}.{signed}",  # another kind on this signature
        token_for("not-the-secret-" + "x" * 32, agent.tenant_id, agent.user_id, Kind.DIGEST),
        # A document link's token (same signing, another purpose) is no unsubscribe token.
        f"{kind}." + links.sign(secret, "document", agent.tenant_id, agent.user_id, lifetime=60),
        # Signed, but pairing another business with this person: the wall finds nobody.
        token_for(secret, other.tenant_id, agent.user_id, Kind.NEW_CONVERSATION),
        "new_conversation.",
        "nonsense",
    ]
    for token in forged:
        url = f"{live_server.url}/notifications/unsubscribe/{token}"
        page = httpx.get(url, timeout=20)
        assert page.status_code == 404 and 'data-testid="unsubscribe-invalid"' in page.text
        posted = httpx.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=20)
        assert posted.status_code == 404, token
    assert choices(settings, agent).wants(Kind.NEW_CONVERSATION, Channel.EMAIL)
    assert choices(settings, agent).wants(Kind.DIGEST, Channel.EMAIL)

    # The real one still works, and only for its own person.
    ok = httpx.post(f"{live_server.url}/notifications/unsubscribe/{real}", timeout=20)
    assert ok.status_code == 200
    assert not choices(settings, agent).wants(Kind.NEW_CONVERSATION, Channel.EMAIL)
    assert choices(settings, business.account).wants(Kind.NEW_CONVERSATION, Channel.EMAIL)
    business.client.close()


@pytest.mark.browser
def test_the_unsubscribe_page_works_on_a_360px_phone(
    live_server: LiveServer, client: httpx.Client
) -> None:
    owner = sign_up(client, business_name=f"Phone Plumbing {uuid.uuid4().hex[:4]}")
    settings = live_server.settings
    token = token_for(settings.secret_key, owner.tenant_id, owner.user_id, Kind.DIGEST)
    path = f"/notifications/unsubscribe/{token}"

    def on_a_phone(browser: Browser) -> None:
        context, page, console = new_page(browser, live_server.url, PHONE)
        page.goto(path)
        expect(page.get_by_test_id("unsubscribe-what")).to_contain_text("daily summary")
        assert_fits_phone(page, path)
        shot(page, "unsubscribe")
        page.get_by_test_id("unsubscribe-button").click()
        expect(page.get_by_test_id("unsubscribe-done")).to_contain_text(owner.business_name)
        assert_fits_phone(page, path)
        console.assert_clean()
        context.close()

    in_own_browser(on_a_phone)
    assert not choices(settings, owner).wants(Kind.DIGEST, Channel.EMAIL)
    assert choices(settings, owner).wants(Kind.NEW_CONVERSATION, Channel.EMAIL)
