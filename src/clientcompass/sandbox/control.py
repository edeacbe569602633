"""A small client for the Twilio stand-in's `/_control` surface.

The sandbox acts on whatever stand-in TWILIO_API_BASE_URL names (the one mounted in this
app in development, the tests' own in the tests), so the control URL is derived from it
rather than configured twice. Failures become one `SandboxUnavailable` a person can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from clientcompass.errors import DomainError

CDN_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
# A customer's message waits for the stand-in to deliver the webhook to this app and hear
# back, so it may take longer than a Twilio API call is allowed to.
CONTROL_TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class SandboxUnavailable(DomainError):
    status_code = 502
    code = "sandbox_unavailable"


@dataclass(frozen=True)
class StandinAccount:
    account_sid: str
    auth_token: str


@dataclass(frozen=True)
class Fetched:
    content: bytes
    content_type: str


class StandinControl:
    """Accounts, senders, the customer's messages and media, through `/_control`."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}/_control/{path}"
        try:
            response = await self.http.request(method, url, timeout=CONTROL_TIMEOUT, **kwargs)
        except httpx.HTTPError as exc:
            raise SandboxUnavailable(
                f"The WhatsApp sandbox at {self.base_url} did not answer ({type(exc).__name__}). "
                "Is the app's Twilio stand-in running?"
            ) from exc
        if response.status_code >= 400:
            raise SandboxUnavailable(
                f"The WhatsApp sandbox refused the request ({response.status_code}): "
                f"{_detail(response)}"
            )
        return response.json()

    async def create_account(
        self, *, account_sid: str | None = None, auth_token: str | None = None, name: str = ""
    ) -> StandinAccount:
        """A stand-in account; given a sid and token it is (re)created with exactly those."""
        payload: dict[str, str] = {}
        if account_sid:
            payload["account_sid"] = account_sid
        if auth_token:
            payload["auth_token"] = auth_token
        if name:
            payload["friendly_name"] = name
        data = await self._call("POST", "accounts", json=payload)
        return StandinAccount(str(data["account_sid"]), str(data["auth_token"]))

    async def register_sender(
        self, *, account_sid: str, whatsapp_from: str, inbound_url: str, status_url: str
    ) -> None:
        """Point the sender's webhooks at the app, as one would in Twilio's console."""
        await self._call(
            "POST",
            "senders",
            json={
                "account_sid": account_sid,
                "from": whatsapp_from,
                "inbound_url": inbound_url,
                "status_url": status_url,
            },
        )

    async def customer_sends(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Play the customer: the stand-in stores the message and POSTs the signed webhook."""
        result: dict[str, Any] = await self._call("POST", "inbound", json=payload)
        return result

    async def messages(self, *, direction: str, to: str, from_: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call(
            "GET", "messages", params={"direction": direction, "to": to, "from": from_}
        )
        return result

    async def cdn(self, token: str) -> Fetched | None:
        """A media file by its CDN token (the last part of a media `url`); None if unknown."""
        if not CDN_TOKEN.match(token):
            return None
        try:
            response = await self.http.get(f"{self.base_url}/_cdn/{token}", timeout=CONTROL_TIMEOUT)
        except httpx.HTTPError as exc:
            raise SandboxUnavailable("The WhatsApp sandbox did not answer.") from exc
        if response.status_code != 200:
            return None
        content_type = response.headers.get("content-type", "application/octet-stream")
        return Fetched(response.content, content_type.split(";")[0].strip())


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:200]
    return response.text[:200]
