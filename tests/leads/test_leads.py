"""Leads through their public surfaces: the API (CRUD, stage rules, the tenant wall), the
pages (board, list, lead page, a move by form), a quote made from a lead, a merge, and the
reports."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import psycopg

from clientcompass.leads import service
from clientcompass.models import LeadSource
from tests.conftest import StandinServer
from tests.support import factories
from tests.support.accounts import sign_up
from tests.support.forms import api_headers, page_csrf
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile


def contact(client: httpx.Client, headers: dict[str, str], **extra: str) -> dict[str, Any]:
    body = {"name": "Lindiwe Dube", "phone": sa_mobile(), **extra}
    response = client.post("/api/v1/contacts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def lead(client: httpx.Client, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/leads", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def move(
    client: httpx.Client, headers: dict[str, str], lead_id: str, stage: str, reason: str = ""
) -> httpx.Response:
    return client.post(
        f"/api/v1/leads/{lead_id}/stage", json={"stage": stage, "reason": reason}, headers=headers
    )


def test_crud_filters_and_stage_rules_through_the_api(client: httpx.Client) -> None:
    sign_up(client)
    headers = api_headers(client)
    me = client.get("/api/v1/me").json()
    person = contact(client, headers, address="4 Oak Lane")
    created = lead(
        client,
        headers,
        contact_id=person["id"],
        service="Burst geyser",
        suburb="Durbanville",
        urgency="today",
        estimated_value="R1 500,505",
        answers={"geyser_size": "150 l"},
    )
    assert created["stage"] == "new" and created["source"] == "manual"
    assert created["estimated_value_cents"] == 150051  # half up, once
    assert created["contact_name"] == "Lindiwe Dube"
    assert [c["to_stage"] for c in created["history"]] == ["new"]

    bad = client.post(
        "/api/v1/leads",
        json={"contact_id": person["id"], "estimated_value": "lots"},
        headers=headers,
    )
    assert bad.status_code == 422 and "estimated_value" in bad.text

    patched = client.patch(
        f"/api/v1/leads/{created['id']}",
        json={"owner_id": me["id"], "suburb": "Bellville"},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["owner_id"] == me["id"] and patched.json()["service"] == "Burst geyser"

    other = lead(client, headers, contact_id=person["id"], service="Leaking tap", source="ad")
    listed = client.get("/api/v1/leads", params={"source": "ad"}).json()
    assert [row["id"] for row in listed] == [other["id"]]
    assert [r["id"] for r in client.get("/api/v1/leads", params={"q": "bellv"}).json()] == [
        created["id"]
    ]
    assert len(client.get("/api/v1/leads", params={"owner_id": me["id"]}).json()) == 1

    assert move(client, headers, created["id"], "won").status_code == 422  # new → won: no
    refused = move(client, headers, created["id"], "lost")
    assert refused.status_code == 422 and "reason" in refused.json()["error"]["fields"]
    assert move(client, headers, created["id"], "contacted").json()["stage"] == "contacted"
    lost = move(client, headers, created["id"], "lost", "Went with a cheaper plumber").json()
    assert lost["stage"] == "lost" and lost["lost_reason"] == "Went with a cheaper plumber"
    reopened = move(client, headers, created["id"], "new").json()
    assert reopened["stage"] == "new" and reopened["lost_reason"] == ""
    assert [c["to_stage"] for c in reopened["history"]] == ["new", "contacted", "lost", "new"]
    assert move(client, headers, created["id"], "quoted").status_code == 200
    assert move(client, headers, created["id"], "won").json()["stage"] == "won"
    assert move(client, headers, created["id"], "lost", "Oops").status_code == 422


def test_another_business_gets_404_and_cannot_use_its_contacts(client: httpx.Client) -> None:
    sign_up(client)
    headers = api_headers(client)
    person = contact(client, headers)
    theirs = lead(client, headers, contact_id=person["id"], service="Secret job")
    with httpx.Client(base_url=str(client.base_url), timeout=20) as other:
        sign_up(other)
        other_headers = api_headers(other)
        path = f"/api/v1/leads/{theirs['id']}"
        assert other.get(path).status_code == 404
        assert other.patch(path, json={"service": "x"}, headers=other_headers).status_code == 404
        assert move(other, other_headers, theirs["id"], "contacted").status_code == 404
        assert other.get(f"/leads/{theirs['id']}").status_code == 404
        assert other.get(f"/quotes/new?lead_id={theirs['id']}").status_code == 404
        assert other.get("/api/v1/leads").json() == []
        stolen = other.post(
            "/api/v1/leads", json={"contact_id": person["id"]}, headers=other_headers
        )
        assert stolen.status_code == 422 and "contact_id" in stolen.json()["error"]["fields"]
    assert client.get(path).json()["stage"] == "new"


def test_a_post_without_the_csrf_token_is_refused(client: httpx.Client) -> None:
    sign_up(client)
    headers = api_headers(client)
    person = contact(client, headers)
    created = lead(client, headers, contact_id=person["id"])
    refused = client.post(f"/leads/{created['id']}/stage", data={"stage": "contacted"})
    assert refused.status_code == 403
    assert client.post("/api/v1/leads", json={"contact_id": person["id"]}).status_code == 403
    assert client.get(f"/api/v1/leads/{created['id']}").json()["stage"] == "new"


def test_board_list_and_lead_page_move_a_lead_by_form(client: httpx.Client) -> None:
    sign_up(client)
    headers = api_headers(client)
    person = contact(client, headers, name="Pieter Botha")
    created = lead(client, headers, contact_id=person["id"], service="Blocked drain")
    board = client.get("/leads")
    assert board.status_code == 200
    assert "Pieter Botha" in board.text and 'data-testid="column-new"' in board.text
    assert "<svg" in board.text and 'data-testid="report-conversion"' in board.text
    token = page_csrf(client, "/leads")
    moved = client.post(
        f"/leads/{created['id']}/stage",
        data={"stage": "contacted", "next": "/leads", "csrf_token": token},
    )
    assert moved.status_code == 303 and moved.headers["location"] == "/leads"
    no_reason = client.post(
        f"/leads/{created['id']}/stage", data={"stage": "lost", "csrf_token": token}
    )
    assert no_reason.status_code == 422 and "Say why the lead was lost." in no_reason.text
    listed = client.get("/leads", params={"view": "list", "stage": "contacted"})
    assert "Pieter Botha" in listed.text
    assert "Pieter Botha" not in client.get("/leads?view=list&stage=new").text
    page = client.get(f"/leads/{created['id']}")
    assert "Blocked drain" in page.text and f"/quotes/new?lead_id={created['id']}" in page.text

    made = client.post(
        "/leads",
        data={
            "contact_id": person["id"],
            "service": "Geyser",
            "estimated_value": "abc",
            "csrf_token": token,
        },
    )
    assert made.status_code == 422 and "estimated" in made.text.lower()
    made = client.post(
        "/leads",
        data={
            "contact_id": person["id"],
            "service": "Geyser",
            "estimated_value": "2 000",
            "csrf_token": token,
        },
    )
    assert made.status_code == 303
    new_id = made.headers["location"].rsplit("/", 1)[1]
    edited = client.post(
        "/leads",
        data={
            "lead_id": new_id,
            "suburb": "Parow",
            "estimated_value": "2 000",
            "service": "Geyser",
            "csrf_token": token,
        },
    )
    assert edited.status_code == 303
    assert client.get(f"/api/v1/leads/{new_id}").json()["suburb"] == "Parow"


def test_create_quote_from_lead_prefills_and_moves_the_lead_to_quoted(
    client: httpx.Client,
) -> None:
    sign_up(client)
    headers = api_headers(client)
    person = contact(client, headers, name="Ayesha Khan", address="9 Vine Street")
    created = lead(
        client,
        headers,
        contact_id=person["id"],
        service="Replace geyser",
        suburb="Observatory",
        answers={"geyser_size": "200 l", "access": "roof"},
    )
    editor = client.get(f"/quotes/new?lead_id={created['id']}")
    assert editor.status_code == 200
    html = editor.text
    assert f'<option value="{person["id"]}" selected' in html
    assert "9 Vine Street\nObservatory</textarea>" in html
    assert ">Replace geyser\n" in html  # the service, then the answers
    assert "Geyser size: 200 l" in html and "Access: roof" in html
    assert f'name="lead_id" value="{created["id"]}"' in html
    token = page_csrf(client, "/quotes")
    saved = client.post(
        "/quotes",
        data={
            "csrf_token": token,
            "lead_id": created["id"],
            "contact_id": person["id"],
            "job_description": "Replace geyser",
            "price_mode": "exclusive",
            "lines.0.description": "Geyser",
            "lines.0.quantity": "1",
            "lines.0.unit_price": "6500",
        },
    )
    assert saved.status_code == 303, saved.text[:2000]
    quote_id = saved.headers["location"].rsplit("/", 1)[1]
    detail = client.get(f"/api/v1/leads/{created['id']}").json()
    assert detail["stage"] == "quoted" and detail["quote_ids"] == [quote_id]


def test_merging_contacts_moves_their_leads(
    client: httpx.Client, standin: StandinServer, owner_conn: psycopg.Connection
) -> None:
    sign_up(client)
    headers = api_headers(client)
    channel = connect_channel(client, standin)
    kept_phone, duplicate_phone = sa_mobile(), sa_mobile()
    customer_says(standin, channel, kept_phone, "Hi")
    customer_says(standin, channel, duplicate_phone, "Hi from my other phone")
    kept = conversation_with(client, kept_phone)
    gone = conversation_with(client, duplicate_phone)
    moving = lead(
        client,
        headers,
        contact_id=gone["contact"]["id"],
        conversation_id=gone["id"],
        source="flow",
    )
    merged = client.post(
        f"/api/v1/contacts/{kept['contact']['id']}/merge",
        json={"duplicate_id": gone["contact"]["id"]},
        headers=headers,
    )
    assert merged.status_code == 200, merged.text
    after = client.get(f"/api/v1/leads/{moving['id']}").json()
    assert after["contact_id"] == kept["contact"]["id"]
    assert after["conversation_id"] == kept["id"]  # the folded thread's lead follows it


def test_reports_count_sources_conversion_and_first_reply(
    client: httpx.Client, standin: StandinServer
) -> None:
    sign_up(client)
    headers = api_headers(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "Need an electrician")
    conversation = conversation_with(client, phone)
    first = lead(
        client,
        headers,
        contact_id=conversation["contact"]["id"],
        conversation_id=conversation["id"],
        source="flow",
    )
    sent = client.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        json={"text": "We can come at 3"},
        headers=headers,
    )
    assert sent.status_code == 202, sent.text
    move(client, headers, first["id"], "quoted")
    page = client.get("/leads").text
    assert "50% of leads quoted" not in page  # one lead: all of it
    assert "100% of leads quoted, 0% won" in page
    assert "1 leads in 8 weeks" in page
    replied = client.get(f"/api/v1/leads/{first['id']}").json()
    assert replied["first_reply_at"] is not None
    assert "Median 0 min" in page


def test_the_flow_engine_creates_then_updates_one_open_lead(client: httpx.Client) -> None:
    account = sign_up(client)
    headers = api_headers(client)
    person = contact(client, headers)
    contact_id = uuid.UUID(person["id"])
    photo = uuid.uuid4()

    async def twice(services: factories.Services) -> tuple[str, str]:
        async with services.unit_of_work(account.tenant_id) as uow:
            first = await service.create_or_update(
                uow,
                contact_id,
                source=LeadSource.AD,
                referral={"ctwa_clid": "ARAkLkA8rmlF"},
                service="Geyser",
                answers={"size": "150 l"},
            )
        async with services.unit_of_work(account.tenant_id) as uow:
            again = await service.create_or_update(
                uow,
                contact_id,
                source=LeadSource.FLOW,
                suburb="Bellville",
                photos=[photo],
                answers={"access": "roof"},
                estimated_value="900",
            )
        return str(first.id), str(again.id)

    first_id, again_id = factories.run(factories.settings_of(client), twice)
    assert first_id == again_id
    found = client.get(f"/api/v1/leads/{first_id}").json()
    assert found["source"] == "ad" and found["referral"] == {"ctwa_clid": "ARAkLkA8rmlF"}
    assert found["answers"] == {"size": "150 l", "access": "roof"}
    assert found["service"] == "Geyser" and found["suburb"] == "Bellville"
    assert found["photos"] == [str(photo)] and found["estimated_value_cents"] == 90000
    assert len(client.get("/api/v1/leads").json()) == 1
