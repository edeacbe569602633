"""Retention: WhatsApp media are temporary and purged after MEDIA_RETENTION_DAYS (batched,
idempotent, the thread then says "media expired"); an issued document's PDF is on legal
hold for 5 years from issue, which the purge never touches and the database enforces."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import psycopg
import pytest

from clientcompass.config import Settings
from clientcompass.whatsapp import media
from tests.conftest import LiveServer, StandinServer
from tests.files.helpers import big_png, upload
from tests.support import factories
from tests.support.documents import finalised, vat_business
from tests.support.jobs import run_jobs_until
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def media_states(conn: psycopg.Connection, tenant_id: uuid.UUID) -> list[tuple[str, bool]]:
    return [
        (state, file_id is not None)
        for state, file_id in conn.execute(
            "select state::text, file_id from message_media where tenant_id = %s order by created_at",
            (tenant_id,),
        )
    ]


def temporary_files(conn: psycopg.Connection, tenant_id: uuid.UUID) -> int:
    row = conn.execute(
        "select count(*) from files where tenant_id = %s and retention = 'temporary'", (tenant_id,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def purge(settings: Settings, now: datetime, **options: int) -> int:
    return factories.run(
        settings,
        lambda services: media.purge_expired(
            services.unit_of_work, now, settings.media_retention_days, **options
        ),
    )


def test_media_are_purged_after_the_retention_period_and_issued_pdfs_are_kept(
    live_server: LiveServer,
    settings: Settings,
    standin: StandinServer,
    owner_conn: psycopg.Connection,
    app_conn: psycopg.Connection,
) -> None:
    # The purge works across tenants, oldest first: the media earlier tests left in this
    # session's database would take the bounded batches below, so they go first.
    purge(settings, datetime.now(UTC) + timedelta(days=settings.media_retention_days + 1))
    with httpx.Client(base_url=live_server.url, timeout=20) as client:
        account, headers = vat_business(client)
        tenant = account.tenant_id
        channel = connect_channel(client, standin)
        phone = sa_mobile()
        customer_says(
            standin,
            channel,
            phone,
            "",
            media=[{"content_type": "image/png", "data_base64": base64.b64encode(PNG).decode()}],
        )
        run_jobs_until(
            live_server,
            lambda: media_states(owner_conn, tenant) == [("stored", True)],
            message="the inbound photo stored",
        )
        upload(client, big_png())
        upload(client, PNG + b"\x00" * 10)
        invoice = finalised(client, headers, "invoices")
        pdf = client.get(f"/api/v1/invoices/{invoice['id']}/pdf").content
        assert temporary_files(owner_conn, tenant) == 3
        kept = owner_conn.execute(
            "select retention::text, keep_until from files where document_id = %s",
            (uuid.UUID(invoice["id"]),),
        ).fetchone()
        issued = date.fromisoformat(invoice["issue_date"])
        assert kept == ("legal_hold", issued.replace(year=issued.year + 5))

        now = datetime.now(UTC)
        assert purge(settings, now) == 0, "nothing of today is due yet"
        assert temporary_files(owner_conn, tenant) == 3

        # The clock moves past the retention period. One bounded run takes one batch only.
        later = now + timedelta(days=settings.media_retention_days, hours=1)
        assert purge(settings, later, batch=1, max_batches=1) == 1
        # The periodic job, as the scheduler runs it at that later time, does the rest.
        factories.run(
            settings,
            lambda services: services.job_app.configure_task(media.PURGE_TASK).defer_async(
                timestamp=int(later.timestamp()), batch=2
            ),
        )
        live_server.run_jobs()
        assert temporary_files(owner_conn, tenant) == 0
        assert media_states(owner_conn, tenant) == [("expired", False)] * 3
        assert purge(settings, later) == 0, "a second run finds nothing: idempotent"
        assert media_states(owner_conn, tenant) == [("expired", False)] * 3

        # The thread says so, and the file is gone from its route.
        conversation = conversation_with(client, phone)
        page = client.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
        [item] = page["messages"][0]["media"]
        assert item["state"] == "expired"
        assert client.get(item["url"]).status_code == 404

        # The invoice's PDF is untouched, byte for byte, even years on.
        assert purge(settings, now + timedelta(days=4 * 365)) == 0
        again = client.get(f"/api/v1/invoices/{invoice['id']}/pdf")
        assert again.content == pdf and hashlib.sha256(pdf).hexdigest() == invoice["pdf_sha256"]

    # No code path may delete it early: the database refuses, even the owner's own cascade.
    with pytest.raises(psycopg.errors.RestrictViolation), app_conn.transaction():
        app_conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant),))
        app_conn.execute("delete from files where document_id = %s", (uuid.UUID(invoice["id"]),))
    with pytest.raises(psycopg.errors.RestrictViolation), app_conn.transaction():
        app_conn.execute("select set_config('app.tenant_id', %s, true)", (str(tenant),))
        app_conn.execute("update file_chunks set data = 'x' where tenant_id = %s", (tenant,))
