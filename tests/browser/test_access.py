"""On a phone, an owner revokes a teammate's API token and removes a teammate from the team
page. Each asks first, saying what happens; a "no" changes nothing, a "yes" takes effect on
the teammate's very next request. The first asks for the owner's password too ("Confirm it's
you", accounts/step_up.py): a wrong one changes nothing, and once it is right the next
actions within the window do not ask again."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.auth.helpers import create_token, me_status
from tests.conftest import LiveServer
from tests.support.accounts import PASSWORD, invite_and_join, sign_up
from tests.support.browser import PHONE, assert_fits_phone, shot, signed_in

pytestmark = pytest.mark.browser


def test_an_owner_revokes_a_token_and_removes_a_member_on_a_phone(
    browser: Browser, live_server: LiveServer
) -> None:
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as owner,
        httpx.Client(base_url=live_server.url, timeout=20) as agent,
    ):
        sign_up(owner)
        email = invite_and_join(owner, agent, role="agent")
        token_id, secret = create_token(agent, "Agent's spreadsheet")
        context, page, console = signed_in(browser, live_server.url, owner, PHONE)
        try:
            page.goto("/settings/team")
            assert_fits_phone(page, "/settings/team")
            shot(page, "team-access")
            token_row = page.locator(f'[data-token-id="{token_id}"]')
            expect(token_row).to_contain_text("Agent's spreadsheet")
            expect(token_row).to_contain_text("Agent Person")

            console.answer = False
            token_row.get_by_role("button", name="Revoke").click()
            assert "refused from its next request" in console.dialogs[-1]
            expect(token_row).to_be_visible()
            assert me_status(live_server.url, secret) == 200, "a no revokes nothing"

            console.answer = True
            console.expect_status(403)  # "Confirm it's you" answers 403 until it is right
            token_row.get_by_role("button", name="Revoke").click()
            expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
            expect(page.get_by_test_id("step-up-what")).to_contain_text("revoke this API token")
            assert_fits_phone(page, "step-up")
            shot(page, "team-access-step-up")
            page.get_by_label("Your password").fill("not my password")
            page.get_by_test_id("step-up-submit").click()
            expect(page.locator(".field .error")).to_contain_text("That is not your password")
            assert me_status(live_server.url, secret) == 200, "a wrong password revokes nothing"
            assert_fits_phone(page, "step-up (wrong password)")
            page.get_by_label("Your password").fill(PASSWORD)
            page.get_by_test_id("step-up-submit").click()
            expect(page.get_by_role("status")).to_contain_text("The API token was revoked")
            expect(page.locator(f'[data-token-id="{token_id}"]')).to_have_count(0)
            assert me_status(live_server.url, secret) == 401

            member_row = page.locator(f'[data-member="{email}"]')
            console.answer = False
            member_row.get_by_role("button", name="Remove Agent Person").click()
            assert "signed out at once" in console.dialogs[-1]
            expect(member_row).to_be_visible()
            assert agent.get("/api/v1/me").status_code == 200, "a no removes nobody"

            console.answer = True
            # Confirmed a moment ago: not asked again.
            member_row.get_by_role("button", name="Remove Agent Person").click()
            expect(page.get_by_role("status")).to_contain_text("The member was removed")
            expect(page.locator(f'[data-member="{email}"]')).to_have_count(0)
            assert agent.get("/api/v1/me").status_code == 401
            assert_fits_phone(page, "/settings/team?done=removed")
            shot(page, "team-access-removed")

            # The owner's own tokens, on their account page: revoked there, or with a log-out
            # everywhere, which offers it.
            create_token(owner, "Owner's backup")
            page.goto("/settings/account")
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            offer = page.get_by_test_id("logout-everywhere").locator("label.checkbox")
            expect(offer).to_contain_text("Also revoke my 1 API token")
            box = offer.bounding_box()
            # The whole label is the tap target of its small checkbox.
            assert box is not None and box["height"] >= 44
            shot(page, "account-access")
            page.get_by_test_id("my-api-tokens").get_by_role("button", name="Revoke").click()
            expect(page.get_by_role("status")).to_contain_text("The API token was revoked")
            expect(page.get_by_test_id("my-api-tokens").locator("li")).to_have_count(0)
            expect(page.get_by_test_id("logout-everywhere")).not_to_contain_text("Also revoke")
            console.assert_clean()
        finally:
            context.close()
