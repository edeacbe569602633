"""No code path reads or writes document or media bytes under DATA_DIR: the data folder is
named only where the embedded servers and the development secrets live (read from the source,
as tests/core/test_architecture.py does)."""

from __future__ import annotations

import re
from pathlib import Path

import clientcompass

SOURCE = Path(clientcompass.__file__).parent
# Who may name the data folder, and why: the embedded PostgreSQL and Redis, the development
# secrets and the sandbox's stand-in state and demo password. Migration 0015 reads the old
# media folder once, to move it into the database.
ALLOWED = {
    "config.py",  # secret.key, encryption.key, twilio-standin.json
    "cli.py",  # the embedded servers
    "embedded.py",  # the embedded servers
    "sandbox/provision.py",  # the demo owner's password file (a development secret)
    "migrations/versions/2026-12-03-1331_files.py",  # the one-off move into the database
    "migrate.py",  # tells that migration where the folder is
}
DISK = re.compile(r"\bdata_dir\b|media_dir|LocalStorage|FileResponse|DATA_DIR")


def test_only_servers_secrets_and_the_move_name_the_data_folder() -> None:
    found = {
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*.py")
        if DISK.search(path.read_text())
    }
    assert found <= ALLOWED, sorted(found - ALLOWED)
    assert "migrations/versions/2026-12-03-1331_files.py" in found  # the check reads files


def test_document_and_media_code_touches_no_file_system() -> None:
    io = re.compile(r"read_bytes|write_bytes|\bopen\(|Path\(|shutil|os\.replace")
    offenders = [
        f"{path.relative_to(SOURCE)}:{number}"
        for folder in ("documents", "whatsapp")
        for path in (SOURCE / folder).rglob("*.py")
        if path.name not in {"pdf.py", "fonts.py", "render.py"}  # Typst's fonts and templates
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if io.search(line)
    ] + [
        f"{name}:{number}"
        for name in ("storage.py", "files.py")
        for number, line in enumerate((SOURCE / name).read_text().splitlines(), 1)
        if io.search(line)
    ]
    assert offenders == []
