"""The builder's pages: a flow from a starter, each step's edit, add, move and delete through
plain forms, refusals shown on the step they name, publish; and the business hours form."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import httpx

from clientcompass.business import hours
from tests.support import factories
from tests.support.accounts import sign_up
from tests.support.forms import page_csrf, post_form
from tests.web.test_form_messages import LIBRARY, bad_values, forms_of


def new_flow(client: httpx.Client, starter: str = "after-hours") -> str:
    response = post_form(
        client, "/flows", {"name": "After hours", "starter": starter}, csrf_page="/flows/new"
    )
    assert response.status_code == 303, response.text[:500]
    location = response.headers["location"]
    assert re.fullmatch(r"/flows/[0-9a-f-]{36}", location)
    return location


def step_ids(client: httpx.Client, page: str) -> list[str]:
    return re.findall(r'data-step-id="([^"]+)"', client.get(page).text)


def test_list_new_and_builder_show_what_the_customer_sees(client: httpx.Client) -> None:
    sign_up(client)
    assert "No flows yet" in client.get("/flows").text
    page = new_flow(client)
    html = client.get(page).text
    assert "Our office is closed right now" in html
    assert '<li data-testid="chip">Yes, emergency</li>' in html
    assert "→ goes to step 2: Mark as emergency" in html
    assert "Try it on the sandbox phone" in html and 'action="/sandbox/try-flow/' in html
    assert "After hours" in client.get("/flows").text
    assert 'href="/flows"' in client.get("/inbox").text  # the nav item, for an owner


def test_edit_add_and_move_steps(client: httpx.Client) -> None:
    sign_up(client)
    page = new_flow(client)
    edit = client.get(f"{page}?edit=noted").text
    assert 'data-testid="step-form"' in edit
    saved = post_form(
        client,
        f"{page}/steps/edit",
        {"step_id": "noted", "title": "All noted", "text": "Lekker, we'll reply first thing."},
        csrf_page=page,
    )
    assert saved.status_code == 303
    assert "Lekker, we&#39;ll reply first thing." in client.get(page).text

    added = post_form(
        client, f"{page}/steps", {"kind": "notify", "after": "message"}, csrf_page=page
    )
    assert added.status_code == 303 and "edit=notify-1" in added.headers["location"]
    assert step_ids(client, page)[-2:] == ["notify-1", "noted"]

    # Below "noted" (an end) nothing would lead to it: refused, and named on the step.
    refused = post_form(
        client, f"{page}/steps/move", {"step_id": "notify-1", "direction": "down"}, csrf_page=page
    )
    assert refused.status_code == 422
    assert "No step leads here, so a customer can never reach it." in refused.text
    assert step_ids(client, page)[-2:] == ["notify-1", "noted"]

    visit = new_flow(client, "site-visit")
    moved = post_form(
        client, f"{visit}/steps/move", {"step_id": "lead", "direction": "up"}, csrf_page=visit
    )
    assert moved.status_code == 303
    assert step_ids(client, visit)[3:6] == ["day", "lead", "save-address"]


def test_a_refused_change_shows_the_problem_on_its_step_and_changes_nothing(
    client: httpx.Client,
) -> None:
    sign_up(client)
    page = new_flow(client)
    before = step_ids(client, page)
    response = post_form(client, f"{page}/steps/delete", {"step_id": "emergency"}, csrf_page=page)
    assert response.status_code == 422
    assert "Not saved" in response.text
    closed_card = response.text.split('data-step-id="closed"')[1].split('data-testid="step"')[0]
    assert "goes to step &#34;emergency&#34;, which does not exist." in closed_card
    assert step_ids(client, page) == before

    too_long = post_form(
        client,
        f"{page}/steps/edit",
        {
            "step_id": "closed",
            "title": "We're closed",
            "text": "Emergency?",
            "style": "buttons",
            "option_id_0": "yes",
            "option_title_0": "Yes, this is an emergency",
            "option_next_0": "emergency",
            "option_id_1": "no",
            "option_title_1": "No",
            "option_next_1": "message",
        },
        csrf_page=page,
    )
    assert too_long.status_code == 422
    assert "A button title may have 20 characters; this has 25." in too_long.text
    assert "Yes, this is an emergency" in too_long.text  # what was typed is kept on the page
    assert "Yes, emergency" in client.get(page).text


def test_publish_from_the_page_lists_versions(client: httpx.Client) -> None:
    sign_up(client)
    page = new_flow(client, "site-visit")
    for number in (1, 2):
        response = post_form(client, f"{page}/publish", {}, csrf_page=page)
        assert response.status_code == 303
        assert response.headers["location"].endswith(f"saved=v{number}#versions")
    html = client.get(page).text
    assert "Version 2 (live)" in html and "Version 1 ·" in html


def test_another_business_flow_page_and_forms_are_not_found(client: httpx.Client) -> None:
    sign_up(client)
    page = new_flow(client)
    sign_up(client)
    token = page_csrf(client, "/flows")
    assert client.get(page).status_code == 404
    for action, data in (
        ("/publish", {}),
        ("/steps/delete", {"step_id": "noted"}),
        ("/steps", {"kind": "end"}),
        ("/settings", {"name": "Mine", "trigger": "manual"}),
    ):
        response = client.post(page + action, data={**data, "csrf_token": token})
        assert response.status_code == 404, action
    assert client.get(f"/flows/{uuid.uuid4()}").status_code == 404


def test_business_hours_form(client: httpx.Client) -> None:
    account = sign_up(client)
    page = "/settings/business/hours"
    html = client.get(page).text
    assert "public holidays" in html and 'name="mon_open"' in html
    refused = post_form(
        client, page, {"mon_open": "on", "mon_start": "17:00", "mon_end": "08:00"}, csrf_page=page
    )
    assert refused.status_code == 422 and "Monday closes before it opens." in refused.text
    saved = post_form(
        client, page, {"sat_open": "on", "sat_start": "09:00", "sat_end": "13:00"}, csrf_page=page
    )
    assert saved.status_code == 303
    html = client.get(page).text
    assert 'value="09:00"' in html
    assert re.search(r'name="sat_open"[^>]*>\s*<option value="on" selected', html)
    assert re.search(r'name="mon_open"[^>]*>\s*<option value="on" >', html)

    async def open_when(services: factories.Services) -> tuple[bool, bool]:
        saturday, monday = (datetime(2026, 4, d, 8, tzinfo=UTC) for d in (11, 13))  # 10:00 SAST
        async with services.unit_of_work(account.tenant_id) as uow:
            return await hours.open_at(uow, saturday), await hours.open_at(uow, monday)

    assert factories.run(factories.settings_of(client), open_when) == (True, False)


def test_every_builder_form_answers_bad_input_in_plain_english(client: httpx.Client) -> None:
    """The walk of tests/web/test_form_messages.py, over the builder of a flow with one step of
    every kind but `end`, each step's edit form open in turn."""
    sign_up(client)
    page = new_flow(client, "plumber-call-out")
    for kind in ("branch", "set_field", "tag", "wait", "webhook"):
        added = post_form(client, f"{page}/steps", {"kind": kind, "after": "lead"}, csrf_page=page)
        assert added.status_code == 303, (kind, added.text[:300])
    urls = [page] + [f"{page}?edit={step}" for step in step_ids(client, page)]
    walked, statuses = set(), []
    for url in urls:
        for action, fields in forms_of(client.get(url).text):
            if not action.startswith(page) or action.endswith(("/move", "/delete", "/publish")):
                continue
            key = f"{action} {sorted(fields)}"
            if key in walked:
                continue
            walked.add(key)
            for how in ("blank", "junk", "long"):
                sent = client.post(action, data=bad_values(fields, how))
                statuses.append(sent.status_code)
                assert sent.status_code in (303, 422), (action, how, sent.text[:300])
                found = LIBRARY.search(sent.text)
                assert found is None, f"{action} ({how}) answered {found.group(0)!r}"
    assert len(walked) >= 14 and 422 in statuses
