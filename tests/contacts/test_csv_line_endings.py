"""A CSV saved with bare carriage returns (old Mac line endings, some exports) imports like
any other; it used to be a 500 ("new-line character seen in unquoted field")."""

from __future__ import annotations

import random

import httpx

from clientcompass.contacts.csv_io import read_table
from tests.support.accounts import sign_up
from tests.support.forms import api_headers


def test_a_file_with_bare_carriage_returns_imports(client: httpx.Client) -> None:
    sign_up(client)
    prefix = random.randint(100, 999)
    data = (
        f"name,phone,notes\rAyanda,+2784{prefix}0001,Gate\x00 code\r"
        f'Bongani,+2784{prefix}0002,"two\rlines"\r'
    ).encode()
    response = client.post(
        "/api/v1/contacts/import",
        files={"file": ("contacts.csv", data, "text/csv")},
        headers=api_headers(client),
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    found = client.get("/api/v1/contacts", params={"q": "Ayanda"}).json()
    assert [c["notes"] for c in found] == ["Gate code"]  # the NUL taken out, not a 500
    found = client.get("/api/v1/contacts", params={"q": "Bongani"}).json()
    assert [c["notes"] for c in found] == ["two\rlines"]


def test_every_line_ending_reads_the_same() -> None:
    rows = [["name", "phone"], ["A", "0821234567"], ["B", "0821234568"]]
    for ending in ("\n", "\r\n", "\r"):
        text = ending.join(",".join(row) for row in rows) + ending
        table = read_table(text.encode())
        assert table.columns == {"name": 0, "phone": 1}
        assert [cells for _, cells in table.rows] == rows[1:]
