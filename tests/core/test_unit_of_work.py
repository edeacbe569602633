"""A job is written in the very transaction of the data it acts on, so no crash can fall
between the commit and the defer. PostgreSQL says so itself: a row's `xmin` is the id of the
transaction that wrote it, and the data row and its job row share one."""

from __future__ import annotations

import httpx
import psycopg

from tests.conftest import StandinServer
from tests.support.accounts import sign_up, unique_email
from tests.support.forms import api_headers, post_form
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile


def test_an_invitation_email_commits_with_the_invitation(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    email = unique_email("invitee")
    response = post_form(
        client,
        "/settings/team/invite",
        {"email": email, "role": "agent"},
        csrf_page="/settings/team",
    )
    assert response.status_code == 201
    row = owner_conn.execute(
        "select i.xmin::text, j.xmin::text from invitations i, procrastinate_jobs j "
        "where i.email = %s and j.task_name = 'send_email' and j.args->>'to' = %s",
        (email, email),
    ).fetchone()
    assert row is not None and row[0] == row[1]


def test_a_send_and_an_inbound_message_commit_with_their_jobs(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    received = customer_says(standin, channel, phone, "Is Tuesday fine?")
    inbound = owner_conn.execute(
        "select m.xmin::text, j.xmin::text from messages m join procrastinate_jobs j "
        "on j.args->>'message_id' = m.id::text "
        "where m.provider_sid = %s and j.task_name = 'conversations.inbound_recorded'",
        (received["message_sid"],),
    ).fetchall()
    assert len(inbound) == 1 and inbound[0][0] == inbound[0][1]

    conversation_id = conversation_with(client, phone)["id"]
    sent = client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": "Tuesday is fine"},
        headers=api_headers(client),
    )
    assert sent.status_code == 202
    outbound = owner_conn.execute(
        "select m.xmin::text, j.xmin::text from messages m join procrastinate_jobs j "
        "on j.args->>'message_id' = m.id::text "
        "where m.id = %s and j.task_name = 'whatsapp.send_message'",
        (sent.json()["id"],),
    ).fetchall()
    assert len(outbound) == 1 and outbound[0][0] == outbound[0][1]
