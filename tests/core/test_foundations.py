"""Pieces under the features: field encryption, production start-up rules, the email
fallback, and the per-tenant settings store."""

from __future__ import annotations

import uuid

import pytest

from clientcompass.business.settings import get_setting, set_setting
from clientcompass.config import Environment, Settings, generate_key_spec
from clientcompass.crypto import DecryptionError, Keyring
from clientcompass.db import Database, create_engine
from clientcompass.errors import ConfigurationError
from clientcompass.logs import configure_logging
from clientcompass.mail import send_mail
from tests.conftest import PROJECT_ROOT, Databases
from tests.support.accounts import sign_up
from tests.support.aio import run_async


def test_keys_rotate_old_values_still_open_new_ones_use_the_newest_key() -> None:
    k1 = generate_key_spec("k1")
    old = Keyring(k1)
    sealed_old = old.encrypt("62845519933", context="banking:t1")
    rotated = Keyring(f"{generate_key_spec('k2')},{k1}")  # the new key goes in front
    assert rotated.decrypt(sealed_old, context="banking:t1") == "62845519933"
    sealed_new = rotated.encrypt("62845519933", context="banking:t1")
    assert sealed_new.startswith("v1:k2:") and rotated.needs_rotation(sealed_old)
    assert not rotated.needs_rotation(sealed_new)
    with pytest.raises(DecryptionError):
        old.decrypt(sealed_new, context="banking:t1")  # k1 alone cannot open k2's values


def test_sealed_values_resist_tampering_and_moving_between_rows() -> None:
    keyring = Keyring(generate_key_spec())
    sealed = keyring.encrypt("secret", context="banking:tenant-a")
    with pytest.raises(DecryptionError):
        keyring.decrypt(sealed, context="banking:tenant-b")
    version, key_id, payload = sealed.split(":", 2)
    flipped = payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB")
    with pytest.raises(DecryptionError):
        keyring.decrypt(f"{version}:{key_id}:{flipped}", context="banking:tenant-a")


@pytest.mark.parametrize("bad", ["", "nocolon", "k1:not-base64!!", "k1:c2hvcnQ="])
def test_bad_encryption_keys_are_refused(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        Keyring(bad)


def test_production_refuses_to_start_without_its_secrets(tmp_path: object) -> None:
    settings = Settings.model_validate({"env": Environment.PRODUCTION, "data_dir": tmp_path})
    with pytest.raises(
        ConfigurationError, match="SECRET_KEY, ENCRYPTION_KEYS must be set in production"
    ):
        settings.ensure_secrets()


def test_development_generates_secrets_once_into_the_data_folder(tmp_path: object) -> None:
    first = Settings.model_validate({"data_dir": tmp_path}).ensure_secrets()
    second = Settings.model_validate({"data_dir": tmp_path}).ensure_secrets()
    assert first.secret_key and first.secret_key == second.secret_key
    assert first.encryption_keys == second.encryption_keys
    Keyring(first.encryption_keys)


def test_without_smtp_mail_goes_to_the_log_in_development_only(
    capfd: pytest.CaptureFixture[str], tmp_path: object, restore_logging: None
) -> None:
    configure_logging("INFO")
    link = f"https://example.test/reset-password?token=ccr_{uuid.uuid4().hex}"
    dev = Settings.model_validate({"data_dir": tmp_path})
    assert (
        run_async(lambda: send_mail(dev, to="a@example.co.za", subject="Reset", body=link)) is False
    )
    assert link in capfd.readouterr().err
    prod = Settings.model_validate({"env": Environment.PRODUCTION, "data_dir": tmp_path})
    assert (
        run_async(lambda: send_mail(prod, to="a@example.co.za", subject="Reset", body=link))
        is False
    )
    logged = capfd.readouterr().err
    assert "SMTP is not configured" in logged and link not in logged


def test_tenant_settings_store_is_per_tenant(migrated: Databases, client: object) -> None:
    tenant_a = sign_up(client).tenant_id  # type: ignore[arg-type]

    async def scenario() -> tuple[object, object, object]:
        db = Database(create_engine(migrated.app_url, pool_size=1))
        try:
            async with db.unit_of_work(tenant_a) as uow:
                await set_setting(uow, "documents.rounding", "per_line")
                await set_setting(uow, "documents.rounding", "per_document")
            async with db.unit_of_work(tenant_a) as uow:
                mine = await get_setting(uow, "documents.rounding")
            async with db.unit_of_work(uuid.uuid4()) as uow:
                other = await get_setting(uow, "documents.rounding", "default")
            async with db.unit_of_work(tenant_a) as uow:
                missing = await get_setting(uow, "reminders.days", [7])
            return mine, other, missing
        finally:
            await db.dispose()

    assert run_async(scenario) == ("per_document", "default", [7])


def test_the_readme_documents_every_setting() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    undocumented = [
        f.alias for f in Settings.model_fields.values() if f.alias and f"`{f.alias}`" not in readme
    ]
    assert undocumented == [], "add these to the README's configuration table"
