"""The demo business `serve` provisions for the sandbox, and when the sandbox is allowed at all."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from clientcompass.auth.passwords import verify_password
from clientcompass.config import Environment, Settings
from clientcompass.errors import ConfigurationError
from clientcompass.sandbox.provision import DEMO_BUSINESS, DEMO_EMAIL
from tests.support.sandbox import demo_settings, provision


def test_sandbox_is_refused_in_production_and_on_by_default_in_development() -> None:
    production = Settings.model_validate({"env": Environment.PRODUCTION})
    assert not production.sandbox_enabled
    assert production.twilio_api_base_url == "https://api.twilio.com"
    with pytest.raises(ConfigurationError, match="SANDBOX=true is not allowed in production"):
        Settings.model_validate(
            {"env": Environment.PRODUCTION, "sandbox": True, "secret_key": "k" * 40}
        ).ensure_secrets()

    development = Settings.model_validate({"env": Environment.DEVELOPMENT, "port": 8123})
    assert development.sandbox_enabled and development.sandbox_is_built_in
    assert development.twilio_api_base_url == "http://127.0.0.1:8123/__twilio"
    assert development.twilio_content_base_url == "http://127.0.0.1:8123/__twilio"

    explicit = Settings.model_validate(
        {"env": Environment.DEVELOPMENT, "twilio_api_base_url": "http://127.0.0.1:9/"}
    )
    assert explicit.sandbox_enabled and not explicit.sandbox_is_built_in
    assert explicit.twilio_content_base_url == "https://content.twilio.com"
    assert not Settings.model_validate({"sandbox": False}).sandbox_enabled


def test_demo_tenant_is_provisioned_once_and_kept_wired(
    tmp_path: Path, settings: Settings, owner_conn: psycopg.Connection
) -> None:
    settings = demo_settings(settings, tmp_path)
    assert settings.sandbox_is_built_in
    first = provision(settings)
    second = provision(settings)
    # (`first` may find the demo another test provisioned already: only repeats are checked.)
    assert not second.created
    assert first.tenant_id == second.tenant_id and first.password == second.password
    assert (tmp_path / "demo-password.txt").read_text().strip() == first.password
    assert ((tmp_path / "demo-password.txt").stat().st_mode & 0o777) == 0o600

    users = owner_conn.execute(
        "select tenant_id, password_hash from users where email = %s", (DEMO_EMAIL,)
    ).fetchall()
    assert len(users) == 1 and users[0][0] == first.tenant_id
    assert verify_password(users[0][1], first.password)
    assert owner_conn.execute(
        "select name from tenants where id = %s", (first.tenant_id,)
    ).fetchone() == (DEMO_BUSINESS,)
    channels = owner_conn.execute(
        "select whatsapp_from, sends_per_second, webhook_key from channels "
        "where tenant_id = %s and is_sandbox",
        (first.tenant_id,),
    ).fetchall()
    assert len(channels) == 1
    # A first look is not empty: one customer who wrote twice, a numbered quote with its PDF
    # and a draft invoice; provisioning again adds none of it twice.
    counts = owner_conn.execute(
        "select (select count(*) from messages where tenant_id = %(t)s and direction = 'inbound'),"
        " (select count(*) from conversations where tenant_id = %(t)s),"
        " (select count(*) from documents where tenant_id = %(t)s and kind = 'quote'"
        "  and number is not null and pdf_sha256 <> ''),"
        " (select count(*) from documents where tenant_id = %(t)s and kind = 'invoice')",
        {"t": first.tenant_id},
    ).fetchone()
    assert counts == (2, 1, 1, 1)
    whatsapp_from, per_second, key = channels[0]
    assert whatsapp_from == first.whatsapp_from and per_second == pytest.approx(1 / 3)

    # The stand-in's state file wires the sender to this app's webhooks.
    state = json.loads(settings.sandbox_state_file.read_text())
    [sender] = state["senders"]
    assert sender["address"] == whatsapp_from
    assert sender["inbound_url"] == f"{settings.base_url}/webhooks/twilio/{key}/inbound"
    assert [a["sid"] for a in state["accounts"]] == [sender["account_sid"]]

    # Lost files are healed: a new working password, and the sender registered again.
    (tmp_path / "demo-password.txt").unlink()
    settings.sandbox_state_file.unlink()
    third = provision(settings)
    assert third.tenant_id == first.tenant_id
    assert third.password != first.password
    new_hash = owner_conn.execute(
        "select password_hash from users where email = %s", (DEMO_EMAIL,)
    ).fetchone()
    assert new_hash is not None and verify_password(new_hash[0], third.password)
    assert json.loads(settings.sandbox_state_file.read_text())["senders"][0]["address"] == (
        whatsapp_from
    )
