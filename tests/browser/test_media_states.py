"""On a phone, the thread tells apart a file that could not be downloaded from one that was
kept for its time and then purged ("media expired")."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, expect

from clientcompass.config import Settings
from clientcompass.whatsapp import media
from tests.conftest import LiveServer, StandinServer
from tests.support import factories
from tests.support.accounts import sign_up
from tests.support.browser import PHONE, assert_fits_phone, shot, signed_in
from tests.support.jobs import run_jobs_until
from tests.support.whatsapp import (
    connect_channel,
    conversation_with,
    customer_says,
    sa_mobile,
    signed_post,
)

pytestmark = pytest.mark.browser
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def test_couldnt_download_and_media_expired_show_in_the_thread_on_a_phone(
    browser: Browser,
    live_server: LiveServer,
    settings: Settings,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner:
        account = sign_up(owner)
        channel = connect_channel(owner, standin)
        phone = sa_mobile()
        photo = {"content_type": "image/png", "data_base64": base64.b64encode(PNG).decode()}
        customer_says(standin, channel, phone, "Here is the leak", media=[photo])
        # A second file whose address is not Twilio's: refused, never fetched.
        signed_post(
            channel["inbound_webhook_url"],
            {
                "MessageSid": f"MM{uuid.uuid4().hex}",
                "AccountSid": channel["account_sid"],
                "From": f"whatsapp:{phone}",
                "To": channel["whatsapp_from"],
                "Body": "And the meter",
                "NumMedia": "1",
                "MediaUrl0": f"{standin.url}/../metrics",
                "MediaContentType0": "image/png",
            },
            channel["auth_token"],
        )

        def states() -> list[str]:
            return [
                row[0]
                for row in owner_conn.execute(
                    "select state::text from message_media where tenant_id = %s order by created_at",
                    (account.tenant_id,),
                )
            ]

        run_jobs_until(live_server, lambda: states() == ["stored", "failed"], message="both files")
        later = datetime.now(UTC) + timedelta(days=settings.media_retention_days, hours=1)
        factories.run(
            settings,
            lambda services: media.purge_expired(
                services.unit_of_work, later, settings.media_retention_days
            ),
        )
        assert states() == ["expired", "failed"]
        conversation = conversation_with(owner, phone)

        context, page, console = signed_in(
            browser, live_server.url, owner, PHONE, has_touch=True, is_mobile=True
        )
        page.goto(f"/inbox/{conversation['id']}")
        thread = page.get_by_test_id("thread")
        expired = thread.locator("[data-testid=media-state][data-state=expired]")
        failed = thread.locator("[data-testid=media-state][data-state=failed]")
        expect(expired).to_have_text(re.compile(r"media expired$"))
        expect(failed).to_have_text(re.compile(r"couldn't download$"))
        expect(thread.get_by_text("Here is the leak")).to_be_visible()
        expect(thread.locator("img.bubble-image")).to_have_count(0)  # no broken image left
        expect(expired).to_be_visible()
        expect(failed).to_be_visible()
        assert_fits_phone(page, f"/inbox/{conversation['id']}")
        shot(page, "thread-media-states-phone")
        console.assert_clean()
        context.close()
