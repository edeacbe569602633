"""`clientcompass retention`: per rule, what it would delete (`--dry-run`) or deleted, as JSON
with `--json` and as a line per rule without."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg

from clientcompass.config import Settings
from clientcompass.lifecycle import retention
from tests.conftest import settings_env
from tests.retention.test_rules import exists, plant_tokens
from tests.support import factories


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clientcompass", "retention", *args],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_dry_run_counts_and_the_run_deletes_as_json(
    settings: Settings, owner_conn: psycopg.Connection
) -> None:
    business = factories.business_with_owner(settings)
    planted = plant_tokens(
        owner_conn, business.tenant_id, business.user_id, datetime.now(UTC) - timedelta(days=40)
    )
    table, expired = planted["invitation_expired"]

    dry = cli(settings, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert report["dry_run"] is True
    assert [item["rule"] for item in report["rules"]] == [rule.name for rule in retention.RULES]
    by_rule = {item["rule"]: item for item in report["rules"]}
    for item in report["rules"]:
        assert set(item) >= {"rule", "removes", "keep_days", "before", "would_delete"}
        assert isinstance(item["would_delete"], int) and "deleted" not in item
        datetime.fromisoformat(item["before"])
    assert by_rule["invitations"]["keep_days"] == 30 and by_rule["invitations"]["would_delete"] >= 3
    assert by_rule["finished_jobs"]["keep_days"] == 7
    assert by_rule["webhook_deliveries"]["keep_days"] == 90
    assert by_rule["temporary_media"]["keep_days"] == settings.media_retention_days
    assert by_rule["temporary_media"]["handled_by"].startswith("whatsapp.purge_expired_media")
    assert exists(owner_conn, business.tenant_id, table, expired), "the dry run deleted it"

    done = cli(settings, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["dry_run"] is False
    by_rule = {item["rule"]: item for item in report["rules"]}
    assert by_rule["invitations"]["deleted"] >= 3 and by_rule["password_resets"]["deleted"] >= 2
    assert "would_delete" in by_rule["temporary_media"], "media are the hourly purge's"
    assert not exists(owner_conn, business.tenant_id, table, expired)
    table, pending = planted["invitation_pending"]
    assert exists(owner_conn, business.tenant_id, table, pending)

    human = cli(settings, "--dry-run")
    assert human.returncode == 0, human.stderr
    lines = human.stdout.strip().splitlines()
    assert len(lines) == len(retention.RULES)
    assert lines[1].startswith("invitations: 0 would be deleted (kept 30 days")
