"""A tenant never reads another tenant's file: not with raw SQL as the app's role (RLS on
`files` and `file_chunks`), and not through any download route with its own session and
the other tenant's ids."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

from clientcompass import links
from clientcompass.config import Settings
from clientcompass.whatsapp import outbound_media
from tests.conftest import LiveServer
from tests.files.helpers import big_png, upload
from tests.support.documents import finalised, token_for, vat_business, with_tenant


def tenant_of(client: httpx.Client) -> uuid.UUID:
    return uuid.UUID(client.get("/api/v1/me").json()["tenant_id"])


def test_another_tenants_files_are_invisible_to_sql_and_to_every_download_route(
    live_server: LiveServer,
    settings: Settings,
    owner_conn: psycopg.Connection,
    app_conn: psycopg.Connection,
) -> None:
    with (
        httpx.Client(base_url=live_server.url, timeout=20) as mine,
        httpx.Client(base_url=live_server.url, timeout=20) as theirs,
    ):
        _, my_headers = vat_business(mine)
        _, their_headers = vat_business(theirs)
        me, them = tenant_of(mine), tenant_of(theirs)
        my_invoice = finalised(mine, my_headers, "invoices")
        their_invoice = with_tenant(theirs, finalised(theirs, their_headers, "invoices"))
        their_media = upload(theirs, big_png(4096))
        their_files = [
            row[0]
            for row in owner_conn.execute(
                "select id from files where tenant_id = %s order by created_at", (them,)
            )
        ]
        assert len(their_files) == 2  # the invoice's PDF and the upload

        # Raw SQL as the app's role, scoped to my business: nothing of theirs exists.
        with app_conn.transaction():
            app_conn.execute("select set_config('app.tenant_id', %s, true)", (str(me),))
            seen = app_conn.execute(
                "select count(*) from files where id = any(%s)", (their_files,)
            ).fetchone()
            chunks = app_conn.execute(
                "select count(*) from file_chunks where file_id = any(%s)", (their_files,)
            ).fetchone()
            assert seen == (0,) and chunks == (0,)
            assert app_conn.execute("select count(*) from file_chunks").fetchone() != (0,)
        with app_conn.transaction():  # no tenant set: no rows at all
            assert app_conn.execute("select count(*) from file_chunks").fetchone() == (0,)
            assert app_conn.execute("select count(*) from files").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
            app_conn.execute("select set_config('app.tenant_id', %s, true)", (str(me),))
            app_conn.execute(  # writing a chunk into their file from my business
                "insert into file_chunks (tenant_id, file_id, seq, data) values (%s, %s, 99, 'x')",
                (them, their_files[0]),
            )

        # Every download route, with my session and their ids.
        for path in (
            f"/api/v1/invoices/{their_invoice['id']}/pdf",
            f"/invoices/{their_invoice['id']}/pdf",
            f"/media/{their_media['id']}",
        ):
            answer = mine.get(path)
            assert answer.status_code == 404, (path, answer.status_code)
            assert b"%PDF" not in answer.content and answer.content != big_png(4096)
        # A signed file address is checked against the tenant it names: mine, their media.
        forged = outbound_media.signed_token(settings.secret_key, me, uuid.UUID(their_media["id"]))
        with httpx.Client(base_url=live_server.url, timeout=20) as anyone:
            assert anyone.get(f"/m/{forged}/x.png").status_code == 404
            # The customer's link opens my invoice; one for theirs not signed by us does not.
            token = token_for(settings, with_tenant(mine, my_invoice))
            assert anyone.get(f"/d/{token}/pdf").status_code == 200
            forged_link = links.sign(
                "not-our-secret-" + "x" * 32,
                "document",
                them,
                uuid.UUID(their_invoice["id"]),
                lifetime=3600,
            )
            assert anyone.get(f"/d/{forged_link}/pdf").status_code == 404
        # Their own session still gets it: the 404s above are the wall, not a broken route.
        assert theirs.get(f"/api/v1/invoices/{their_invoice['id']}/pdf").status_code == 200
        assert theirs.get(f"/media/{their_media['id']}").status_code == 200
