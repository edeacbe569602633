"""Real-browser journeys: Debian's chromium driven by Playwright against the live server.

Set CC_SCREENSHOTS=/some/dir to also save full-page screenshots of the pages visited.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer
from tests.support.accounts import PASSWORD, unique_email
from tests.support.browser import DESKTOP, PHONE, assert_fits_phone, fill, new_page, shot, sign_up

pytestmark = pytest.mark.browser


def test_owner_sets_up_business_and_invites_an_agent(
    browser: Browser, live_server: LiveServer
) -> None:
    email = unique_email("owner")
    agent_email = unique_email("agent")
    business_name = f"Mokoena Plumbing {uuid.uuid4().hex[:4]}"
    context, page, console = new_page(browser, live_server.url, DESKTOP)

    # Sign up: lands on the business settings with a welcome.
    sign_up(page, email, business_name)
    expect(page.locator(".topbar .who")).to_have_text("Thandi Mokoena")
    console.assert_clean()

    # Log out: signed out, and the settings page now asks to sign in.
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login\?signed_out=1$"))
    expect(page.get_by_role("status")).to_contain_text("You are signed out")
    page.goto("/settings/business")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fsettings%2Fbusiness$"))
    shot(page, "login")

    # A wrong password is refused with a message, and the last try before the lock warns;
    # the right one goes back where we were. (An address of its own, so these failures don't
    # count against the other tests' shared 127.0.0.1.)
    page.set_extra_http_headers({"X-Forwarded-For": "198.51.100.77"})
    console.expect_status(401)
    for _ in range(live_server.settings.login_max_failures_per_account - 1):
        fill(page, {"email": email, "password": "not the password"})
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(
        "That email and password do not match an account. One more wrong try locks sign-in "
        "for 15 minutes; you can reset your password instead."
    )
    expect(page.locator('input[name="email"]')).to_have_value(email)
    fill(page, {"password": PASSWORD})
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/settings/business$"))
    page.set_extra_http_headers({})
    console.assert_clean()

    # Business profile: save, see the notice, and find the values after a reload.
    fill(
        page,
        {
            "trading_name": "Mokoena Plumbing & Gas",
            "registered_name": "Mokoena Plumbing (Pty) Ltd",
            "vat_number": "4123456789",
            "phone": "082 123 4567",
            "physical_address": "12 Main Road\nObservatory\nCape Town 7925",
        },
    )
    page.get_by_role("button", name="Save profile").click()
    expect(page).to_have_url(re.compile(r"/settings/business\?saved=profile$"))
    expect(page.get_by_test_id("saved")).to_have_text("Business profile saved.")
    page.reload()
    expect(page.locator('input[name="trading_name"]')).to_have_value("Mokoena Plumbing & Gas")
    expect(page.locator('input[name="registered_name"]')).to_have_value(
        "Mokoena Plumbing (Pty) Ltd"
    )
    expect(page.locator('input[name="vat_number"]')).to_have_value("4123456789")
    expect(page.locator('input[name="phone"]')).to_have_value("+27821234567")
    expect(page.locator('textarea[name="physical_address"]')).to_have_value(
        "12 Main Road\nObservatory\nCape Town 7925"
    )
    console.assert_clean()

    # Banking details need the password again: a wrong one saves nothing.
    banking = page.locator("#banking")
    expect(page.get_by_test_id("banking-summary")).to_have_count(0)
    fill(
        page,
        {
            "bank": "First National Bank",
            "account_holder": "Mokoena Plumbing (Pty) Ltd",
            "account_number": "62812345678",
            "branch_code": "250655",
        },
    )
    banking.locator('select[name="account_type"]').select_option("business")
    banking.locator('input[name="password"]').fill("not the password")
    console.expect_status(422)
    banking.get_by_role("button", name="Save banking details").click()
    expect(banking.locator(".has-error .error, [role=alert]").first).to_be_visible()
    expect(banking).to_contain_text("password")
    expect(page.get_by_test_id("banking-summary")).to_have_count(0)
    expect(page.get_by_test_id("saved")).to_have_count(0)
    # What was typed is kept (except the password), so only the password needs retyping.
    expect(banking.locator('input[name="account_number"]')).to_have_value("62812345678")
    expect(banking.locator('input[name="password"]')).to_have_value("")
    page.goto("/settings/business")
    expect(page.get_by_test_id("banking-summary")).to_have_count(0)

    fill(
        page,
        {
            "bank": "First National Bank",
            "account_holder": "Mokoena Plumbing (Pty) Ltd",
            "account_number": "62812345678",
            "branch_code": "250655",
        },
    )
    banking.locator('select[name="account_type"]').select_option("business")
    banking.locator('input[name="password"]').fill(PASSWORD)
    banking.get_by_role("button", name="Save banking details").click()
    expect(page).to_have_url(re.compile(r"/settings/business\?saved=banking#banking$"))
    expect(page.get_by_test_id("saved")).to_have_text("Banking details saved.")
    summary = page.get_by_test_id("banking-summary")
    expect(summary).to_contain_text("First National Bank")
    expect(summary).to_contain_text("•••• 5678")
    expect(summary).to_contain_text("250655")
    expect(summary).to_contain_text("Business")
    assert "62812345678" not in page.content()
    assert "6281234" not in summary.inner_text()
    shot(page, "business")
    console.assert_clean()

    # Invite an agent and read the one-time link off the page.
    page.goto("/settings/team")
    expect(page.locator("ul.rows").first).to_contain_text(email)
    page.locator('form[action="/settings/team/invite"] input[name="email"]').fill(agent_email)
    page.locator('form[action="/settings/team/invite"] select[name="role"]').select_option("agent")
    page.get_by_role("button", name="Create invitation").click()
    invite = page.get_by_test_id("invite-link")
    expect(invite).to_be_visible()
    link = invite.locator("input[readonly]").input_value()
    assert re.fullmatch(re.escape(live_server.url) + r"/invite\?token=[\w-]+", link), link
    expect(page.get_by_text(agent_email)).to_be_visible()
    shot(page, "team")
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    invite.get_by_role("button", name="Copy").click()
    expect(invite.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == link
    console.assert_clean()

    # The teammate opens the link in their own browser and joins.
    agent_context, agent, agent_console = new_page(browser, live_server.url, DESKTOP)
    agent.goto(link)
    expect(agent.get_by_role("heading", name="Join Mokoena Plumbing & Gas")).to_be_visible()
    expect(agent.get_by_test_id("join-invited-by")).to_contain_text("invited you as an agent")
    expect(agent.locator(".card")).to_contain_text(agent_email)
    shot(agent, "join")
    fill(agent, {"name": "Sipho Agent", "password": "agent password 123"})
    agent.get_by_role("button", name="Join").click()
    expect(agent).to_have_url(re.compile(r"/inbox$"))
    expect(agent.get_by_role("heading", name="Inbox")).to_be_visible()
    expect(agent.locator(".topbar .who")).to_have_text("Sipho Agent")
    shot(agent, "inbox")

    # An agent has no team or business settings: not in the menu, and refused by URL.
    agent.get_by_role("link", name="Settings").click()
    expect(agent).to_have_url(re.compile(r"/settings/account$"))
    expect(agent.locator(".subnav")).not_to_contain_text("Team")
    expect(agent.locator(".subnav")).not_to_contain_text("Business")
    agent_console.assert_clean()
    agent_console.expect_status(403)
    response = agent.goto("/settings/team")
    assert response is not None and response.status == 403
    expect(agent.get_by_role("heading", name="Not allowed")).to_be_visible()
    shot(agent, "forbidden")
    expect(agent.locator("body")).not_to_contain_text(email)
    agent_console.assert_clean()

    # The link is one-time: opening it again explains why instead of showing the form.
    agent_console.expect_status(r"4\d\d")
    reused = agent.goto(link)
    assert reused is not None and 400 <= reused.status < 500, reused and reused.status
    expect(agent.get_by_role("alert")).to_contain_text("invalid, used or expired")
    expect(agent.locator('input[name="password"]')).to_have_count(0)
    agent_console.assert_clean()
    agent_context.close()

    # The owner now sees the agent as a member, and logs out.
    page.goto("/settings/team")
    expect(page.locator("ul.rows").first).to_contain_text(agent_email)
    page.get_by_test_id("logout").click()
    expect(page).to_have_url(re.compile(r"/login\?signed_out=1$"))
    page.goto("/inbox")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Finbox$"))
    console.assert_clean()
    context.close()


def test_phone_layout_has_no_sideways_scroll(browser: Browser, live_server: LiveServer) -> None:
    context, page, console = new_page(browser, live_server.url, PHONE)
    for path in ("/login", "/signup"):
        page.goto(path)
        assert_fits_phone(page, path)
        shot(page, path.strip("/"))
    sign_up(page, unique_email("phone"), f"Zulu Electrical {uuid.uuid4().hex[:4]}")

    for path in ("/inbox", "/settings/business", "/settings/team", "/settings/account"):
        page.goto(path)
        expect(page.locator("main h1")).to_be_visible()
        assert_fits_phone(page, path)
        links = page.locator("nav.mainnav a")
        assert links.count() == 8  # an owner also sees Leads and Flows
        for index in range(links.count()):
            box = links.nth(index).bounding_box()
            assert box is not None, f"{path}: main navigation link {index} is not shown"
            assert box["height"] >= 44, f"{path}: main navigation link {index} is {box['height']}px"
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 0.5
        shot(page, path.rsplit("/", 1)[1])
        console.assert_clean()
    context.close()
