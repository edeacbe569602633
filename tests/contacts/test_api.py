"""Contacts through the JSON API and the pages: fields, search, keyset pages, the tenant wall,
CSRF, escaping, and CSV import (all or nothing) and export (no formulas)."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx
import psycopg
import pytest
import redis as sync_redis

from clientcompass import csv_safe
from clientcompass.contacts import csv_io, imports
from clientcompass.errors import InvalidInput
from tests.conftest import LiveServer, StandinServer
from tests.support.accounts import invite_and_join, sign_up
from tests.support.contacts import many_rows
from tests.support.forms import api_headers, page_csrf, post_form
from tests.support.step_up import confirm_headers
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile

XSS = "<img src=x onerror=alert(1)>"


def create(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/contacts", json={"phone": sa_mobile(), **fields}, headers=api_headers(client)
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def upload(client: httpx.Client, text: str) -> httpx.Response:
    return client.post(
        "/api/v1/contacts/import",
        files={"file": ("contacts.csv", text.encode(), "text/csv")},
        headers=api_headers(client),
    )


def test_create_read_edit_a_contact_with_every_field(client: httpx.Client) -> None:
    sign_up(client)
    created = create(
        client,
        name="  Naledi Dlamini ",
        phone="082 555 1234",
        email="Naledi@Example.co.za",
        address="12 Jacaranda St\nPretoria",
        tags="VIP, geyser repair, vip",
        notes="Gate code 4411",
    )
    assert created["phone"] == "+27825551234"
    assert created["name"] == "Naledi Dlamini" and created["display_name"] == "Naledi Dlamini"
    assert created["tags"] == ["vip", "geyser-repair"]
    assert created["address"] == "12 Jacaranda St\nPretoria"
    contact = client.get(f"/api/v1/contacts/{created['id']}").json()
    assert contact["notes"] == "Gate code 4411" and contact["conversations"] == []

    patched = client.patch(
        f"/api/v1/contacts/{created['id']}",
        json={"email": "", "tags": ["regular"]},
        headers=api_headers(client),
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["email"] == "" and patched.json()["tags"] == ["regular"]
    assert patched.json()["name"] == "Naledi Dlamini", "fields left out stay as they were"


def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(
    client: httpx.Client,
) -> None:
    sign_up(client)
    existing = create(client, name="First")
    bad_phone = client.post(
        "/api/v1/contacts", json={"phone": "12345"}, headers=api_headers(client)
    )
    assert bad_phone.status_code == 422
    assert "phone" in bad_phone.json()["error"]["fields"]
    taken = client.post(
        "/api/v1/contacts",
        json={"phone": existing["phone"], "name": "Second"},
        headers=api_headers(client),
    )
    assert taken.status_code == 422
    assert "First already has this number" in taken.json()["error"]["fields"]["phone"]
    bad_email = client.patch(
        f"/api/v1/contacts/{existing['id']}",
        json={"email": "not an email", "name": "Changed"},
        headers=api_headers(client),
    )
    assert bad_email.status_code == 422
    assert client.get(f"/api/v1/contacts/{existing['id']}").json()["name"] == "First"
    assert len(client.get("/api/v1/contacts").json()) == 1


def test_search_by_name_phone_email_and_tag_and_keyset_pages(client: httpx.Client) -> None:
    sign_up(client)
    sipho = create(client, name="Sipho Nkosi", phone="+27821110001", email="sipho@geyser.co.za")
    create(client, name="Thandi Mokoena", phone="+27831110002", tags=["plumbing"])
    for number in range(5):
        create(client, name=f"Zz Filler {number}", phone=f"+2784999000{number}")

    def names(q: str) -> list[str]:
        found = client.get("/api/v1/contacts", params={"q": q}).json()
        return [c["name"] for c in found]

    assert names("sip") == ["Sipho Nkosi"]
    assert names("nkosi sipho") == ["Sipho Nkosi"]
    assert names("082 111") == ["Sipho Nkosi"], "national format, as typed"
    assert names("+27 82 111 0001") == ["Sipho Nkosi"]
    assert names("geyser.co") == ["Sipho Nkosi"], "email parts"
    assert names("plumb") == ["Thandi Mokoena"], "tags"
    assert names("nobody-like-this") == []

    first = client.get("/api/v1/contacts", params={"limit": 3})
    assert [c["name"] for c in first.json()] == ["Sipho Nkosi", "Thandi Mokoena", "Zz Filler 0"]
    link = re.search(r"<([^>]+)>; rel=\"next\"", first.headers["link"])
    assert link
    second = client.get(link.group(1))
    assert [c["name"] for c in second.json()] == ["Zz Filler 1", "Zz Filler 2", "Zz Filler 3"]
    last = client.get(re.search(r"<([^>]+)>", second.headers["link"]).group(1))  # type: ignore[union-attr]
    assert [c["name"] for c in last.json()] == ["Zz Filler 4"] and "link" not in last.headers
    assert client.get("/api/v1/contacts", params={"cursor": "garbage!"}).status_code == 422
    assert sipho["id"] in {c["id"] for c in client.get("/api/v1/contacts").json()}


def test_search_uses_the_tenant_scoped_index(
    client: httpx.Client, owner_conn: psycopg.Connection
) -> None:
    account = sign_up(client)
    create(client, name="Indexed Person")
    owner_conn.execute("set enable_seqscan = off")
    plan = "\n".join(
        row[0]
        for row in owner_conn.execute(
            "explain select id from contacts where search @@ to_tsquery('simple', %s)",
            (f"t{account.tenant_id.hex} & indexed:*A",),
        ).fetchall()
    )
    assert "ix_contacts_search" in plan
    found = owner_conn.execute(
        "select count(*) from contacts where search @@ to_tsquery('simple', %s)",
        (f"t{account.tenant_id.hex} & indexed:*A",),
    ).fetchone()
    assert found == (1,)


def test_another_tenants_contact_is_not_found_anywhere(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as a, httpx.Client(base_url=live_server.url) as b:
        sign_up(a)
        theirs = create(a, name="Private Person")
        spare = create(a, name="Also Private")
        sign_up(b)
        mine = create(b, name="Mine")
        cid = theirs["id"]
        assert b.get(f"/api/v1/contacts/{cid}").status_code == 404
        assert (
            b.patch(
                f"/api/v1/contacts/{cid}", json={"name": "x"}, headers=api_headers(b)
            ).status_code
            == 404
        )
        assert b.delete(f"/api/v1/contacts/{cid}", headers=confirm_headers(b)).status_code == 404
        merge_in = b.post(
            f"/api/v1/contacts/{mine['id']}/merge",
            json={"duplicate_id": cid},
            headers=api_headers(b),
        )
        assert merge_in.status_code == 404
        merge_onto = b.post(
            f"/api/v1/contacts/{cid}/merge",
            json={"duplicate_id": spare["id"]},
            headers=api_headers(b),
        )
        assert merge_onto.status_code == 404
        assert b.get(f"/contacts/{cid}").status_code == 404
        assert b.get(f"/contacts/{cid}/edit").status_code == 404
        edit = post_form(b, f"/contacts/{cid}", {"phone": sa_mobile()}, csrf_page="/contacts")
        assert edit.status_code == 404
        merge_page = post_form(
            b, f"/contacts/{cid}/merge", {"duplicate_phone": mine["phone"]}, csrf_page="/contacts"
        )
        assert merge_page.status_code == 404
        assert b.get(f"/contacts/{cid}/panel").status_code == 404
        panel = post_form(
            b, f"/contacts/{cid}/panel", {"phone": sa_mobile()}, csrf_page="/contacts"
        )
        assert panel.status_code == 404
        assert "Private Person" not in b.get("/contacts", params={"q": "private"}).text
        assert b.get("/api/v1/contacts", params={"q": "private"}).json() == []
        assert a.get(f"/api/v1/contacts/{cid}").json()["name"] == "Private Person"
        assert a.get(f"/api/v1/contacts/{spare['id']}").status_code == 200


def test_a_post_without_the_csrf_token_is_refused(client: httpx.Client) -> None:
    sign_up(client)
    contact = create(client, name="Kept")
    phone = sa_mobile()
    assert client.post("/contacts", data={"phone": phone}).status_code == 403
    assert client.post("/api/v1/contacts", json={"phone": phone}).status_code == 403
    assert (
        client.post(
            f"/contacts/{contact['id']}", data={"name": "Hacked", "phone": phone}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/contacts/import", files={"file": ("c.csv", f"phone\n{phone}\n".encode(), "text/csv")}
        ).status_code
        == 403
    )
    assert client.get(f"/api/v1/contacts/{contact['id']}").json()["name"] == "Kept"
    assert client.get("/api/v1/contacts", params={"q": phone}).json() == []


def test_pages_create_edit_and_show_a_name_with_markup_escaped(client: httpx.Client) -> None:
    sign_up(client)
    created = post_form(
        client,
        "/contacts",
        {"name": XSS, "phone": "0825550000", "tags": "a, b"},
        csrf_page="/contacts/new",
    )
    assert created.status_code == 303
    location = created.headers["location"]
    page = client.get(location).text
    listing = client.get("/contacts").text
    for html in (page, listing):
        assert XSS not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
    contact_id = location.split("/")[2].split("?")[0]
    bad = post_form(
        client, f"/contacts/{contact_id}", {"name": "Renamed", "phone": "99"}, csrf_page=location
    )
    assert bad.status_code == 422 and "phone number" in bad.text
    assert client.get(f"/api/v1/contacts/{contact_id}").json()["name"] == XSS
    good = post_form(
        client,
        f"/contacts/{contact_id}",
        {
            "name": "Renamed",
            "phone": "+27 82 555 0000",
            "email": "r@example.co.za",
            "address": "1 Main Rd",
            "notes": "hi",
            "tags": "x",
        },
        csrf_page=location,
    )
    assert good.status_code == 303
    contact = client.get(f"/api/v1/contacts/{contact_id}").json()
    assert (contact["name"], contact["address"], contact["tags"]) == ("Renamed", "1 Main Rd", ["x"])
    search = client.get("/contacts", params={"q": "renamed"}, headers={"hx-request": "true"})
    assert "Renamed" in search.text and "<html" not in search.text


def test_csv_import_with_bad_rows_reports_every_one_and_imports_nothing(
    client: httpx.Client,
) -> None:
    sign_up(client)
    existing = create(client, name="Old Name", phone="+27825550101", tags=["old"])
    good = sa_mobile()
    bad = "name,phone,email\n" + "\n".join(
        [
            f"Good One,{good},good@example.co.za",
            "No Number,not-a-number,",
            f"Twice,{good},",
            "Bad Email,0825550199,nope",
        ]
    )
    response = upload(client, bad)
    assert response.status_code == 422
    rows = response.json()["rows"]
    assert {(r["row"], r["field"]) for r in rows} == {(3, "phone"), (4, "phone"), (5, "email")}
    assert "Same phone number as row 2" in next(r["message"] for r in rows if r["row"] == 4)
    assert client.get("/api/v1/contacts", params={"q": good}).json() == [], "nothing imported"

    fixed = (
        "Name;Mobile;Tags;Notes\n"
        f"Good One;{good};new, vip;\n"
        f"New Name;{existing['phone']};;Updated note\n"
        "Excel Lost The Plus;27825550102;;\n"
    )
    done = upload(client, fixed)
    assert done.status_code == 200, done.text
    assert done.json() == {"created": 2, "updated": 1, "errors": []}
    updated = client.get(f"/api/v1/contacts/{existing['id']}").json()
    assert updated["name"] == "New Name" and updated["notes"] == "Updated note"
    assert updated["tags"] == ["old"], "an empty cell keeps what the contact had"
    assert client.get("/api/v1/contacts", params={"q": "27825550102"}).json()[0]["name"] == (
        "Excel Lost The Plus"
    )


def test_csv_import_page_reports_rows_and_limits(client: httpx.Client) -> None:
    sign_up(client)
    token = page_csrf(client, "/contacts/import")
    page = client.post(
        "/contacts/import",
        data={"csrf_token": token},
        files={"file": ("c.csv", b"name,phone\nA,123\n", "text/csv")},
    )
    assert page.status_code == 422
    assert "Nothing was imported" in page.text and "<td>2</td>" in page.text
    no_phone_column = client.post(
        "/contacts/import",
        data={"csrf_token": token},
        files={"file": ("c.csv", b"name,email\nA,a@b.co\n", "text/csv")},
    )
    assert no_phone_column.status_code == 422 and "phone" in no_phone_column.text
    too_big = client.post(
        "/contacts/import",
        data={"csrf_token": token},
        files={"file": ("c.csv", b"phone\n" + b"0825550000\n" * 500_000, "text/csv")},
    )
    assert too_big.status_code == 413 and "larger than 5 MB" in too_big.text
    api_too_big = upload(client, "phone\n" + "0825550000\n" * 500_000)
    assert api_too_big.status_code == 413 and api_too_big.json()["error"]["code"] == "too_large"
    assert client.get("/api/v1/contacts").json() == []


def test_csv_export_neutralises_formulas_and_round_trips(client: httpx.Client) -> None:
    sign_up(client)
    create(client, name='=HYPERLINK("http://evil")', phone="+27825550301", notes="@SUM(A1)")
    create(client, name="-2+3", phone="+27825550302", address="+1 Main Rd")
    response = client.get("/api/v1/contacts/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text.removeprefix(csv_safe.BOM))))
    assert rows[0][:3] == ["name", "phone", "email"]
    cells = [cell for row in rows[1:] for cell in row]
    assert not [c for c in cells if csv_safe.is_formula_start(c)]
    assert '\'=HYPERLINK("http://evil")' in cells and "'@SUM(A1)" in cells
    assert "'-2+3" in cells and "'+1 Main Rd" in cells
    # A phone number is a value, not a formula: written as people read it, no apostrophe.
    assert "+27 82 555 0301" in cells
    assert client.get("/contacts/export").text == response.text

    reimported = upload(client, response.text)
    assert reimported.json() == {"created": 0, "updated": 2, "errors": []}
    again = client.get("/api/v1/contacts", params={"q": "0825550301"}).json()
    assert again[0]["name"] == '=HYPERLINK("http://evil")', "the apostrophe is not imported"


def test_csv_safe_neutralises_every_formula_start() -> None:
    for cell in ("=1", "+1+1", "-A1", "-1-1", "+(1)", "@SUM(1)", "\t1", "\r1", "+", "-"):
        assert csv_safe.neutralise(cell) == f"'{cell}"
        assert csv_safe.restore(csv_safe.neutralise(cell)) == cell
    for value in ("+27 82 123 4567", "+27821234567", "-12.50", "-1 150,00"):
        assert csv_safe.neutralise(value) == value
    assert csv_safe.neutralise("Sipho") == "Sipho" and csv_safe.neutralise(None) == ""
    assert csv_safe.restore("'quoted") == "'quoted"


def test_agents_cannot_export_or_delete_and_only_unused_contacts_are_deleted(
    client: httpx.Client, live_server: LiveServer, standin: StandinServer
) -> None:
    sign_up(client)
    unused = create(client, name="Unused")
    phone = sa_mobile()
    with httpx.Client(base_url=live_server.url) as agent:
        invite_and_join(client, agent, role="agent")
        assert agent.get("/api/v1/contacts/export").status_code == 403
        assert agent.get("/contacts/export").status_code == 403
        refused = agent.delete(f"/api/v1/contacts/{unused['id']}", headers=confirm_headers(agent))
        assert refused.status_code == 403
        assert agent.get(f"/api/v1/contacts/{unused['id']}").json()["name"] == "Unused"
    channel = connect_channel(client, standin)
    customer_says(standin, channel, phone)
    used = conversation_with(client, phone)["contact"]
    in_use = client.delete(f"/api/v1/contacts/{used['id']}", headers=confirm_headers(client))
    assert in_use.status_code == 409 and "Merge" in in_use.json()["error"]["message"]
    deleted = client.delete(f"/api/v1/contacts/{unused['id']}", headers=confirm_headers(client))
    assert deleted.status_code == 204
    assert client.get(f"/api/v1/contacts/{unused['id']}").status_code == 404
    assert client.get(f"/api/v1/contacts/{used['id']}").status_code == 200


def test_the_contact_panel_for_the_inbox_edits_in_place(client: httpx.Client) -> None:
    sign_up(client)
    contact = create(client, name=XSS, notes="Likes mornings")
    path = f"/contacts/{contact['id']}/panel"
    panel = client.get(path, headers={"hx-request": "true"})
    assert panel.status_code == 200 and "<html" not in panel.text
    assert XSS not in panel.text and "&lt;img src=x onerror=alert(1)&gt;" in panel.text
    assert "Likes mornings" in panel.text
    headers = {"hx-request": "true", **api_headers(client)}
    refused = client.post(path, data={"name": "No token", "phone": contact["phone"]})
    assert refused.status_code == 403
    bad = client.post(path, data={"name": "Changed", "phone": "0"}, headers=headers)
    assert bad.status_code == 200 and "phone number" in bad.text and 'value="Changed"' in bad.text
    assert client.get(f"/api/v1/contacts/{contact['id']}").json()["name"] == XSS
    good = client.post(
        path,
        data={"name": "Changed", "phone": contact["phone"], "tags": "vip", "notes": "Gate 12"},
        headers=headers,
    )
    assert good.status_code == 200 and "Saved." in good.text and "Gate 12" in good.text
    saved = client.get(f"/api/v1/contacts/{contact['id']}").json()
    assert (saved["name"], saved["tags"], saved["notes"]) == ("Changed", ["vip"], "Gate 12")


def test_import_and_export_stay_inside_the_tenant(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as a, httpx.Client(base_url=live_server.url) as b:
        sign_up(a)
        theirs = create(a, name="Tenant A Person", notes="A's note")
        sign_up(b)
        done = upload(b, f"name,phone,notes\nTenant B Person,{theirs['phone']},B's note\n")
        assert done.json() == {"created": 1, "updated": 0, "errors": []}
        assert a.get(f"/api/v1/contacts/{theirs['id']}").json()["notes"] == "A's note"
        exported = b.get("/api/v1/contacts/export").text
        assert "Tenant B Person" in exported and "Tenant A Person" not in exported


def test_parse_csv_counts_spreadsheet_rows_and_reads_excel_files() -> None:
    text = (
        'name,phone,notes\r\n\r\n"Multi\nLine",082 555 0001,"a, b"\r\nBad,0,\r\n'
        "Zoë Cp1252,082 555 0002,\r\n"
    )
    rows, errors = csv_io.parse_csv(text.encode("cp1252"))
    assert [r.contact.name for r in rows] == ["Multi\nLine", "Zoë Cp1252"]
    assert [(e.row, e.field) for e in errors] == [(4, "phone")], "blank row 2 still counts"
    with pytest.raises(InvalidInput, match="phone"):
        csv_io.parse_csv(b"name,email\nA,a@example.co.za\n")
    with pytest.raises(InvalidInput, match="at most 20,000"):
        csv_io.parse_csv(("phone\n" + "0825550000\n" * 20_001).encode())


def test_a_large_import_runs_as_a_job_with_progress_and_stays_all_or_nothing(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    queued = upload(client, many_rows(imports.SYNC_ROW_LIMIT + 100, bad_row=400))
    assert queued.status_code == 202, queued.text
    status_url = queued.headers["location"]
    assert queued.json()["state"] == "queued" and queued.json()["total"] == 600
    live_server.run_jobs()
    status = client.get(status_url).json()
    assert status["state"] == "done" and status["checked"] == 600
    assert [(e["row"], e["field"]) for e in status["result"]["errors"]] == [(400, "phone")]
    assert client.get("/api/v1/contacts", params={"q": "bulk"}).json() == [], "nothing imported"

    good = upload(client, many_rows(600))
    assert good.status_code == 202
    live_server.run_jobs()
    done = client.get(good.headers["location"]).json()
    assert done["state"] == "done"
    assert done["result"] == {"created": 600, "updated": 0, "errors": []}
    listed = client.get("/api/v1/contacts", params={"q": "bulk", "limit": 500})
    assert len(listed.json()) == 500 and "link" in listed.headers
    page = client.get(f"/contacts/import/{done['id']}")
    assert page.status_code == 200 and "600 new contacts" in page.text

    with httpx.Client(base_url=live_server.url) as other:
        sign_up(other)
        assert other.get(good.headers["location"]).status_code == 404
        assert other.get(f"/contacts/import/{done['id']}/status").status_code == 404


def test_a_large_import_whose_upload_expired_says_so(
    client: httpx.Client, live_server: LiveServer, redis_client: sync_redis.Redis
) -> None:
    account = sign_up(client)
    queued = upload(client, many_rows(imports.SYNC_ROW_LIMIT + 1))
    assert queued.status_code == 202
    import_id = queued.json()["id"]
    assert redis_client.delete(f"contacts-import:{account.tenant_id}:{import_id}:file") == 1
    live_server.run_jobs()
    status = client.get(queued.headers["location"]).json()
    assert status["state"] == "failed" and "expired" in status["problem"]
    page = client.get(f"/contacts/import/{import_id}/status")
    assert "expired" in page.text and "hx-trigger" not in page.text, "polling stops"
    assert client.get("/api/v1/contacts", params={"q": "bulk"}).json() == []
