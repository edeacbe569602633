"""The VAPID key: generated once into the data folder in development, sealed at rest with the
encryption keys, required in production, and never shown by a Settings' repr."""

from __future__ import annotations

import base64
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from clientcompass.config import (
    VAPID_KEY_FILE,
    Environment,
    Settings,
    generate_key_spec,
    generate_vapid_private_key,
    load_vapid_private_key,
)
from clientcompass.crypto import Keyring
from clientcompass.errors import ConfigurationError
from clientcompass.logs import redact
from clientcompass.notifications import push


def test_development_generates_the_key_once_and_reads_the_same_one_back(tmp_path: Path) -> None:
    first = Settings.model_validate({"data_dir": tmp_path}).ensure_secrets()
    second = Settings.model_validate({"data_dir": tmp_path}).ensure_secrets()
    assert first.vapid_private_key and first.vapid_private_key == second.vapid_private_key
    assert push.vapid_public_key(first) == push.vapid_public_key(second)
    raw = base64.urlsafe_b64decode(push.vapid_public_key(first) + "=")
    assert len(raw) == 65 and raw[0] == 4  # an uncompressed P-256 point
    path = tmp_path / VAPID_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_key_file_is_sealed_with_the_encryption_keys(tmp_path: Path) -> None:
    settings = Settings.model_validate({"data_dir": tmp_path}).ensure_secrets()
    sealed = (tmp_path / VAPID_KEY_FILE).read_text()
    assert settings.vapid_private_key not in sealed
    assert sealed.startswith("v1:")
    keyring = Keyring(settings.encryption_keys)
    assert keyring.decrypt(sealed.strip(), context="vapid") == settings.vapid_private_key


def test_a_rotated_encryption_key_still_opens_the_file_and_a_foreign_one_refuses(
    tmp_path: Path,
) -> None:
    old = generate_key_spec("k1")
    first = Settings.model_validate({"data_dir": tmp_path, "encryption_keys": old})
    key = first.ensure_secrets().vapid_private_key
    rotated = Settings.model_validate(
        {"data_dir": tmp_path, "encryption_keys": f"{generate_key_spec('k2')},{old}"}
    )
    assert rotated.ensure_secrets().vapid_private_key == key
    foreign = Settings.model_validate(
        {"data_dir": tmp_path, "encryption_keys": generate_key_spec("k9")}
    )
    with pytest.raises(ConfigurationError, match="no longer holds") as refused:
        foreign.ensure_secrets()
    assert key not in str(refused.value)


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    keys = generate_key_spec()

    def start(_: int) -> str:
        settings = Settings.model_validate({"data_dir": tmp_path, "encryption_keys": keys})
        return settings.ensure_secrets().vapid_private_key

    with ThreadPoolExecutor(max_workers=8) as pool:
        seen = set(pool.map(start, range(16)))
    assert len(seen) == 1
    # No draft left behind by the ones that lost the race.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key", VAPID_KEY_FILE]


def test_production_refuses_to_start_without_the_key(tmp_path: Path) -> None:
    secrets = {
        "env": Environment.PRODUCTION,
        "data_dir": tmp_path,
        "secret_key": "k" * 48,
        "encryption_keys": generate_key_spec(),
    }
    with pytest.raises(ConfigurationError, match="VAPID_PRIVATE_KEY must be set in production"):
        Settings.model_validate(secrets).ensure_secrets()
    assert not (tmp_path / VAPID_KEY_FILE).exists()
    key = generate_vapid_private_key()
    ready = Settings.model_validate({**secrets, "vapid_private_key": key}).ensure_secrets()
    assert ready.vapid_private_key == key


def test_a_malformed_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    bad = generate_vapid_private_key()[:-6]
    settings = Settings.model_validate(
        {
            "env": Environment.PRODUCTION,
            "secret_key": "k" * 48,
            "encryption_keys": generate_key_spec(),
            "vapid_private_key": bad,
        }
    )
    with pytest.raises(ConfigurationError, match="VAPID_PRIVATE_KEY must be") as refused:
        settings.ensure_secrets()
    assert bad not in str(refused.value)
    with pytest.raises(ConfigurationError, match="VAPID_PRIVATE_KEY is not set"):
        push.vapid_public_key(Settings.model_validate({"data_dir": tmp_path}))


def test_the_key_is_read_from_the_environment_raw_or_as_pem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = generate_vapid_private_key()
    monkeypatch.setenv("VAPID_PRIVATE_KEY", raw)
    monkeypatch.setenv("VAPID_SUBJECT", "mailto:ops@example.co.za")
    from_env = Settings(_env_file=None)  # type: ignore[call-arg]
    assert from_env.vapid_private_key == raw
    assert from_env.vapid_subject == "mailto:ops@example.co.za"
    pem = (
        load_vapid_private_key(raw)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    as_pem = Settings.model_validate({"vapid_private_key": pem})
    # One line, as an env file holds it.
    escaped = Settings.model_validate({"vapid_private_key": pem.replace("\n", "\\n")})
    assert push.vapid_public_key(as_pem) == push.vapid_public_key(from_env)
    assert push.vapid_public_key(escaped) == push.vapid_public_key(from_env)


def test_repr_str_and_the_log_hide_the_key() -> None:
    key = generate_vapid_private_key()
    settings = Settings.model_validate({"vapid_private_key": key})
    assert key not in repr(settings)
    assert key not in str(settings)
    assert "vapid_subject" in repr(settings)  # the rest is still shown
    assert key not in str(redact(settings.model_dump()))
    assert key not in str(redact({"VAPID_PRIVATE_KEY": key}))
