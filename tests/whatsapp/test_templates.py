"""WhatsApp templates: created through the API and the page, checked as WhatsApp's reviewers
would, created in the (stand-in) Content API and submitted for approval, synced, and sent."""

from __future__ import annotations

import re
from typing import Any

import httpx
import psycopg
import pytest

from clientcompass.jobs import build_job_app
from clientcompass.whatsapp import template_tasks
from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import invite_and_join, sign_up
from tests.support.aio import run_async
from tests.support.forms import api_headers, csrf_from
from tests.support.templates import (
    Owner,
    action,
    create,
    created,
    listed,
    owner_with_channel,
    standin_approval,
    submitted,
    text_template,
    unique_name,
    wait_for_standin_verdict,
)
from tests.support.whatsapp import conversation_with, customer_says, sa_mobile


def test_each_kind_is_stored_as_a_draft_then_created_in_the_content_api_on_submit(
    client: httpx.Client, standin: StandinServer
) -> None:
    owner = owner_with_channel(client, standin)
    text = created(owner, text_template())
    quick = created(
        owner,
        {
            "name": unique_name("quote_follow_up"),
            "category": "MARKETING",
            "kind": "quick_reply",
            "body": "Hi {{1}}, shall we book the job for {{2}}?",
            "variables": {"1": "Sipho", "2": "Monday"},
            "actions": [{"title": "Yes, book it"}, {"title": "Call me first"}],
        },
    )
    cta = created(
        owner,
        {
            "name": unique_name("invoice_ready"),
            "category": "UTILITY",
            "kind": "call_to_action",
            "body": "Hi {{1}}, your invoice is ready. Pay online or call us.",
            "variables": {"1": "Sipho"},
            "actions": [
                {"type": "URL", "title": "Pay now", "url": "https://pay.example.co.za/inv"},
                {"type": "PHONE_NUMBER", "title": "Call us", "phone": "082 123 4567"},
            ],
        },
    )
    media = created(
        owner,
        {
            "name": unique_name("job_photos"),
            "category": "UTILITY",
            "kind": "media",
            "body": "Hi {{1}}, here is the photo of the finished geyser install.",
            "variables": {"1": "Sipho"},
            "media_url": "https://files.example.co.za/geyser.jpg",
        },
    )
    for template in (text, quick, cta, media):
        assert template["status"] == "draft" and template["content_sid"] == ""
    assert text["preview"] == (
        "Hi Sipho, your appointment is on 12 March at 10:00. Reply if you need to change it."
    )
    assert text["placeholders"] == ["1", "2"]
    assert quick["actions"] == [
        {"title": "Yes, book it", "id": "yes_book_it"},
        {"title": "Call me first", "id": "call_me_first"},
    ]
    assert cta["actions"][1] == {
        "type": "PHONE_NUMBER",
        "title": "Call us",
        "phone": "+27821234567",
    }
    assert {t["id"] for t in listed(client)} == {t["id"] for t in (text, quick, cta, media)}
    contents = httpx.get(f"{standin.url}/v1/Content", auth=owner.twilio_auth, timeout=10).json()
    assert contents["contents"] == [], "nothing reaches Twilio before Submit"

    expected_types = {
        text["id"]: {
            "twilio/text": {
                "body": "Hi {{1}}, your appointment is on {{2}}. Reply if you need to change it."
            }
        },
        quick["id"]: {
            "twilio/quick-reply": {
                "body": "Hi {{1}}, shall we book the job for {{2}}?",
                "actions": quick["actions"],
            }
        },
        cta["id"]: {
            "twilio/call-to-action": {
                "body": "Hi {{1}}, your invoice is ready. Pay online or call us.",
                "actions": [
                    {"type": "URL", "title": "Pay now", "url": "https://pay.example.co.za/inv"},
                    {"type": "PHONE_NUMBER", "title": "Call us", "phone": "+27821234567"},
                ],
            }
        },
        media["id"]: {
            "twilio/media": {
                "body": "Hi {{1}}, here is the photo of the finished geyser install.",
                "media": ["https://files.example.co.za/geyser.jpg"],
            }
        },
    }
    for template in (text, quick, cta, media):
        response = action(owner, template["id"], "submit")
        assert response.status_code == 200, response.text
        sent = response.json()
        assert sent["status"] == "pending" and sent["submitted_at"]
        assert re.fullmatch(r"HX[0-9a-f]{32}", sent["content_sid"])
        content = httpx.get(
            f"{standin.url}/v1/Content/{sent['content_sid']}", auth=owner.twilio_auth, timeout=10
        ).json()
        assert content["friendly_name"] == template["name"]
        assert content["language"] == "en"
        assert content["variables"] == template["variables"]
        assert content["types"] == expected_types[template["id"]]
        approval = standin_approval(standin, owner, sent["content_sid"])
        assert approval["name"] == template["name"]
        assert approval["category"] == template["category"]
        assert approval["status"] in ("received", "pending", "approved")


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        (
            {
                "name": "Appointment Reminder!",
                "category": "UTILITY",
                "body": "Hi {{1}}, see you on {{3}} for the quote.",
                "variables": {"3": "Monday", "7": "stray"},
            },
            {"name", "body", "variables.1", "variables.7"},
        ),
        (
            {
                "name": "named_placeholders",
                "category": "UTILITY",
                "body": "Hi {{first_name}}, your quote is ready.",
            },
            {"body"},
        ),
        (
            {
                "name": "too_many_buttons",
                "category": "MARKETING",
                "kind": "quick_reply",
                "body": "Which day suits you for the quote visit?",
                "actions": [
                    {"title": "Monday"},
                    {"title": "Tuesday"},
                    {"title": "Wednesday afternoon please"},
                    {"title": "Thursday"},
                ],
            },
            {"actions", "actions.2.title"},
        ),
        (
            {
                "name": "quick_reply_without_buttons",
                "category": "MARKETING",
                "kind": "quick_reply",
                "body": "Which day suits you for the quote visit?",
            },
            {"actions"},
        ),
        (
            {
                "name": "bad_links",
                "category": "UTILITY",
                "kind": "call_to_action",
                "body": "Your invoice is ready; pay online or call us.",
                "actions": [
                    {"type": "URL", "title": "Pay now", "url": "ftp://pay.example.co.za"},
                    {"type": "PHONE_NUMBER", "title": "Call us", "phone": "12"},
                    {"type": "EMAIL", "title": "Mail us"},
                ],
            },
            {"actions.0.url", "actions.1.phone", "actions.2.type"},
        ),
        (
            {
                "name": "media_without_file",
                "category": "UTILITY",
                "kind": "media",
                "body": "Here is the photo of your new geyser.",
            },
            {"media_url"},
        ),
        (
            {
                "name": "text_with_button",
                "category": "UTILITY",
                "body": "Your quote is ready.",
                "actions": [{"title": "Thanks"}],
                "media_url": "https://files.example.co.za/a.jpg",
            },
            {"actions", "media_url"},
        ),
        (
            {"name": "empty_body", "category": "UTILITY", "body": "   ", "language": "english"},
            {"body", "language"},
        ),
        ({"name": "odd_category", "category": "PROMO", "body": "Hello there."}, {"category"}),
        ({"name": "odd_kind", "category": "UTILITY", "kind": "carousel", "body": "Hi."}, {"kind"}),
    ],
)
def test_invalid_templates_are_refused_field_by_field_and_nothing_is_stored(
    client: httpx.Client, standin: StandinServer, payload: dict[str, Any], fields: set[str]
) -> None:
    owner = owner_with_channel(client, standin)
    response = create(owner, payload)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert set(error["fields"]) == fields, error
    assert all(message.strip() for message in error["fields"].values())
    assert listed(client) == []


def test_error_messages_say_what_to_do(client: httpx.Client, standin: StandinServer) -> None:
    owner = owner_with_channel(client, standin)
    error = create(
        owner,
        {
            "name": "Bad Name",
            "category": "UTILITY",
            "body": "Hi {{1}}, see you on {{3}}.",
            "variables": {"1": "Sipho", "3": "Monday"},
            "kind": "text",
        },
    ).json()["error"]
    assert "lowercase letters, digits and underscores" in error["fields"]["name"]
    assert "{{2}} is missing" in error["fields"]["body"]
    error = create(
        owner,
        {
            "name": "no_samples",
            "category": "UTILITY",
            "body": "Hi {{1}}, your quote is ready.",
        },
    ).json()["error"]
    assert error["fields"] == {
        "variables.1": "Give a sample value for {{1}}: WhatsApp reviews the template with it."
    }
    assert error["message"] == error["fields"]["variables.1"]


def test_a_name_is_used_once_per_number(client: httpx.Client, standin: StandinServer) -> None:
    owner = owner_with_channel(client, standin)
    first = created(owner, text_template())
    again = create(owner, text_template(name=first["name"]))
    assert again.status_code == 409
    assert again.json()["error"]["fields"] == {"name": again.json()["error"]["message"]}
    assert [t["id"] for t in listed(client)] == [first["id"]]


def test_templates_need_a_connected_number(client: httpx.Client) -> None:
    sign_up(client)
    response = client.post("/api/v1/templates", json=text_template(), headers=api_headers(client))
    assert response.status_code == 422
    assert "Connect a WhatsApp number" in response.json()["error"]["message"]


def test_approval_is_synced_on_demand(client: httpx.Client, standin: StandinServer) -> None:
    owner = owner_with_channel(client, standin)
    template = submitted(owner, text_template())
    assert wait_for_standin_verdict(standin, owner, template["content_sid"])["status"] == "approved"
    assert listed(client)[0]["status"] == "pending", "nothing changes until a sync"

    response = action(owner, template["id"], "sync")
    assert response.status_code == 200, response.text
    synced = response.json()
    assert synced["status"] == "approved" and synced["rejection_reason"] == ""
    assert synced["synced_at"]
    assert listed(client)[0]["status"] == "approved"

    again = action(owner, template["id"], "submit")
    assert again.status_code == 409
    assert "already submitted (status: approved)" in again.json()["error"]["message"]


def test_rejection_and_its_reason_are_synced_and_shown(
    client: httpx.Client, standin: StandinServer
) -> None:
    owner = owner_with_channel(client, standin)
    template = submitted(owner, text_template(name=unique_name("promo_reject")))
    verdict = wait_for_standin_verdict(standin, owner, template["content_sid"])
    assert verdict["status"] == "rejected"

    synced = action(owner, template["id"], "sync").json()
    assert synced["status"] == "rejected"
    assert synced["rejection_reason"] == verdict["rejection_reason"]
    assert synced["rejection_reason"].startswith("INVALID_FORMAT")

    page = client.get("/templates")
    assert page.status_code == 200
    row = re.search(rf'<li id="tpl-{template["id"]}".*?</li>', page.text, re.S)
    assert row is not None
    assert 'data-status="rejected"' in row.group(0)
    assert "Why WhatsApp rejected it: INVALID_FORMAT" in row.group(0)

    again = action(owner, template["id"], "submit")
    assert again.status_code == 409
    assert "Create a corrected one under a new name" in again.json()["error"]["message"]


def test_paused_and_disabled_by_whatsapp_are_synced(
    client: httpx.Client, standin: StandinServer
) -> None:
    owner = owner_with_channel(client, standin)
    paused = submitted(owner, text_template())
    other = submitted(owner, text_template())
    draft = created(owner, text_template())
    for template in (paused, other):
        wait_for_standin_verdict(standin, owner, template["content_sid"])
    standin.control(
        "POST",
        f"content/{paused['content_sid']}/approval",
        json={"status": "paused", "rejection_reason": "Low quality: customers blocked it."},
    )
    result = action(owner, paused["id"], "sync").json()
    assert result["status"] == "paused"
    assert result["rejection_reason"] == "Low quality: customers blocked it."

    standin.control("POST", f"content/{other['content_sid']}/approval", json={"status": "disabled"})
    response = owner.client.post("/api/v1/templates/sync", headers=owner.headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["failed"] == {}
    statuses = {t["id"]: t["status"] for t in report["templates"]}
    assert statuses == {paused["id"]: "paused", other["id"]: "disabled"}, "drafts are not synced"
    assert {t["id"]: t["status"] for t in listed(client)}[draft["id"]] == "draft"


def test_agents_may_list_but_not_create_submit_or_sync(
    live_server: LiveServer, standin: StandinServer
) -> None:
    with (
        httpx.Client(base_url=live_server.url) as owner_http,
        httpx.Client(base_url=live_server.url) as agent,
    ):
        owner = owner_with_channel(owner_http, standin)
        template = created(owner, text_template())
        invite_and_join(owner_http, agent, role="agent")
        headers = api_headers(agent)
        assert [t["id"] for t in listed(agent)] == [template["id"]]
        assert agent.get(f"/api/v1/templates/{template['id']}").status_code == 200
        refused = agent.post("/api/v1/templates", json=text_template(), headers=headers)
        assert refused.status_code == 403
        assert "owner or admin" in refused.json()["error"]["message"]
        for verb in ("submit", "sync"):
            response = agent.post(f"/api/v1/templates/{template['id']}/{verb}", headers=headers)
            assert response.status_code == 403, verb
        assert agent.post("/api/v1/templates/sync", headers=headers).status_code == 403
        assert [t["status"] for t in listed(owner_http)] == ["draft"]
        assert len(listed(owner_http)) == 1

        page = agent.get("/templates")
        assert page.status_code == 200
        assert template["name"] in page.text
        assert 'id="template-form"' not in page.text and "Submit for approval" not in page.text


def test_another_tenant_can_neither_see_nor_touch_a_template(
    live_server: LiveServer, standin: StandinServer
) -> None:
    with httpx.Client(base_url=live_server.url) as a, httpx.Client(base_url=live_server.url) as b:
        owner = owner_with_channel(a, standin)
        template = created(owner, text_template())
        other = owner_with_channel(b, standin)
        assert listed(b) == []
        assert b.get(f"/api/v1/templates/{template['id']}").status_code == 404
        for verb in ("submit", "sync"):
            assert action(other, template["id"], verb).status_code == 404, verb
        preview = b.post(
            f"/api/v1/templates/{template['id']}/preview",
            json={"variables": {"1": "x", "2": "y"}},
            headers=other.headers,
        )
        assert preview.status_code == 404
        assert listed(a)[0]["status"] == "draft"
        assert "Appointment" not in b.get("/templates").text
        assert template["name"] not in b.get("/templates").text


def closed_window_conversation(
    owner: Owner, standin: StandinServer, owner_conn: psycopg.Connection
) -> tuple[dict[str, Any], str]:
    phone = sa_mobile()
    customer_says(standin, owner.channel, phone, "Hi, can you quote for a geyser?")
    conversation = conversation_with(owner.client, phone)
    owner_conn.execute(
        "update conversations set last_inbound_at = now() - interval '25 hours' where id = %s",
        (conversation["id"],),
    )
    standin.control(
        "POST",
        "window",
        json={
            "sender": owner.channel["whatsapp_from"],
            "customer": f"whatsapp:{phone}",
            "last_inbound_at": "2020-01-01T00:00:00Z",
        },
    )
    assert conversation_with(owner.client, phone)["window"]["is_open"] is False
    return conversation, phone


def approved(owner: Owner, standin: StandinServer, payload: dict[str, Any]) -> dict[str, Any]:
    template = submitted(owner, payload)
    standin.control(
        "POST", f"content/{template['content_sid']}/approval", json={"status": "approved"}
    )
    synced = action(owner, template["id"], "sync").json()
    assert synced["status"] == "approved"
    return synced  # type: ignore[no-any-return]


def test_an_approved_template_goes_out_in_a_closed_window_with_its_variables(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    owner = owner_with_channel(client, standin)
    conversation, phone = closed_window_conversation(owner, standin, owner_conn)
    template = approved(owner, standin, text_template())
    assert template["id"] in {
        t["id"]
        for t in client.get(
            "/api/v1/templates",
            params={"status": "approved", "channel_id": owner.channel["id"]},
        ).json()
    }

    prepared = client.post(
        f"/api/v1/templates/{template['id']}/preview",
        json={"variables": {"1": "Thabo", "2": "Friday at 14:00"}},
        headers=owner.headers,
    )
    assert prepared.status_code == 200, prepared.text
    send = prepared.json()
    text = "Hi Thabo, your appointment is on Friday at 14:00. Reply if you need to change it."
    assert send == {
        "content_sid": template["content_sid"],
        "variables": {"1": "Thabo", "2": "Friday at 14:00"},
        "preview": text,
    }
    response = client.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        json={"template": send},
        headers=owner.headers,
    )
    assert response.status_code == 202, response.text
    assert response.json()["body"] == text
    live_server.run_jobs()
    [twilio_copy] = standin.control("GET", "messages", params={"to": f"whatsapp:{phone}"}).json()
    assert twilio_copy["content_sid"] == template["content_sid"]
    assert twilio_copy["content_variables"] == {"1": "Thabo", "2": "Friday at 14:00"}
    assert twilio_copy["body"] == text


def test_a_template_that_is_not_approved_or_not_filled_in_is_refused(
    client: httpx.Client, standin: StandinServer
) -> None:
    owner = owner_with_channel(client, standin)
    draft = created(owner, text_template())
    pending = submitted(owner, text_template())
    ready = approved(owner, standin, text_template())

    def prepare(template: dict[str, Any], variables: dict[str, str]) -> httpx.Response:
        return client.post(
            f"/api/v1/templates/{template['id']}/preview",
            json={"variables": variables},
            headers=owner.headers,
        )

    values = {"1": "Thabo", "2": "Friday"}
    refused = prepare(pending, values)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "template_not_approved"
    assert error["message"].startswith("This template is not approved yet (status: pending).")
    assert "Sync now" in error["message"]
    refused = prepare(draft, values).json()["error"]
    assert refused["message"].startswith("This template is not approved yet (status: draft).")

    missing = prepare(ready, {"1": "Thabo", "2": "  "})
    assert missing.status_code == 422
    assert missing.json()["error"]["message"] == "Fill in {{2}} before sending."
    multiline = prepare(ready, {"1": "Thabo\nMokoena", "2": "Friday"})
    assert multiline.status_code == 422
    assert "line breaks" in multiline.json()["error"]["message"]
    unknown = prepare(ready, {**values, "3": "extra"})
    assert unknown.status_code == 422
    assert "has no {{3}}" in unknown.json()["error"]["message"]


def test_sending_by_template_id_through_the_messages_endpoint(
    client: httpx.Client,
    standin: StandinServer,
    live_server: LiveServer,
    owner_conn: psycopg.Connection,
) -> None:
    owner = owner_with_channel(client, standin)
    conversation, phone = closed_window_conversation(owner, standin, owner_conn)
    pending = submitted(owner, text_template())
    ready = approved(owner, standin, text_template())
    url = f"/api/v1/conversations/{conversation['id']}/messages"
    values = {"1": "Thabo", "2": "Friday"}
    refused = client.post(
        url, json={"template": {"id": pending["id"], "variables": values}}, headers=owner.headers
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["message"].startswith(
        "This template is not approved yet (status: pending)."
    )
    response = client.post(
        url, json={"template": {"id": ready["id"], "variables": values}}, headers=owner.headers
    )
    assert response.status_code == 202, response.text
    assert response.json()["body"].startswith("Hi Thabo, your appointment is on Friday.")
    live_server.run_jobs()
    [twilio_copy] = standin.control("GET", "messages", params={"to": f"whatsapp:{phone}"}).json()
    assert twilio_copy["content_sid"] == ready["content_sid"]
    assert twilio_copy["content_variables"] == values


def test_periodic_job_syncs_pending_templates_of_every_tenant(
    live_server: LiveServer, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    with httpx.Client(base_url=live_server.url) as a, httpx.Client(base_url=live_server.url) as b:
        first, second = owner_with_channel(a, standin), owner_with_channel(b, standin)
        ok = submitted(first, text_template())
        rejected = submitted(second, text_template(name=unique_name("reject_me")))
        draft = created(second, text_template())
        wait_for_standin_verdict(standin, first, ok["content_sid"])
        wait_for_standin_verdict(standin, second, rejected["content_sid"])
        assert [t["status"] for t in listed(a)] == ["pending"]

        async def defer() -> None:
            job_app, _ = build_job_app(live_server.settings)
            async with job_app.open_async():
                await job_app.configure_task(template_tasks.SYNC_TASK).defer_async(timestamp=0)

        run_async(defer)
        live_server.run_jobs()
        assert [t["status"] for t in listed(a)] == ["approved"]
        statuses = {t["id"]: t for t in listed(b)}
        assert statuses[rejected["id"]]["status"] == "rejected"
        assert statuses[rejected["id"]]["rejection_reason"].startswith("INVALID_FORMAT")
        assert statuses[draft["id"]]["status"] == "draft"


def form(client: httpx.Client, path: str, data: dict[str, str]) -> httpx.Response:
    token = csrf_from(client.get("/templates").text)
    return client.post(path, data={**data, "csrf_token": token})


def test_the_page_creates_submits_and_syncs_templates(
    client: httpx.Client, standin: StandinServer
) -> None:
    owner = owner_with_channel(client, standin)
    page = client.get("/templates")
    assert page.status_code == 200
    assert 'id="template-form"' in page.text and "No templates yet" in page.text

    bad = form(
        client,
        "/templates",
        {
            "name": "Quote Ready",
            "category": "UTILITY",
            "kind": "quick_reply",
            "body": "Hi {{1}}, your quote is ready.",
            "variables.1": "",
            "qr.0.title": "Yes please, send it over now",
            "action": "save",
        },
    )
    assert bad.status_code == 422
    assert "lowercase letters, digits and underscores" in bad.text
    assert "Give a sample value for {{1}}" in bad.text
    assert 'id="err-qr.0.title"' in bad.text, "the button error sits at its field"
    assert 'value="Yes please, send it over now"' in bad.text, "what was typed is kept"
    assert listed(client) == []

    name = unique_name("quote_ready")
    good = form(
        client,
        "/templates",
        {
            "name": name,
            "language": "en",
            "category": "UTILITY",
            "kind": "quick_reply",
            "body": "Hi {{1}}, your quote is ready.",
            "variables.1": "Sipho",
            "qr.0.title": "Send it",
            "qr.1.title": "",
            "cta.0.title": "ignored, another kind",
            "media_url": "not a url, ignored too",
            "action": "submit",
        },
    )
    assert good.status_code == 303, good.text[:2000]
    [template] = listed(client)
    assert good.headers["location"] == f"/templates#tpl-{template['id']}"
    assert template["name"] == name and template["status"] == "pending"
    assert template["actions"] == [{"title": "Send it", "id": "send_it"}]
    assert "Waiting for WhatsApp" in client.get("/templates").text

    wait_for_standin_verdict(standin, owner, template["content_sid"])
    row = form(client, f"/templates/{template['id']}/sync", {})
    assert row.status_code == 303
    assert listed(client)[0]["status"] == "approved"
    token = csrf_from(client.get("/templates").text)
    fragment = client.post(
        f"/templates/{template['id']}/sync", headers={"HX-Request": "true", "X-CSRF-Token": token}
    )
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith(f'<li id="tpl-{template["id"]}"')
    assert 'data-status="approved"' in fragment.text


def test_live_preview_fills_samples_and_offers_a_field_per_placeholder(
    client: httpx.Client, standin: StandinServer
) -> None:
    owner_with_channel(client, standin)
    token = csrf_from(client.get("/templates").text)
    headers = {"HX-Request": "true", "X-CSRF-Token": token}
    response = client.post(
        "/templates/preview",
        data={"kind": "quick_reply", "body": "Hi {{1}}, is {{2}} fine?", "variables.1": "Sipho"},
        headers=headers,
    )
    assert response.status_code == 200
    assert "Hi Sipho, is {{2}} fine?" in response.text
    assert 'hx-swap-oob="true"' in response.text and 'name="variables.2"' in response.text
    unchanged = client.post(
        "/templates/preview",
        data={
            "kind": "text",
            "body": "Hi {{1}}, is {{2}} fine?",
            "variables.1": "Sipho",
            "variables.2": "Monday",
        },
        headers=headers,
    )
    assert "Hi Sipho, is Monday fine?" in unchanged.text
    assert "hx-swap-oob" not in unchanged.text, "the sample fields stay put while typing"
