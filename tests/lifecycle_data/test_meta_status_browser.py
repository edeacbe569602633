"""On a 360 px phone: the page Meta links a person to after a data-deletion request."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import StartServer
from tests.lifecycle_data.test_signed_request import PAYLOAD, SECRET, meta_signs
from tests.support.browser import PHONE, assert_fits_phone, new_page, shot

pytestmark = pytest.mark.browser


def test_the_deletion_status_page_on_a_phone(browser: Browser, server_variant: StartServer) -> None:
    server = server_variant(meta_app_secret=SECRET)
    with httpx.Client(base_url=server.url, timeout=20) as meta:
        answer = meta.post("/meta/data-deletion", data={"signed_request": meta_signs(PAYLOAD)})
    assert answer.status_code == 200, answer.text
    url, code = answer.json()["url"], answer.json()["confirmation_code"]
    context, page, console = new_page(browser, server.url, PHONE)
    try:
        page.goto(url)
        expect(page.get_by_role("heading", level=1)).to_have_text("Your data deletion request")
        expect(page.get_by_test_id("meta-deletion-code")).to_have_text(code)
        expect(page.get_by_test_id("meta-deletion-status")).to_contain_text("Done on")
        expect(page.get_by_test_id("meta-deletion-outcome")).to_contain_text("nothing to delete")
        expect(
            page.get_by_role("link", name="your data and how to delete it", exact=True)
        ).to_be_visible()
        assert_fits_phone(page, "/meta/data-deletion/<code>")
        shot(page, "meta-deletion-status")

        # An unknown code is a 404 page, which the console reports as a failed load.
        console.allowed.append(re.compile(r"status of 404 .*/meta/data-deletion/0{20}"))
        page.goto("/meta/data-deletion/" + "0" * 20)
        expect(page.get_by_test_id("meta-deletion-unknown")).to_be_visible()
        assert_fits_phone(page, "/meta/data-deletion/<unknown>")
        console.assert_clean()
    finally:
        context.close()
