"""The flows API and its tables: drafts checked on save, versions numbered and immutable in
the database, another business's flow not found, and no change without the CSRF header."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest

from clientcompass.flows.starters import STARTERS
from tests.support.accounts import invite_and_join, sign_up
from tests.support.forms import api_headers

FLOWS = "/api/v1/flows"


def create(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post(FLOWS, json={"name": "Call-outs", **body}, headers=api_headers(client))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_create_from_a_starter_edit_publish_and_read_versions(client: httpx.Client) -> None:
    sign_up(client)
    assert {s["slug"] for s in client.get(f"{FLOWS}/starters").json()} == set(STARTERS)
    flow = create(client, starter="plumber-call-out")
    assert flow["trigger_kind"] == "new_contact" and flow["live_version"] is None
    assert flow["draft"]["steps"][0]["id"] == "welcome"
    assert [f["id"] for f in client.get(FLOWS).json()] == [flow["id"]]

    headers = api_headers(client)
    first = client.post(f"{FLOWS}/{flow['id']}/publish", headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["number"] == 1

    draft = flow["draft"]
    draft["steps"][0]["text"] = "Howzit! Thanks for getting in touch."
    updated = client.put(
        f"{FLOWS}/{flow['id']}", json={"definition": draft, "name": "Plumbing"}, headers=headers
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["name"] == "Plumbing"
    second = client.post(f"{FLOWS}/{flow['id']}/publish", headers=headers).json()
    assert second["number"] == 2

    versions = client.get(f"{FLOWS}/{flow['id']}/versions").json()
    assert [v["number"] for v in versions] == [2, 1]
    one = client.get(f"{FLOWS}/{flow['id']}/versions/1").json()
    assert one["definition"]["steps"][0]["text"].startswith("Hi there")
    assert client.get(f"{FLOWS}/{flow['id']}").json()["live_version"] == 2
    assert client.get(f"{FLOWS}/{flow['id']}/versions/3").status_code == 404


def test_a_bad_draft_is_refused_with_every_problem_naming_its_step(client: httpx.Client) -> None:
    sign_up(client)
    flow = create(client, starter="after-hours")
    draft = flow["draft"]
    draft["steps"][0]["options"][0]["title"] = "Yes, this is an emergency"  # 25 > 20
    draft["steps"][4]["text"] = ""
    response = client.put(
        f"{FLOWS}/{flow['id']}", json={"definition": draft}, headers=api_headers(client)
    )
    assert response.status_code == 422
    problems = response.json()["error"]["problems"]
    assert {(p["step_id"], p["step_title"]) for p in problems} == {
        ("closed", "We're closed"),
        ("message", "Take a message"),
    }
    assert any("20 characters" in p["message"] for p in problems)
    unchanged = client.get(f"{FLOWS}/{flow['id']}").json()["draft"]
    assert unchanged["steps"][0]["options"][0]["title"] == "Yes, emergency"


def test_create_refuses_an_unknown_starter_and_a_bad_definition(client: httpx.Client) -> None:
    sign_up(client)
    headers = api_headers(client)
    assert (
        client.post(FLOWS, json={"name": "x", "starter": "nope"}, headers=headers).status_code
        == 422
    )
    bad = {"format": 1, "trigger": {"kind": "manual"}, "steps": []}
    response = client.post(FLOWS, json={"name": "x", "definition": bad}, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["problems"][0]["message"] == "A flow needs at least one step."
    blank = create(client)
    assert blank["trigger_kind"] == "manual"


def test_a_published_version_cannot_change_in_the_database(
    client: httpx.Client, app_conn: psycopg.Connection
) -> None:
    account = sign_up(client)
    flow = create(client, starter="site-visit")
    client.post(f"{FLOWS}/{flow['id']}/publish", headers=api_headers(client))
    for statement in (
        "update flow_versions set definition = '{}'::jsonb where flow_id = %s",
        "delete from flow_versions where flow_id = %s",
    ):
        with pytest.raises(psycopg.errors.RestrictViolation), app_conn.transaction():
            app_conn.execute(
                "select set_config('app.tenant_id', %s, true)", (str(account.tenant_id),)
            )
            app_conn.execute(statement, (flow["id"],))
    assert client.get(f"{FLOWS}/{flow['id']}/versions/1").json()["definition"]["steps"]


def test_another_business_flow_is_not_found(client: httpx.Client) -> None:
    sign_up(client)
    theirs = create(client, starter="quote-with-photos")
    sign_up(client)
    headers = api_headers(client)
    base = f"{FLOWS}/{theirs['id']}"
    assert client.get(base).status_code == 404
    assert client.get(f"{base}/versions").status_code == 404
    assert client.get(f"{base}/versions/1").status_code == 404
    assert (
        client.put(base, json={"definition": theirs["draft"]}, headers=headers).status_code == 404
    )
    assert client.post(f"{base}/publish", headers=headers).status_code == 404
    assert client.get(f"/flows/{theirs['id']}").status_code == 404
    assert client.get(FLOWS).json() == []


def test_a_change_without_the_csrf_header_is_refused(client: httpx.Client) -> None:
    sign_up(client)
    flow = create(client)
    assert client.post(FLOWS, json={"name": "x"}).status_code == 403
    assert client.post(f"{FLOWS}/{flow['id']}/publish").status_code == 403
    assert client.post(f"/flows/{flow['id']}/publish").status_code == 403
    assert client.get(f"{FLOWS}/{flow['id']}/versions").json() == []


def test_agents_cannot_build_flows(client: httpx.Client) -> None:
    sign_up(client)
    with httpx.Client(base_url=str(client.base_url)) as agent:
        invite_and_join(client, agent, role="agent")
        assert agent.get(FLOWS).status_code == 403
        assert agent.post(FLOWS, json={"name": "x"}, headers=api_headers(agent)).status_code == 403


def test_the_flow_handlers_first_look_sees_only_its_own_business(
    client: httpx.Client, app_conn: psycopg.Connection
) -> None:
    """cc_flow_state (migration 0029), asked by another business about a business that has a
    live flow, sees nothing: the wall holds inside it."""
    theirs = sign_up(client)
    flow = create(client, starter="site-visit")
    client.post(f"{FLOWS}/{flow['id']}/publish", headers=api_headers(client))
    mine = sign_up(client)
    look = "select live_run, trials, startable from cc_flow_state(%s, gen_random_uuid())"
    with app_conn.transaction():
        app_conn.execute("select set_config('app.tenant_id', %s, true)", (str(theirs.tenant_id),))
        assert app_conn.execute(look, (theirs.tenant_id,)).fetchone() == (False, None, True)
    with app_conn.transaction():
        app_conn.execute("select set_config('app.tenant_id', %s, true)", (str(mine.tenant_id),))
        assert app_conn.execute(look, (theirs.tenant_id,)).fetchone() == (False, None, False)
