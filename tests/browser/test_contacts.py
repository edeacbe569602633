"""Contacts in a real browser at phone size: create, edit, search, and CSV import that
reports bad rows and imports nothing until the file is right."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import LiveServer
from tests.support.accounts import unique_email
from tests.support.browser import DESKTOP, PHONE, assert_fits_phone, new_page, shot, sign_up
from tests.support.contacts import many_rows
from tests.support.whatsapp import sa_mobile

pytestmark = pytest.mark.browser
XSS = "<img src=x onerror=alert(1)>"


def upload(page: Page, name: str, text: str) -> None:
    page.get_by_test_id("import-file").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": text.encode()}
    )
    page.get_by_role("button", name="Import").click()


def test_create_edit_search_and_import_contacts_on_a_phone(
    browser: Browser, live_server: LiveServer
) -> None:
    context, page, console = new_page(browser, live_server.url, PHONE)
    sign_up(page, unique_email("contacts"), f"Karoo Plumbing {uuid.uuid4().hex[:4]}")

    page.goto("/contacts")
    expect(page.get_by_test_id("contacts")).to_contain_text("No contacts yet")
    assert_fits_phone(page, "/contacts")
    page.get_by_test_id("new-contact").click()
    page.locator('[name="name"]').fill(XSS)
    page.locator('[name="phone"]').fill("082 555 7777")
    page.locator('[name="tags"]').fill("VIP, geyser")
    assert_fits_phone(page, "/contacts/new")
    page.get_by_role("button", name="Add contact").click()
    expect(page).to_have_url(re.compile(r"/contacts/[0-9a-f-]{36}\?created=1$"))
    expect(page.get_by_test_id("contact-name")).to_have_text(XSS)
    expect(page.get_by_test_id("contact-details")).to_contain_text("082 555 7777")
    assert page.locator("main img").count() == 0, "the name is text, not markup"
    assert_fits_phone(page, "contact page")
    shot(page, "contact")

    page.get_by_test_id("edit-contact").click()
    page.locator('[name="name"]').fill("Thandi Edited")
    page.locator('[name="email"]').fill("thandi@example.co.za")
    page.locator('[name="address"]').fill("4 Long St\nCape Town")
    assert_fits_phone(page, "edit contact")
    shot(page, "contact-edit")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("contact-name")).to_have_text("Thandi Edited")
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_test_id("contact-details")).to_contain_text("4 Long St")
    expect(page.get_by_test_id("contact-details")).to_contain_text("geyser")

    good_phone = sa_mobile()
    page.goto("/contacts/import")
    assert_fits_phone(page, "/contacts/import")
    console.expect_status(422)
    upload(
        page,
        "bad.csv",
        f"name,phone\nWould Be New,{good_phone}\nBroken Number,12345\nAlso Broken,abc\n",
    )
    errors = page.get_by_test_id("import-errors")
    expect(errors).to_be_visible()
    expect(page.get_by_test_id("import-result")).to_contain_text("Nothing was imported")
    expect(errors.locator("tbody tr")).to_have_count(2)
    expect(errors.locator("tbody tr").first).to_contain_text("3")
    expect(errors.locator("tbody tr").nth(1)).to_contain_text("4")
    assert_fits_phone(page, "import errors")
    shot(page, "contacts-import-errors")
    page.goto("/contacts")
    expect(page.get_by_test_id("contacts")).not_to_contain_text("Would Be New")

    page.goto("/contacts/import")
    upload(page, "good.csv", f"name,phone\nWould Be New,{good_phone}\nSecond New,0825557778\n")
    expect(page.get_by_test_id("import-done")).to_contain_text("2 new contacts")
    page.goto("/contacts")
    rows = page.get_by_test_id("contacts")
    expect(rows).to_contain_text("Would Be New")
    expect(rows).to_contain_text("Second New")
    expect(rows).to_contain_text("Thandi Edited")
    shot(page, "contacts")

    # A large file goes to a job; the page shows its progress until the result.
    page.goto("/contacts/import")
    upload(page, "large.csv", many_rows(600))
    expect(page.get_by_test_id("import-status")).to_contain_text("600 rows received")
    expect(page.locator("progress.import-bar")).to_be_visible()
    assert_fits_phone(page, "import progress")
    shot(page, "contacts-import-queued")
    live_server.run_jobs()
    expect(page.get_by_test_id("import-done")).to_contain_text("600 new contacts")
    page.goto("/contacts")

    page.get_by_test_id("contact-search").fill("second")
    expect(rows.locator("li")).to_have_count(1)
    expect(rows).to_contain_text("Second New")
    page.get_by_test_id("contact-search").fill("082 555 7777")
    expect(rows.locator("li")).to_have_count(1)
    expect(rows).to_contain_text("Thandi Edited")
    rows.get_by_role("link", name=re.compile("Thandi Edited")).click()
    expect(page.get_by_test_id("contact-name")).to_have_text("Thandi Edited")
    console.assert_clean()

    page.set_viewport_size(DESKTOP)
    page.goto("/contacts")
    expect(page.locator("nav.mainnav a[aria-current=page]")).to_have_text("Contacts")
    shot(page, "contacts")
    console.assert_clean()
    context.close()
