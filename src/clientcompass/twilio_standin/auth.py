"""HTTP Basic authentication with AccountSid:AuthToken, and where the stand-in lives.

Twilio rejects a request without valid credentials, or whose credentials do not match
the account in the path, with 401 and error 20003. The stand-in does the same, so a
client that forgets or mixes up credentials fails here as it would in production.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re

from fastapi import Request

from .errors import TwilioError
from .state import Account, StandinState

ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Basic realm="Twilio API"'}


def credentials(request: Request) -> tuple[str, str] | None:
    """The (username, password) of a Basic Authorization header, if well formed."""
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def authenticate(state: StandinState, request: Request, account_sid: str | None = None) -> Account:
    """The account whose credentials came with ``request`` (and own ``account_sid``)."""
    pair = credentials(request)
    account = state.accounts.get(pair[0]) if pair else None
    if (
        pair is None
        or account is None
        or not hmac.compare_digest(account.auth_token.encode(), pair[1].encode())
        or (account_sid is not None and account_sid != account.sid)
    ):
        raise TwilioError(401, 20003, headers=UNAUTHORIZED_HEADERS)
    return account


def public_base(state: StandinState, request: Request) -> str:
    """The URL prefix where the stand-in itself is reachable.

    ``public_base_url`` when configured, otherwise scheme, host and the ASGI
    ``root_path`` of this request, which includes the mount prefix when the stand-in
    is mounted inside another app (e.g. ``http://127.0.0.1:8000/__twilio``).
    """
    if state.public_base_url:
        return state.public_base_url
    root_path = str(request.scope.get("root_path", "")).rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}{root_path}"
