"""A row in the quote and invoice lists says who it is for and what the job is, drafts
included (a list of "Draft, Draft, Draft" told the owner nothing)."""

from __future__ import annotations

import httpx

from tests.support.documents import draft, vat_business


def test_a_draft_row_names_the_customer_and_the_job(client: httpx.Client) -> None:
    _, headers = vat_business(client)
    draft(client, headers, name="Bongani Dlamini", job_description="Fix burst pipe under sink")
    page = client.get("/quotes").text
    row = page.split('data-testid="document-row"', 1)[1].split("</li>", 1)[0]
    assert "Draft" in row and "Bongani Dlamini" in row
    assert "Fix burst pipe under sink" in row
    listed = client.get("/api/v1/quotes").json()["items"][0]
    assert listed["job_description"] == "Fix burst pipe under sink"
