"""Migration 0015 moves the files of a database at 0014 from DATA_DIR/media into PostgreSQL:
checked against what their rows recorded, read back after writing, removed from disk; a
corrupted file is reported and left where it is, and a missing one is said to be missing.
(Without a media folder there is nothing to move: every test session's own migration.)"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest
from alembic import command
from psycopg import sql

from clientcompass.config import with_database
from clientcompass.files import CHUNK_SIZE
from clientcompass.migrate import alembic_config
from tests.conftest import Databases


@pytest.fixture
def database_at_0014(migrated: Databases) -> Iterator[str]:
    name = f"cc_files_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(migrated.owner_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_database(migrated.owner_url, name)
    command.upgrade(alembic_config(url), "0014")
    yield url
    with psycopg.connect(migrated.owner_url, autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (name,)
        )
        conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))


def write(media: Path, key: str, data: bytes) -> Path:
    path = media / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_files_move_in_verified_and_a_corrupted_one_is_reported_and_left(
    database_at_0014: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    media = tmp_path / "data" / "media"
    t, contact, channel, conversation, message = (uuid.uuid4() for _ in range(5))
    good_doc, bad_doc = uuid.uuid4(), uuid.uuid4()
    photo, short, gone, outbound = (uuid.uuid4() for _ in range(4))
    pdf = b"%PDF-1.7 issued\n" + os.urandom(3000)
    tampered = b"%PDF-1.7 issued\n" + os.urandom(3000)
    big = os.urandom(2 * CHUNK_SIZE + 777)
    upload = b"\x89PNG\r\n\x1a\n" + os.urandom(500)
    paths = {
        "good_doc": write(media, f"{t}/documents/{good_doc}.pdf", pdf),
        "bad_doc": write(media, f"{t}/documents/{bad_doc}.pdf", tampered),
        "photo": write(media, f"{t}/{photo}", big),
        "short": write(media, f"{t}/{short}", b"x" * 90),
        "outbound": write(media, f"{t}/out/{outbound}", upload),
    }
    with psycopg.connect(database_at_0014, autocommit=True) as conn:
        conn.execute("insert into tenants (id, name) values (%s, 'Old files')", (t,))
        conn.execute(
            "insert into contacts (tenant_id, id, phone_e164, wa_id, profile_name, name, email) "
            "values (%s, %s, '+27820000001', '', '', 'Sipho', '')",
            (t, contact),
        )
        conn.execute(
            "insert into channels (tenant_id, id, provider, name, account_sid, auth_token_sealed, "
            "whatsapp_from, messaging_service_sid, webhook_key, sends_per_second) values "
            "(%s, %s, 'twilio', 'Main', 'AC1', 'x', 'whatsapp:+27820000002', '', %s, 1)",
            (t, channel, uuid.uuid4().hex),
        )
        conn.execute(
            "insert into conversations (tenant_id, id, channel_id, contact_id, status, "
            "last_message_preview, unread_count) values (%s, %s, %s, %s, 'open', '', 0)",
            (t, conversation, channel, contact),
        )
        conn.execute(
            "insert into messages (tenant_id, id, conversation_id, channel_id, direction, body, "
            "media, content_sid, content_variables, details, status, status_times, "
            "error_message, send_attempts) values (%s, %s, %s, %s, 'inbound', '', '[]', '', "
            "'{}', '{}', 'received', '{}', '', 0)",
            (t, message, conversation, channel),
        )
        for document, data in ((good_doc, pdf), (bad_doc, pdf)):  # both recorded `pdf`'s hash
            conn.execute(
                "insert into documents (tenant_id, id, kind, status, number, contact_id, "
                "recipient_name, recipient_vat_number, billing_address, service_address, "
                "job_description, price_mode, rounding, vat_rate_bp, issue_date, terms, notes, "
                "deposit_percent, subtotal_excl_cents, vat_cents, total_cents, discount_cents, "
                "paid_cents, credited_cents, invoice_part, reason, pdf_key, pdf_sha256) values "
                "(%s, %s, 'invoice', 'finalised', %s, %s, 'Sipho', '', '', '', '', 'exclusive', "
                "'line', 1500, '2024-02-29', '', '', 0, 0, 0, 0, 0, 0, 0, '', '', %s, %s)",
                (
                    t,
                    document,
                    f"INV-{document.hex[:6]}",
                    contact,
                    f"{t}/documents/{document}.pdf",
                    hashlib.sha256(data).hexdigest(),
                ),
            )
        for media_id, message_id, size, key in (
            (photo, message, len(big), f"{t}/{photo}"),
            (short, message, 100, f"{t}/{short}"),  # the row says 100 bytes; 90 on disk
            (gone, message, 10, f"{t}/{gone}"),  # no file at all
            (outbound, None, len(upload), f"{t}/out/{outbound}"),
        ):
            conn.execute(
                "insert into message_media (tenant_id, id, message_id, position, content_type, "
                "size, filename, source_url, storage_key, state, error) values "
                "(%s, %s, %s, 0, 'image/png', %s, '', '', %s, 'stored', '')",
                (t, media_id, message_id, size, key),
            )

    config = alembic_config(database_at_0014)
    config.attributes["data_dir"] = tmp_path / "data"
    with caplog.at_level(logging.INFO, logger="alembic"):
        command.upgrade(config, "0015")
    report = caplog.text

    with psycopg.connect(database_at_0014, autocommit=True) as conn:

        def stored(file_id: uuid.UUID) -> bytes:
            rows = conn.execute(
                "select data from file_chunks where tenant_id = %s and file_id = %s order by seq",
                (t, file_id),
            ).fetchall()
            return b"".join(bytes(row[0]) for row in rows)

        [(pdf_file, retention, keep, sha, pdf_key)] = conn.execute(
            "select f.id, f.retention::text, f.keep_until, f.sha256, d.pdf_key from files f "
            "join documents d on d.tenant_id = f.tenant_id and d.id = f.document_id"
        ).fetchall()
        assert (retention, keep, pdf_key) == ("legal_hold", date(2029, 2, 28), "")
        assert stored(pdf_file) == pdf and sha == hashlib.sha256(pdf).hexdigest()
        for media_id, data in ((photo, big), (outbound, upload)):
            [(file_id, key, state)] = conn.execute(
                "select file_id, storage_key, state::text from message_media where id = %s",
                (media_id,),
            ).fetchall()
            assert (key, state) == ("", "stored") and stored(file_id) == data
        chunks = conn.execute(
            "select count(*) from file_chunks c join message_media m on m.file_id = c.file_id "
            "where m.id = %s",
            (photo,),
        ).fetchone()
        assert chunks == (3,)
        for name in ("good_doc", "photo", "outbound"):
            assert not paths[name].exists(), f"{name} was moved, so it is gone from disk"

        # Corrupted: reported, left on disk, its row still pointing at it, nothing imported.
        for name in ("bad_doc", "short"):
            assert (
                paths[name].exists()
                and f"CORRUPTED, not imported, left in place: {paths[name]}" in report
            )
        assert paths["bad_doc"].read_bytes() == tampered
        assert conn.execute(
            "select pdf_key from documents where id = %s", (bad_doc,)
        ).fetchone() == (f"{t}/documents/{bad_doc}.pdf",)
        assert conn.execute(
            "select file_id, storage_key from message_media where id = %s", (short,)
        ).fetchone() == (None, f"{t}/{short}")
        assert conn.execute("select count(*) from files").fetchone() == (3,)
        # Missing: said so, and the thread shows it as not downloadable.
        assert f"the file of media {gone} is missing" in report
        assert conn.execute(
            "select state::text from message_media where id = %s", (gone,)
        ).fetchone() == ("failed",)
        assert "moved 3 files into the database; 2 corrupted, 1 missing" in report
