"""A newer privacy policy announced before it takes effect: owners of every open business are
emailed once (never twice, whatever the number of runs), nobody after it took effect, and
/privacy keeps showing the current version while linking the upcoming one."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from clientcompass.config import Settings
from clientcompass.lifecycle import policy_notice as notice
from clientcompass.policy import policy
from tests.conftest import LiveServer, MailSink
from tests.support import factories
from tests.support.accounts import sign_up
from tests.support.forms import post_form

TODAY = date.today()


def send(settings: Settings, today: date, announced: policy.Upcoming) -> int:
    return factories.run(
        settings,
        lambda services: notice.send_notices(
            services.unit_of_work, settings, today, announced=announced
        ),
    )


def test_owners_are_emailed_once_before_the_change(
    client: httpx.Client, live_server: LiveServer, mail_sink: MailSink
) -> None:
    settings = factories.settings_of(client)
    announced = policy.Upcoming(f"fake-{TODAY.isoformat()}", TODAY + timedelta(days=30))
    owner = sign_up(client)
    with httpx.Client(base_url=live_server.url, timeout=20) as other:
        closed = sign_up(other)
        done = post_form(
            other, "/settings/close", {"password": closed.password}, csrf_page="/settings/close"
        )
        assert done.status_code == 200

    assert send(settings, TODAY, announced) >= 1
    live_server.run_jobs()
    body = mail_sink.wait_for(owner.email)
    assert announced.effective.strftime("%d %B %Y") in body
    assert "/privacy/upcoming" in body

    assert send(settings, TODAY + timedelta(days=1), announced) == 0, "never twice"
    live_server.run_jobs()
    to_owner = [m for m in mail_sink.messages if owner.email in m["to"]]
    assert len(to_owner) == 1
    assert not [m for m in mail_sink.messages if closed.email in m["to"] and "privacy" in m["body"]]

    later = policy.Upcoming(announced.version + "-b", TODAY)
    assert send(settings, TODAY, later) == 0, "nothing once it is in effect"


def test_privacy_shows_the_current_version_and_links_the_upcoming_one(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/privacy/upcoming").status_code == 404
    upcoming = policy.Upcoming("2099-01-01", TODAY + timedelta(days=14))
    current = policy.source
    monkeypatch.setattr(policy, "UPCOMING", upcoming)
    monkeypatch.setattr(
        policy,
        "source",
        lambda version=policy.CURRENT_VERSION: (
            "# The upcoming policy\nWe now also keep pigeons."
            if version == upcoming.version
            else current(version)
        ),
    )
    page = client.get("/privacy")
    assert page.status_code == 200
    assert f'data-version="{policy.CURRENT_VERSION}"' in page.text
    assert 'href="/privacy/upcoming"' in page.text
    assert "pigeons" not in page.text
    shown = client.get("/privacy/upcoming")
    assert shown.status_code == 200 and "pigeons" in shown.text
    assert upcoming.effective.strftime("%d %B %Y") in shown.text
