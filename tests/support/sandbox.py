"""The demo business `serve` provisions, made here as `serve` makes it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from clientcompass.config import Environment, Settings
from clientcompass.jobs import build_job_app
from clientcompass.sandbox.provision import DemoTenant, provision_demo


def demo_settings(settings: Settings, data_dir: Path) -> Settings:
    """What `serve` runs with in development, on the test databases and the session's keys
    (the demo is one business per database, so every test that provisions it shares them)."""
    return Settings.model_validate(
        {
            "env": Environment.DEVELOPMENT,
            "data_dir": data_dir,
            "database_url": settings.database_url,
            "database_app_role": settings.database_app_role,
            "redis_url": settings.redis_url,
            "secret_key": settings.secret_key,
            "encryption_keys": settings.encryption_keys,
            "log_level": "WARNING",
        }
    )


def provision(settings: Settings) -> DemoTenant:
    """`serve`'s provisioning, on its own thread: the browser tests hold this one's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        demo = pool.submit(provision_demo, settings, build_job_app(settings)).result()
    assert demo is not None
    return demo
