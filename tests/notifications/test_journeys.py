"""From a customer's action to a phone and a mailbox, through the real pieces: a signed
webhook, the inbound job, the fan-out job, the push job, the push service stand-in (which
decrypts what it gets, as the browser would) and the SMTP server."""

from __future__ import annotations

import httpx
import psycopg

from clientcompass.models import Role
from clientcompass.notifications.kinds import Channel, Kind
from clientcompass.notifications.preferences import Preferences
from tests.conftest import LiveServer, MailSink, StandinServer
from tests.notifications.test_fanout import choose
from tests.notifications.test_push_delivery import device
from tests.support import factories
from tests.support.documents import draft
from tests.support.push_service import PushService
from tests.support.shop import button_tap, send, shop_with_customer
from tests.support.waiting import wait_for
from tests.support.whatsapp import conversation_with, customer_says, sa_mobile


def test_a_new_customer_reaches_the_owners_phone_and_a_quote_answer_the_mailbox_of_whoever_chose_it(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    push_service: PushService,
    mail_sink: MailSink,
    owner_conn: psycopg.Connection,
) -> None:
    shop = shop_with_customer(client, standin)
    settings = live_server.settings
    tenant_id, owner_id = factories.signed_in_as(client)
    owner = factories.Account("", "", "", tenant_id, owner_id)
    _, phone = device(settings, push_service, owner)
    live_server.run_jobs()  # the first message's jobs (it came before the device)

    newcomer = sa_mobile()
    customer_says(standin, shop.channel, newcomer, "Hello, do you fix burst pipes?")
    live_server.run_jobs()
    [arrived] = [
        d for d in push_service.deliveries(phone["endpoint"]) if "burst pipes" in d.payload["body"]
    ]
    conversation = conversation_with(client, newcomer)
    assert arrived.payload["url"] == f"/inbox/{conversation['id']}"
    assert arrived.headers["urgency"] == "high" and arrived.headers["topic"]

    # A quote answer: emailed to the agent who chose it, not to the one who didn't.
    chooser = factories.teammate(
        settings,
        tenant_id,
        owner_id,
        email=factories.unique_email("q"),
        role=Role.AGENT,
        name="Zanele",
    )
    other = factories.teammate(
        settings,
        tenant_id,
        owner_id,
        email=factories.unique_email("n"),
        role=Role.AGENT,
        name="Sizwe",
    )
    channels = {kind: dict(choice) for kind, choice in Preferences().channels.items()}
    channels[Kind.QUOTE_ANSWER][Channel.EMAIL] = True
    choose(settings, tenant_id, chooser.user_id, Preferences(channels=channels))
    quote = draft(shop.client, shop.headers, phone=shop.phone)
    assert send(shop, "quotes", quote["id"]).status_code == 202
    live_server.run_jobs()
    assert button_tap(shop, shop.phone, f"accept:{quote['id']}").status_code == 200
    live_server.run_jobs()

    number = client.get(f"/api/v1/quotes/{quote['id']}").json()["number"]
    body = wait_for(
        lambda: next(
            (
                m["body"]
                for m in mail_sink.messages
                if m["to"] == chooser.email and number in m["subject"]
            ),
            None,
        ),
        message="the quote-answer email",
    )
    assert f"Quote {number} accepted" in body and f"/quotes/{quote['id']}" in body
    assert not [m for m in mail_sink.messages if m["to"] == other.email and number in m["subject"]]
    accepted_pushes = [
        d
        for d in push_service.deliveries(phone["endpoint"])
        if d.payload["title"] == f"Quote {number} accepted"
    ]
    assert len(accepted_pushes) == 1

    # The same notice's job run again (a worker died after its commit) sends nothing twice.
    rerun = owner_conn.execute(
        "update procrastinate_jobs set status = 'todo', attempts = 0 "
        "where task_name = 'events.after_commit' and args->>'tenant_id' = %s "
        "and args->>'event' = 'document.accepted'",
        (str(tenant_id),),
    )
    assert rerun.rowcount == 1
    live_server.run_jobs()
    statuses = owner_conn.execute(
        "select distinct status from procrastinate_jobs "
        "where task_name = 'events.after_commit' and args->>'tenant_id' = %s",
        (str(tenant_id),),
    ).fetchall()
    assert statuses == [("succeeded",)]
    mails = [m for m in mail_sink.messages if m["to"] == chooser.email and number in m["subject"]]
    assert len(mails) == 1
