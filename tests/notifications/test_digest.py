"""The daily digest through a real SMTP server: its four sections, nothing before 07:00 in
the business's time zone, once a day however often the job runs, nothing when nothing waits,
each person's choice respected, and each business's digest about itself, to its own team.

The clock is an argument (`send_digests(resources, now)`), so the tests move it."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx

from clientcompass import jobs
from clientcompass.config import Settings
from clientcompass.models import Role
from clientcompass.notifications import digest, preferences
from clientcompass.notifications.kinds import Channel, Kind
from tests.conftest import LiveServer, MailSink, StandinServer
from tests.support import factories
from tests.support.aio import run_async
from tests.support.documents import BANKING, PROFILE, draft, vat_business
from tests.support.forms import post_form
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile
from tests.support.worker import run_queued_jobs

HOME = ZoneInfo("Africa/Johannesburg")
HEADING = re.compile(r"^([A-Z][A-Z ]+) \((\d+)\)\s*$", re.MULTILINE)


def run_jobs(settings: Settings) -> None:
    """Run every due job, and those they defer, as `worker --once` does."""
    run_async(lambda: run_queued_jobs(settings))


def digests_at(settings: Settings, now: datetime) -> int:
    """The periodic job's work at `now`, then the emails it queued sent."""

    async def main() -> int:
        _, lazy = jobs.build_job_app(settings)
        try:
            return await digest.send_digests(await lazy.get(), now)
        finally:
            await lazy.close()

    queued = run_async(main)
    run_jobs(settings)
    return queued


def next_morning() -> datetime:
    """A morning past 07:00 in Johannesburg within 24 hours of what a test just made (so it
    counts as new), and never today once today's 07:00 has passed: the worker's own periodic
    digest runs at the real time whenever the tests run jobs, and sends today's."""
    local = datetime.now(HOME)
    if local.time() < time(7, 0):
        return datetime.combine(local.date(), time(8, 0), HOME).astimezone(UTC)
    tomorrow = local + timedelta(days=1) - timedelta(minutes=5)
    earliest = datetime.combine(tomorrow.date(), time(7, 0), HOME)
    return max(tomorrow, earliest).astimezone(UTC)


def digests_to(mail_sink: MailSink, address: str, day: date) -> list[str]:
    """The digests this person got for `day` (the business's date): the worker's periodic
    digest may have sent one for the real today as well."""
    when = f"on {day:%A} {day.day} {day:%B}"
    return [
        m["body"]
        for m in mail_sink.messages
        if address in m["to"] and "today:" in m["subject"] and when in m["body"]
    ]


def sections(body: str) -> dict[str, tuple[int, str]]:
    """Heading → (count, the section's text) of a digest's plain-text part."""
    found = list(HEADING.finditer(body))
    result = {}
    for index, heading in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else body.find("Open Client")
        result[heading.group(1)] = (int(heading.group(2)), body[heading.end() : end])
    return result


@dataclass
class Business:
    name: str
    owner: factories.Account
    agent: factories.Account
    quiet: factories.Account
    waiting: str  # the customer nobody answered
    answered: str  # the customer who got a reply


def busy_business(
    live_server: LiveServer, standin: StandinServer, today: date, tag: str
) -> Business:
    """A business with something in each section, and things that belong in none."""
    settings = live_server.settings
    client = httpx.Client(base_url=live_server.url, timeout=20)
    owner, headers = vat_business(client)
    name = f"{tag} Electrical {uuid.uuid4().hex[:4]}"
    factories.business_profile(
        settings, owner.tenant_id, owner.user_id, {**PROFILE, "trading_name": name}, BANKING
    )
    agent, quiet = (
        factories.teammate(
            settings,
            owner.tenant_id,
            owner.user_id,
            email=factories.unique_email(who.lower()),
            role=Role.AGENT,
            name=who,
        )
        for who in ("Lwazi", "Naledi")
    )

    async def quiet_wants_no_digest(services: factories.Services) -> None:
        async with services.unit_of_work(owner.tenant_id) as uow:
            await preferences.turn_off(uow, quiet.user_id, Kind.DIGEST, Channel.EMAIL)

    factories.run(settings, quiet_wants_no_digest)

    channel = connect_channel(client, standin)
    waiting, answered = f"{tag} Waiting", f"{tag} Answered"
    phones = {who: sa_mobile() for who in (waiting, answered)}
    for who, phone in phones.items():
        customer_says(standin, channel, phone, f"Hi, this is {who}", profile_name=who)
    path = f"/inbox/{conversation_with(client, phones[answered])['id']}"
    sent = post_form(client, f"{path}/messages", {"body": "On our way"}, csrf_page=path)
    assert sent.status_code in (200, 303), sent.text[:300]

    def document(collection: str, who: str, **dates: date) -> None:
        made = draft(
            client,
            headers,
            collection,
            name=f"{tag} {who}",
            phone=sa_mobile(),
            **{key: value.isoformat() for key, value in dates.items()},
        )
        finalised = client.post(f"/api/v1/{collection}/{made['id']}/finalise", headers=headers)
        assert finalised.status_code == 200, finalised.text

    document(
        "quotes",
        "Quote Soon",
        issue_date=today - timedelta(days=5),
        valid_until=today + timedelta(days=2),
    )
    document(
        "quotes",
        "Quote Later",
        issue_date=today - timedelta(days=5),
        valid_until=today + timedelta(days=10),
    )
    document(
        "invoices",
        "Invoice Late",
        issue_date=today - timedelta(days=10),
        due_date=today - timedelta(days=3),
    )
    document(
        "invoices",
        "Invoice Fine",
        issue_date=today - timedelta(days=10),
        due_date=today + timedelta(days=5),
    )
    client.close()
    return Business(name, owner, agent, quiet, waiting, answered)


def test_the_digest_lists_what_waits_once_a_day_to_each_person_who_wants_it(
    live_server: LiveServer, standin: StandinServer, mail_sink: MailSink
) -> None:
    settings = live_server.settings
    morning = next_morning()
    today = morning.astimezone(HOME).date()
    shop = busy_business(live_server, standin, today, "Alpha")

    early = datetime.combine(today, time(6, 30), HOME).astimezone(UTC)
    digests_at(settings, early)
    assert digests_to(mail_sink, shop.owner.email, today) == [], "nothing before 07:00"

    digests_at(settings, morning)
    digests_at(settings, morning + timedelta(minutes=15))  # the next scan, the same day
    [body] = digests_to(mail_sink, shop.owner.email, today)
    assert len(digests_to(mail_sink, shop.agent.email, today)) == 1
    assert digests_to(mail_sink, shop.quiet.email, today) == [], "she turned the digest off"

    found = sections(body)
    assert set(found) == {"NEW LEADS", "WAITING FOR A REPLY", "QUOTES EXPIRING", "INVOICES OVERDUE"}
    leads, unanswered = found["NEW LEADS"], found["WAITING FOR A REPLY"]
    assert leads[0] == 2 and shop.waiting in leads[1] and shop.answered in leads[1]
    assert unanswered[0] == 1 and shop.waiting in unanswered[1]
    assert shop.answered not in unanswered[1], "the business replied to this one"
    quotes, invoices = found["QUOTES EXPIRING"], found["INVOICES OVERDUE"]
    assert quotes[0] == 1 and "Alpha Quote Soon" in quotes[1] and "expires in 2 days" in quotes[1]
    assert invoices[0] == 1 and "Alpha Invoice Late" in invoices[1]
    assert "3 days overdue" in invoices[1]
    assert "Quote Later" not in body and "Invoice Fine" not in body
    assert f"{settings.base_url}/inbox/" in leads[1]
    assert re.search(r"Unsubscribe: \S+/notifications/unsubscribe/digest\.", body)

    # The next morning: yesterday's leads are not new any more; the rest still waits.
    digests_at(settings, morning + timedelta(days=1))
    [following] = digests_to(mail_sink, shop.owner.email, today + timedelta(days=1))
    assert "NEW LEADS" not in sections(following)
    assert shop.waiting in sections(following)["WAITING FOR A REPLY"][1]


def test_no_digest_when_nothing_waits(
    live_server: LiveServer, client: httpx.Client, mail_sink: MailSink
) -> None:
    owner, _ = vat_business(client)
    morning = next_morning()
    digests_at(live_server.settings, morning)
    assert digests_to(mail_sink, owner.email, morning.astimezone(HOME).date()) == []


def test_each_business_digest_is_about_itself_and_goes_to_its_own_team(
    live_server: LiveServer, standin: StandinServer, mail_sink: MailSink
) -> None:
    morning = next_morning()
    today = morning.astimezone(HOME).date()
    first = busy_business(live_server, standin, today, "Bravo")
    second = busy_business(live_server, standin, today, "Charlie")
    digests_at(live_server.settings, morning)

    for own, other in ((first, second), (second, first)):
        for person in (own.owner, own.agent):
            [body] = digests_to(mail_sink, person.email, today)
            assert own.name in body and own.waiting in body
            assert other.name not in body and other.waiting not in body
            tag = other.waiting.split()[0]
            assert tag not in body, f"{tag}'s data in {own.name}'s digest"
    for message in mail_sink.messages:
        if first.name in message["subject"]:
            assert message["to"] in {first.owner.email, first.agent.email}
        if second.name in message["subject"]:
            assert message["to"] in {second.owner.email, second.agent.email}
