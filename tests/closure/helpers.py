"""Set-up for the closure tests: API tokens made through the service, the reopen link out of
the owner's email."""

from __future__ import annotations

import re
import uuid

import httpx

from clientcompass.auth import tokens
from clientcompass.models import User
from tests.conftest import LiveServer, MailSink
from tests.support import factories
from tests.support.factories import Services


def api_token(client: httpx.Client, tenant_id: uuid.UUID, user_id: uuid.UUID) -> str:
    async def make(services: Services) -> str:
        async with services.unit_of_work(tenant_id) as uow:
            user = await uow.session.get(User, (tenant_id, user_id))
            assert user is not None
            return (await tokens.create_api_token(uow, user, name="closure test")).token

    return factories.run(factories.settings_of(client), make)


def reopen_token(live_server: LiveServer, mail_sink: MailSink, to: str) -> str:
    live_server.run_jobs()
    found = re.search(r"/reopen\?token=(\S+)", mail_sink.wait_for(to))
    assert found, "no reopen link in the email"
    return found.group(1)
