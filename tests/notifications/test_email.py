"""The new-lead email through a real SMTP server: deferred 2 minutes, not sent when someone
read the conversation meanwhile, once per person however often its job runs, HTML and plain
text with RFC 8058 one-click unsubscribe headers, and only to the business's own members.

The session's mail sink keeps the plain text only, so these tests run their own aiosmtpd
server that keeps whole messages (HTML part and headers too)."""

from __future__ import annotations

import email
import email.policy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller

from clientcompass.accounts import service as accounts
from clientcompass.auth.principal import AuthMethod, Principal
from clientcompass.config import Settings
from clientcompass.models import Role
from clientcompass.notifications import email as lead_email
from clientcompass.notifications import preferences
from clientcompass.notifications.kinds import Channel, Kind
from clientcompass.team import service as team
from tests.conftest import LiveServer, StandinServer, free_port
from tests.support import factories
from tests.support.accounts import sign_up
from tests.support.aio import run_async
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile
from tests.support.worker import run_queued_jobs

MESSAGE = "Hi, my <b>geyser</b> burst & the ceiling is wet. Can someone come today?"


class Mailbox:
    """A real SMTP server's inbox that keeps every message whole."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content: bytes = envelope.content  # type: ignore[attr-defined]
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def to(self, address: str, subject_has: str = "") -> list[EmailMessage]:
        return [
            m for m in self.messages if address in str(m["To"]) and subject_has in str(m["Subject"])
        ]


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port  # type: ignore[attr-defined]
    yield box
    controller.stop()


@pytest.fixture
def mail_settings(live_server: LiveServer, mailbox: Mailbox) -> Settings:
    """The app's settings with email going to `mailbox` (links still point at the app)."""
    return live_server.settings.model_copy(update={"smtp_port": mailbox.port})  # type: ignore[attr-defined]


def run_jobs(settings: Settings) -> None:
    """Run every due job, and those they defer, as `worker --once` does."""
    run_async(lambda: run_queued_jobs(settings))


@dataclass
class Lead:
    client: httpx.Client
    account: factories.Account
    conversation_id: str
    phone: str


def new_lead(client: httpx.Client, standin: StandinServer, *, profile_name: str = "Sipho") -> Lead:
    """A business on WhatsApp whose new customer has just written."""
    account = sign_up(client, business_name=f"Plumbing {uuid.uuid4().hex[:6]}")
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, MESSAGE, profile_name=profile_name)
    return Lead(client, account, conversation_with(client, phone)["id"], phone)


def defer_new_lead_email(settings: Settings, lead: Lead) -> None:
    """What the fan-out does for a new customer's first message."""

    async def defer(services: factories.Services) -> None:
        async with services.unit_of_work(lead.account.tenant_id) as uow:
            uow.defer_job(
                lead_email.NEW_LEAD_TASK,
                schedule_in=lead_email.LEAD_DELAY_SECONDS,
                tenant_id=str(lead.account.tenant_id),
                conversation_id=lead.conversation_id,
            )

    factories.run(settings, defer)


def two_minutes_pass(owner_conn: psycopg.Connection, lead: Lead) -> int:
    """Make the deferred new-lead jobs due now (instead of sleeping); how many there were,
    each checked to have been scheduled about 2 minutes ahead."""
    rows = owner_conn.execute(
        "update procrastinate_jobs j set scheduled_at = now() "
        "from (select id, scheduled_at from procrastinate_jobs) before "
        "where before.id = j.id and j.task_name = %s and j.status = 'todo' "
        "and j.args->>'conversation_id' = %s "
        "returning extract(epoch from before.scheduled_at - now())",
        (lead_email.NEW_LEAD_TASK, lead.conversation_id),
    ).fetchall()
    assert rows, "no new-lead email job was waiting"
    assert all(30 < float(ahead) <= 120 for (ahead,) in rows), f"not 2 minutes ahead: {rows}"
    return len(rows)


def everything(mail: EmailMessage) -> str:
    """What a person reads: the subject and both parts, decoded."""
    parts = [mail.get_body(preferencelist=(kind,)) for kind in ("plain", "html")]
    return "\n".join([str(mail["Subject"]), *(p.get_content() for p in parts if p is not None)])


def teammate(settings: Settings, lead: Lead, name: str) -> factories.Account:
    return factories.teammate(
        settings,
        lead.account.tenant_id,
        lead.account.user_id,
        email=factories.unique_email(name.lower()),
        role=Role.AGENT,
        name=name,
    )


def test_the_new_lead_email_goes_after_two_minutes_to_each_member_who_wants_it_once(
    client: httpx.Client,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
    mailbox: Mailbox,
    mail_settings: Settings,
) -> None:
    settings = factories.settings_of(client)
    lead = new_lead(client, standin)
    agent = teammate(settings, lead, "Lwazi")
    quiet = teammate(settings, lead, "Naledi")
    gone = teammate(settings, lead, "Pieter")

    async def arrange(services: factories.Services) -> None:
        async with services.unit_of_work(lead.account.tenant_id) as uow:
            await preferences.turn_off(uow, quiet.user_id, Kind.NEW_CONVERSATION, Channel.EMAIL)
            owner = Principal.of_user(
                await accounts.get_user(uow, lead.account.user_id), AuthMethod.COMMAND
            )
            await team.remove_member(uow, owner, gone.user_id)

    factories.run(settings, arrange)
    defer_new_lead_email(settings, lead)

    run_jobs(mail_settings)
    assert mailbox.to(lead.account.email, "New lead") == [], "sent before the 2 minutes"

    two_minutes_pass(owner_conn, lead)
    run_jobs(mail_settings)
    [mail] = mailbox.to(lead.account.email, "New lead")
    assert len(mailbox.to(agent.email, "New lead")) == 1
    assert mailbox.to(quiet.email, "New lead") == [], "she turned the new-lead email off"
    assert mailbox.to(gone.email, "New lead") == [], "a removed member gets nothing"

    business = lead.account.business_name
    assert str(mail["Subject"]) == f"New lead for {business}: Sipho"
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None, "both a text and an HTML part"
    text_content, html_content = text.get_content(), html.get_content()
    link = f"{settings.base_url}/inbox/{lead.conversation_id}"
    for content in (text_content, html_content):
        assert "Sipho" in content and business in content and link in content
    assert MESSAGE in text_content, "the text part shows the message as typed"
    assert "<b>geyser</b>" not in html_content, "the customer's words are escaped in HTML"
    assert "&lt;b&gt;geyser&lt;/b&gt; burst &amp; the ceiling" in html_content

    unsubscribe = str(mail["List-Unsubscribe"])
    assert unsubscribe.startswith(f"<{settings.base_url}/notifications/unsubscribe/")
    assert unsubscribe.endswith(">")
    assert str(mail["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert unsubscribe[1:-1] in text_content and unsubscribe[1:-1] in html_content
    [agents] = mailbox.to(agent.email, "New lead")
    assert str(agents["List-Unsubscribe"]) != unsubscribe, "each person's own link"

    # The job again (a retry, a second deferral): the receipts hold, nobody gets it twice.
    defer_new_lead_email(settings, lead)
    two_minutes_pass(owner_conn, lead)
    run_jobs(mail_settings)
    assert len(mailbox.to(lead.account.email, "New lead")) == 1
    assert len(mailbox.to(agent.email, "New lead")) == 1


def test_no_new_lead_email_when_someone_read_the_conversation_within_two_minutes(
    client: httpx.Client,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
    mailbox: Mailbox,
    mail_settings: Settings,
) -> None:
    settings = factories.settings_of(client)
    lead = new_lead(client, standin)
    agent = teammate(settings, lead, "Lwazi")
    defer_new_lead_email(settings, lead)

    page = client.get(f"/inbox/{lead.conversation_id}")
    assert page.status_code == 200
    two_minutes_pass(owner_conn, lead)
    run_jobs(mail_settings)

    assert mailbox.to(lead.account.email, "New lead") == []
    assert mailbox.to(agent.email, "New lead") == []
    unread = owner_conn.execute(
        "select unread_count from conversations where id = %s", (lead.conversation_id,)
    ).fetchone()
    assert unread == (0,)


def test_a_business_new_lead_email_tells_only_its_own_members_of_its_own_customer(
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
    mailbox: Mailbox,
    mail_settings: Settings,
) -> None:
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as first_client,
        httpx.Client(base_url=live_server.url, timeout=20) as second_client,
    ):
        first = new_lead(first_client, standin, profile_name="Ayanda First")
        second = new_lead(second_client, standin, profile_name="Bongani Second")
    settings = live_server.settings
    second_agent = teammate(settings, second, "Thabo")
    for lead in (first, second):
        defer_new_lead_email(settings, lead)
        two_minutes_pass(owner_conn, lead)
    run_jobs(mail_settings)

    [to_first] = mailbox.to(first.account.email, "New lead")
    [to_second] = mailbox.to(second.account.email, "New lead")
    [to_second_agent] = mailbox.to(second_agent.email, "New lead")
    assert mailbox.to(second_agent.email, first.account.business_name) == []
    for mail, own, other in (
        (to_first, first, second),
        (to_second, second, first),
        (to_second_agent, second, first),
    ):
        whole = everything(mail)
        assert own.conversation_id in whole and own.account.business_name in whole
        assert other.conversation_id not in whole
        assert other.account.business_name not in whole
    assert "Ayanda First" in str(to_first["Subject"])
    assert "Ayanda" not in everything(to_second) and "Bongani" not in everything(to_first)
