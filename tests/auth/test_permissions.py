"""One permissions table, enforced by the services and shown on the team page: an agent may
record payments and delete their own canned responses, but not export, correct an issued
invoice, or delete a teammate's canned response. Each refusal is tried, not assumed."""

from __future__ import annotations

import uuid

import httpx

from tests.conftest import LiveServer
from tests.support.accounts import invite_and_join
from tests.support.documents import finalised, vat_business
from tests.support.forms import api_headers
from tests.support.step_up import CONFIRM


def canned(client: httpx.Client, shortcut: str) -> str:
    response = client.post(
        "/api/v1/canned-responses",
        json={"shortcut": shortcut, "body": "We are on our way."},
        headers=api_headers(client),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_agents_and_owners_may_do_what_the_table_says(
    client: httpx.Client, live_server: LiveServer
) -> None:
    _, owner_headers = vat_business(client)
    with httpx.Client(base_url=live_server.url, timeout=20) as agent:
        invite_and_join(client, agent, role="agent")
        agent_headers = api_headers(agent)
        invoice = finalised(client, owner_headers, "invoices")
        invoice_url = f"/api/v1/invoices/{invoice['id']}"

        for path in ("/api/v1/invoices/export.csv", "/invoices/export.csv", "/contacts/export"):
            refused = agent.get(path)
            assert refused.status_code == 403, path
            assert client.get(path).status_code == 200, path
        credit = agent.post(
            f"{invoice_url}/credit-notes", json={"reason": "Wrong job"}, headers=agent_headers
        )
        assert credit.status_code == 403
        assert "owner or admin" in credit.json()["error"]["message"]
        assert client.get(invoice_url).json()["status"] == "finalised", "nothing changed"
        paid = agent.post(f"{invoice_url}/payments", json={"amount": "100"}, headers=agent_headers)
        assert paid.status_code == 201, paid.text

        mine = canned(agent, f"omw{uuid.uuid4().hex[:5]}")
        theirs = canned(client, f"eta{uuid.uuid4().hex[:5]}")
        other = agent.delete(
            f"/api/v1/canned-responses/{theirs}", headers={**agent_headers, **CONFIRM}
        )
        assert other.status_code == 403
        own = agent.delete(f"/api/v1/canned-responses/{mine}", headers={**agent_headers, **CONFIRM})
        assert own.status_code == 204
        by_owner = client.delete(
            f"/api/v1/canned-responses/{theirs}", headers={**owner_headers, **CONFIRM}
        )
        assert by_owner.status_code == 204

        # The pages offer only what is allowed.
        page = agent.get(f"/invoices/{invoice['id']}")
        assert 'data-testid="payment-form"' in page.text
        assert 'data-testid="credit-form"' not in page.text
        assert 'data-testid="export-csv"' not in agent.get("/invoices").text
        assert 'data-testid="export-csv"' in client.get("/invoices").text
        owner_page = client.get(f"/invoices/{invoice['id']}")
        assert 'data-testid="credit-form"' in owner_page.text


def test_the_team_page_shows_the_table(client: httpx.Client) -> None:
    vat_business(client)
    page = client.get("/settings/team").text
    table = page.split('data-testid="permissions"', 1)[1].split("</table>", 1)[0]
    row = table.split('data-permission="correct_invoices"', 1)[1].split("</tr>", 1)[0]
    assert "Void an invoice or issue a credit note" in row
    assert 'data-role="owner">Yes' in row and 'data-role="agent">No' in row
    payments = table.split('data-permission="record_payments"', 1)[1].split("</tr>", 1)[0]
    assert 'data-role="agent">Yes' in payments
