"""The stand-in keeps what it was configured with in a state file, so a restart keeps the
sandbox wired."""

from __future__ import annotations

from pathlib import Path

import httpx

from clientcompass.twilio_standin import create_standin
from tests.support.aio import run_async


def test_standin_keeps_accounts_and_senders_in_its_state_file(tmp_path: Path) -> None:
    path = tmp_path / "standin.json"
    first = create_standin(state_file=path)
    transport = httpx.ASGITransport(app=first)

    async def configure() -> dict[str, str]:
        async with httpx.AsyncClient(transport=transport, base_url="http://standin") as http:
            account = (await http.post("/_control/accounts", json={})).json()
            response = await http.post(
                "/_control/senders",
                json={
                    "account_sid": account["account_sid"],
                    "from": "whatsapp:+27601234567",
                    "inbound_url": "http://127.0.0.1:1/in",
                    "status_url": "http://127.0.0.1:1/status",
                },
            )
            assert response.status_code == 200
            return dict(account)

    account = run_async(configure)
    assert (path.stat().st_mode & 0o777) == 0o600
    reloaded = create_standin(state_file=path).state.standin
    assert reloaded.accounts[account["account_sid"]].auth_token == account["auth_token"]
    assert reloaded.senders["whatsapp:+27601234567"].inbound_url == "http://127.0.0.1:1/in"
    assert reloaded.messages == {}
