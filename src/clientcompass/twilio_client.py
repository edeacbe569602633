"""A small async client for the Twilio endpoints we use, against configurable base URLs.

It tells three failures apart, because they need different handling:
- `TwilioRejected`: Twilio answered with an error about this request (do not retry);
- `TwilioUnavailable`: the request was not accepted (connection refused, 429, 5xx): retry;
- `OutcomeUnknown`: the request may have reached Twilio (timeout after sending): reconcile,
  never blindly resend, since Twilio has no idempotency key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from clientcompass.config import Settings

API_VERSION = "2010-04-01"


@dataclass(frozen=True)
class Credentials:
    account_sid: str
    auth_token: str

    @property
    def auth(self) -> httpx.BasicAuth:
        return httpx.BasicAuth(self.account_sid, self.auth_token)


class TwilioError(Exception):
    def __init__(self, message: str, *, status: int = 0, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class TwilioRejected(TwilioError):
    """Twilio refused this request; sending it again would fail the same way."""


class TwilioUnavailable(TwilioError):
    """The request was not accepted; it is safe to try again later."""


class OutcomeUnknown(TwilioError):
    """The request left and no answer came back; Twilio may or may not have acted on it."""


class TwilioClient:
    def __init__(
        self, http: httpx.AsyncClient, *, api_base_url: str, content_base_url: str
    ) -> None:
        self.http = http
        self.api_base_url = api_base_url.rstrip("/")
        self.content_base_url = content_base_url.rstrip("/")

    def allowed_media_hosts(self) -> set[str]:
        return {urlsplit(self.api_base_url).netloc}

    async def _request(
        self,
        method: str,
        url: str,
        credentials: Credentials,
        *,
        data: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            response = await self.http.request(
                method, url, auth=credentials.auth, data=data, json=json_body, params=params
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TwilioUnavailable(f"Twilio could not be reached: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise OutcomeUnknown(f"no answer from Twilio: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise _error_from(response)
        body: dict[str, Any] = response.json() if response.content else {}
        return body

    def _account_url(self, credentials: Credentials, suffix: str = "") -> str:
        return f"{self.api_base_url}/{API_VERSION}/Accounts/{credentials.account_sid}{suffix}"

    async def fetch_account(self, credentials: Credentials) -> dict[str, Any]:
        return await self._request("GET", self._account_url(credentials, ".json"), credentials)

    async def create_message(
        self,
        credentials: Credentials,
        *,
        to: str,
        from_: str,
        body: str = "",
        media_urls: list[str] | None = None,
        content_sid: str = "",
        content_variables: dict[str, str] | None = None,
        status_callback: str = "",
        messaging_service_sid: str = "",
    ) -> dict[str, Any]:
        form: dict[str, Any] = {"To": to}
        if messaging_service_sid:
            form["MessagingServiceSid"] = messaging_service_sid
        form["From"] = from_
        if content_sid:
            form["ContentSid"] = content_sid
            if content_variables:
                form["ContentVariables"] = json.dumps(content_variables)
        else:
            if body:
                form["Body"] = body
            if media_urls:
                form["MediaUrl"] = media_urls
        if status_callback:
            form["StatusCallback"] = status_callback
        return await self._request(
            "POST", self._account_url(credentials, "/Messages.json"), credentials, data=form
        )

    async def list_messages(
        self, credentials: Credentials, *, to: str, from_: str, sent_on_or_after: date
    ) -> list[dict[str, Any]]:
        params = {
            "To": to,
            "From": from_,
            "DateSent>": sent_on_or_after.isoformat(),
            "PageSize": "100",
        }
        page = await self._request(
            "GET", self._account_url(credentials, "/Messages.json"), credentials, params=params
        )
        messages: list[dict[str, Any]] = page.get("messages", [])
        return messages

    async def create_content(
        self, credentials: Credentials, payload: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._request(
            "POST", f"{self.content_base_url}/v1/Content", credentials, json_body=payload
        )

    async def submit_whatsapp_approval(
        self, credentials: Credentials, content_sid: str, *, name: str, category: str
    ) -> dict[str, Any]:
        url = f"{self.content_base_url}/v1/Content/{content_sid}/ApprovalRequests/whatsapp"
        return await self._request(
            "POST", url, credentials, json_body={"name": name, "category": category}
        )

    async def fetch_approval(self, credentials: Credentials, content_sid: str) -> dict[str, Any]:
        url = f"{self.content_base_url}/v1/Content/{content_sid}/ApprovalRequests"
        return await self._request("GET", url, credentials)

    async def fetch_media(
        self, credentials: Credentials, url: str, *, max_bytes: int
    ) -> tuple[bytes, str]:
        """Fetch a media URL from Twilio's API host with credentials; follow redirects without.

        Only the configured API host gets the credentials, and only it may be the first hop:
        a MediaUrl pointing anywhere else (an internal address, another host) is refused.
        """
        if urlsplit(url).netloc not in self.allowed_media_hosts() or not url.startswith(
            self.api_base_url + "/"
        ):
            raise TwilioRejected(f"media URL is not on the Twilio API host: {url[:80]}")
        response = await self.http.get(url, auth=credentials.auth, follow_redirects=False)
        hops = 0
        while response.is_redirect and hops < 3:
            location = urljoin(str(response.url), response.headers["location"])
            if urlsplit(location).scheme not in ("http", "https"):
                raise TwilioRejected("media redirect to a non-HTTP URL")
            await response.aclose()
            response = await self.http.get(location, follow_redirects=False)  # no credentials
            hops += 1
        if response.status_code == 404:
            raise TwilioUnavailable("media not there yet", status=404)
        if response.status_code >= 400:
            raise _error_from(response)
        content = response.content
        if len(content) > max_bytes:
            raise TwilioRejected(f"media is larger than {max_bytes // (1024 * 1024)} MB")
        content_type = response.headers.get("content-type", "application/octet-stream").split(";")[
            0
        ]
        return content, content_type


def _error_from(response: httpx.Response) -> TwilioError:
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    code = payload.get("code") if isinstance(payload, dict) else None
    message = (
        payload.get("message") if isinstance(payload, dict) else None
    ) or response.reason_phrase
    kind: type[TwilioError]
    if response.status_code == 429 or response.status_code >= 500:
        kind = TwilioUnavailable
    else:
        kind = TwilioRejected
    return kind(str(message), status=response.status_code, code=int(code) if code else None)


def twilio_client(settings: Settings) -> TwilioClient:
    """The process's Twilio client, at the configured base URLs (the stand-in in tests)."""
    http = httpx.AsyncClient(timeout=httpx.Timeout(settings.twilio_timeout_seconds, connect=5.0))
    return TwilioClient(
        http,
        api_base_url=settings.twilio_api_base_url,
        content_base_url=settings.twilio_content_base_url,
    )
