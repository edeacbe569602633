"""The worker's logs carry no live link: procrastinate logs every job's arguments at info
level ("Starting job send_email[12](to=…, body=…)"), and an invitation or password-reset
email's body is a link with its token. A real worker runs both jobs with the production log
configuration, and the whole captured output is searched for the tokens."""

from __future__ import annotations

import re

import httpx
import pytest

from clientcompass.logs import configure_logging
from tests.conftest import LiveServer, MailSink
from tests.support.accounts import sign_up, unique_email
from tests.support.forms import api_headers, post_form


def test_no_invitation_or_reset_link_reaches_the_logs(
    client: httpx.Client,
    live_server: LiveServer,
    mail_sink: MailSink,
    capfd: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    account = sign_up(client)
    configure_logging("INFO")  # here, so the handler writes to this test's captured stderr
    invitee = unique_email("invitee")
    invited = client.post(
        "/api/v1/invitations",
        json={"email": invitee, "role": "agent"},
        headers=api_headers(client),
    )
    assert invited.status_code == 201, invited.text
    anonymous = httpx.Client(base_url=live_server.url)
    reset = post_form(
        anonymous, "/forgot-password", {"email": account.email}, csrf_page="/forgot-password"
    )
    assert reset.status_code == 200
    live_server.run_jobs()  # the worker, as `clientcompass worker --once` runs it

    invitation_mail = mail_sink.wait_for(invitee)
    reset_mail = mail_sink.wait_for(account.email)
    links = [
        re.search(r"https?://\S+/invite\?token=\S+", invitation_mail),
        re.search(r"https?://\S+/reset-password\?token=\S+", reset_mail),
    ]
    assert all(links), (invitation_mail, reset_mail)
    secrets = [match.group(0) for match in links if match]
    secrets += [re.split(r"[/=]", link)[-1] for link in secrets]  # the tokens alone
    assert invited.json()["url"] in secrets

    output = capfd.readouterr()
    logs = output.out + output.err
    assert "Starting job send_email[" in logs, "the worker's job lines must be in the capture"
    for secret in secrets:
        assert secret not in logs, f"a live link or token is in the logs: {secret[:40]}…"
    # Which job it was stays readable: its name and id, its arguments masked.
    assert re.search(r"Starting job send_email\[\d+\]\(to='\[redacted\]', ", logs)
