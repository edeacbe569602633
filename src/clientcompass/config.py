"""Settings, read once from the environment (and `.env`), passed explicitly everywhere after."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from clientcompass.crypto import DecryptionError, Keyring
from clientcompass.errors import ConfigurationError

# Where the built-in Twilio stand-in is mounted when the sandbox is on.
SANDBOX_MOUNT = "/__twilio"
TWILIO_URL_FIELDS = ("twilio_api_base_url", "twilio_content_base_url")
# The development VAPID key's file in the data folder, sealed with the keyring under this context.
VAPID_KEY_FILE = "vapid.key"
VAPID_KEY_CONTEXT = "vapid"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


class Settings(BaseSettings):
    """Every setting the app reads. The README's configuration table mirrors this class."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    env: Environment = Field(Environment.DEVELOPMENT, alias="CLIENTCOMPASS_ENV")
    data_dir: Path = Field(Path("var"), alias="CLIENTCOMPASS_DATA_DIR")
    host: str = Field("127.0.0.1", alias="HOST")
    port: int = Field(8000, alias="PORT")
    public_base_url: str = Field("", alias="PUBLIC_BASE_URL")

    database_url: str = Field("", alias="DATABASE_URL")
    database_app_url: str = Field("", alias="DATABASE_APP_URL")
    database_app_role: str = Field("clientcompass_app", alias="DATABASE_APP_ROLE")
    database_app_password: str = Field("", alias="DATABASE_APP_PASSWORD")
    database_pool_size: int = Field(10, alias="DATABASE_POOL_SIZE")
    redis_url: str = Field("", alias="REDIS_URL")

    secret_key: str = Field("", alias="SECRET_KEY")
    encryption_keys: str = Field("", alias="ENCRYPTION_KEYS")
    # Web push (RFC 8292): base64url of the raw 32-byte P-256 private key (a PEM is accepted
    # too). Kept out of repr() so a logged Settings never shows it.
    vapid_private_key: str = Field("", alias="VAPID_PRIVATE_KEY", repr=False)
    vapid_subject: str = Field("mailto:support@clientcompass.co.za", alias="VAPID_SUBJECT")

    session_idle_seconds: int = Field(24 * 3600, alias="SESSION_IDLE_SECONDS")
    session_absolute_seconds: int = Field(30 * 24 * 3600, alias="SESSION_ABSOLUTE_SECONDS")
    jwt_lifetime_seconds: int = Field(15 * 60, alias="JWT_LIFETIME_SECONDS")
    login_max_failures_per_account: int = Field(5, alias="LOGIN_MAX_FAILURES_PER_ACCOUNT")
    login_max_failures_per_ip: int = Field(20, alias="LOGIN_MAX_FAILURES_PER_IP")
    login_failure_window_seconds: int = Field(15 * 60, alias="LOGIN_FAILURE_WINDOW_SECONDS")
    invitation_lifetime_seconds: int = Field(7 * 24 * 3600, alias="INVITATION_LIFETIME_SECONDS")
    password_reset_lifetime_seconds: int = Field(3600, alias="PASSWORD_RESET_LIFETIME_SECONDS")

    smtp_host: str = Field("", alias="SMTP_HOST")
    smtp_port: int = Field(587, alias="SMTP_PORT")
    smtp_username: str = Field("", alias="SMTP_USERNAME")
    smtp_password: str = Field("", alias="SMTP_PASSWORD")
    smtp_starttls: bool = Field(True, alias="SMTP_STARTTLS")
    mail_from: str = Field("Client Compass <no-reply@clientcompass.co.za>", alias="MAIL_FROM")

    # The operator named in the privacy policy at /privacy (the POPIA Responsible Party).
    operator_name: str = Field("Client Compass Digital Solutions (Pty) Ltd", alias="OPERATOR_NAME")
    operator_address: str = Field(
        "11 Nepeta Street, East-Rural, Kraaifontein, 7570, South Africa", alias="OPERATOR_ADDRESS"
    )
    operator_email: str = Field("info@clientcompass.co.za", alias="OPERATOR_EMAIL")
    operator_phone: str = Field("+27 74 094 0550", alias="OPERATOR_PHONE")
    information_officer: str = Field("info@clientcompass.co.za", alias="INFORMATION_OFFICER")

    twilio_api_base_url: str = Field("https://api.twilio.com", alias="TWILIO_API_BASE_URL")
    twilio_content_base_url: str = Field(
        "https://content.twilio.com", alias="TWILIO_CONTENT_BASE_URL"
    )
    twilio_timeout_seconds: float = Field(15.0, alias="TWILIO_TIMEOUT_SECONDS")
    whatsapp_sends_per_second: float = Field(80.0, alias="WHATSAPP_SENDS_PER_SECOND")
    whatsapp_reconcile_delay_seconds: float = Field(20.0, alias="WHATSAPP_RECONCILE_DELAY_SECONDS")
    whatsapp_sweep_after_seconds: float = Field(60.0, alias="WHATSAPP_SWEEP_AFTER_SECONDS")
    media_max_bytes: int = Field(16 * 1024 * 1024, alias="MEDIA_MAX_BYTES")
    # WhatsApp media (temporary files) are purged this many days after they arrived or were sent.
    media_retention_days: int = Field(90, ge=1, alias="MEDIA_RETENTION_DAYS")
    # A closed business's conversations are deleted this many years after it closed (the policy:
    # "up to 7 years after account closure"); lifecycle/closure.py.
    closed_conversations_retention_years: int = Field(
        7, ge=1, le=7, alias="CLOSED_CONVERSATIONS_RETENTION_YEARS"
    )
    # A download still pending after this long is retried by the sweep, or given up.
    media_fetch_deadline_seconds: float = Field(600.0, gt=0, alias="MEDIA_FETCH_DEADLINE_SECONDS")
    forwarded_allow_ips: str = Field("127.0.0.1", alias="FORWARDED_ALLOW_IPS")
    metrics_token: str = Field("", alias="METRICS_TOKEN")
    # The Meta app's secret: checks the signed requests of Meta's data-deletion callback
    # (lifecycle/signed_request.py). Unset: the callback answers 404. Never logged.
    meta_app_secret: str = Field("", alias="META_APP_SECRET", repr=False)
    log_level: str = Field("INFO", alias="LOG_LEVEL")
    worker_concurrency: int = Field(4, alias="WORKER_CONCURRENCY")
    worker_stalled_after_seconds: float = Field(30.0, gt=0, alias="WORKER_STALLED_AFTER_SECONDS")
    shutdown_grace_seconds: int = Field(10, ge=0, alias="SHUTDOWN_GRACE_SECONDS")
    shutdown_notice_seconds: float = Field(2.0, ge=0, alias="SHUTDOWN_NOTICE_SECONDS")
    max_logo_bytes: int = Field(1024 * 1024, alias="MAX_LOGO_BYTES")
    # Request bodies (web/limits.py): forms and JSON; Twilio's webhooks. Uploads have their own.
    max_body_bytes: int = Field(1024 * 1024, gt=0, alias="MAX_BODY_BYTES")
    max_webhook_body_bytes: int = Field(64 * 1024, gt=0, alias="MAX_WEBHOOK_BODY_BYTES")
    sandbox: bool | None = Field(None, alias="SANDBOX")
    # Outgoing webhooks may go to http:// and private addresses (local receivers in tests and
    # development only; never in production: it opens the SSRF wall, integrations/http.py).
    webhook_allow_private_targets: bool = Field(False, alias="WEBHOOK_ALLOW_PRIVATE_TARGETS")

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _wire_sandbox(self) -> Settings:
        """With the sandbox on, every process (web, worker, CLI) talks to the built-in
        stand-in, unless TWILIO_API_BASE_URL or TWILIO_CONTENT_BASE_URL was given: then
        both are left alone, since one Twilio answers both or neither."""
        explicit = self.model_fields_set.intersection(TWILIO_URL_FIELDS)
        if self.sandbox_enabled and not self.is_production and not explicit:
            for name in TWILIO_URL_FIELDS:
                setattr(self, name, self.sandbox_twilio_url)
        return self

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def base_url(self) -> str:
        """The URL people and Twilio reach us on; falls back to the bound host and port."""
        return self.public_base_url or f"http://{self.host}:{self.port}"

    @property
    def sandbox_enabled(self) -> bool:
        """The WhatsApp sandbox: on in development and test unless SANDBOX=false, off in
        production (where SANDBOX=true is refused by `ensure_secrets`)."""
        if self.sandbox is not None:
            return self.sandbox
        return not self.is_production

    @property
    def sandbox_twilio_url(self) -> str:
        """Where the mounted Twilio stand-in answers (REST, Content API and `/_control`)."""
        return self.base_url + SANDBOX_MOUNT

    @property
    def sandbox_is_built_in(self) -> bool:
        """Whether the app talks to the stand-in mounted in this app (not a Twilio elsewhere)."""
        return self.sandbox_enabled and self.twilio_api_base_url == self.sandbox_twilio_url

    @property
    def sandbox_state_file(self) -> Path:
        """The built-in stand-in's accounts and senders, kept so a restart stays wired."""
        return self.data_dir / "twilio-standin.json"

    @property
    def cookies_secure(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"

    def app_database_url(self) -> str:
        """The non-owner role's URL: given outright, or the owner URL with the app role swapped in."""
        if self.database_app_url:
            return self.database_app_url
        if not self.database_url:
            raise ConfigurationError("DATABASE_URL is not set")
        return with_user(self.database_url, self.database_app_role, self.database_app_password)

    def ensure_secrets(self) -> Settings:
        """Fill missing secrets from the data folder in development; refuse in production.

        The VAPID key is checked here too, so a malformed one stops a process at start, not at
        its first push.

        Also the one start-up check every process runs, so it refuses the sandbox in
        production: its stand-in answers unauthenticated control requests.
        """
        if self.is_production and self.sandbox:
            raise ConfigurationError(
                "SANDBOX=true is not allowed in production: the WhatsApp sandbox serves an "
                "unauthenticated Twilio stand-in. Remove SANDBOX or set it to false."
            )
        if self.is_production and self.webhook_allow_private_targets:
            raise ConfigurationError(
                "WEBHOOK_ALLOW_PRIVATE_TARGETS=true is not allowed in production: it lets a "
                "business's webhook URL reach your internal network. Remove it."
            )
        if self.secret_key and self.encryption_keys and self.vapid_private_key:
            load_vapid_private_key(self.vapid_private_key)
            return self
        if self.is_production:
            missing = [
                name
                for name, value in (
                    ("VAPID_PRIVATE_KEY", self.vapid_private_key),
                    ("SECRET_KEY", self.secret_key),
                    ("ENCRYPTION_KEYS", self.encryption_keys),
                )
                if not value
            ]
            raise ConfigurationError(
                f"{', '.join(missing)} must be set in production; see the README's configuration table"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret_key = self.secret_key or _read_or_create(
            self.data_dir / "secret.key", lambda: secrets.token_urlsafe(48)
        )
        encryption_keys = self.encryption_keys or _read_or_create(
            self.data_dir / "encryption.key",
            generate_key_spec,
        )
        vapid_private_key = self.vapid_private_key or _read_or_create_vapid_key(
            self.data_dir / VAPID_KEY_FILE, Keyring(encryption_keys)
        )
        load_vapid_private_key(vapid_private_key)
        return self.model_copy(
            update={
                "secret_key": secret_key,
                "encryption_keys": encryption_keys,
                "vapid_private_key": vapid_private_key,
            }
        )


def _read_or_create(path: Path, make: Callable[[], str]) -> str:
    if path.exists():
        return path.read_text().strip()
    value = make()
    path.write_text(value + "\n")
    path.chmod(0o600)
    return value


def with_user(url: str, user: str, password: str) -> str:
    """Swap the credentials of a libpq URL, keeping host, port, database and query."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    credentials = f"{user}:{password}@" if password else f"{user}@"
    return parts._replace(netloc=credentials + host).geturl()


def with_database(url: str, database: str) -> str:
    return urlsplit(url)._replace(path="/" + database).geturl()


def generate_key_spec(key_id: str = "k1") -> str:
    """A fresh `id:base64key` entry for ENCRYPTION_KEYS."""
    return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(32)).decode()}"


def generate_vapid_private_key() -> str:
    """A fresh VAPID key in the VAPID_PRIVATE_KEY format: base64url of the raw 32-byte scalar."""
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.private_numbers().private_value.to_bytes(32, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def load_vapid_private_key(value: str) -> ec.EllipticCurvePrivateKey:
    """The P-256 key VAPID_PRIVATE_KEY holds (raw base64url, or PEM); the error names the
    setting, never the value."""
    text = value.strip()
    if not text:
        raise ConfigurationError(
            "VAPID_PRIVATE_KEY is not set (in development, ensure_secrets() generates it)"
        )
    try:
        if "-----BEGIN" in text:
            pem = serialization.load_pem_private_key(
                text.replace("\\n", "\n").encode(), password=None
            )
            if not isinstance(pem, ec.EllipticCurvePrivateKey):
                raise ValueError("not an EC key")
            key = pem
        else:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            if len(raw) != 32:
                raise ValueError("not 32 bytes")
            key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigurationError(
            "VAPID_PRIVATE_KEY must be the base64url raw 32-byte P-256 private key "
            "(or a PEM); see the README's configuration table"
        ) from exc
    if not isinstance(key.curve, ec.SECP256R1):
        raise ConfigurationError("VAPID_PRIVATE_KEY must be a P-256 (prime256v1) key")
    return key


def _read_or_create_vapid_key(path: Path, keyring: Keyring) -> str:
    """The development VAPID key, sealed at rest with the keyring. Created once, atomically:
    processes starting together (`serve`'s web and worker) must not each make their own."""
    if not path.exists():
        sealed = keyring.encrypt(generate_vapid_private_key(), context=VAPID_KEY_CONTEXT)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as file:
                file.write(sealed + "\n")
            os.link(draft, path)  # fails if another process linked its key first
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
    try:
        return keyring.decrypt(path.read_text().strip(), context=VAPID_KEY_CONTEXT)
    except (DecryptionError, ValueError) as exc:
        raise ConfigurationError(
            f"{path} was sealed with an encryption key that ENCRYPTION_KEYS no longer holds. "
            "Restore that key, or delete the file to make a new VAPID key (every device then "
            "has to turn notifications on again)."
        ) from exc
