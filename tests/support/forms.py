"""Pages and forms as a browser sends them: the CSRF token read off a page, then the POST."""

from __future__ import annotations

import re

import httpx

from tests.support import factories


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def page_csrf(client: httpx.Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text[:500]
    return csrf_from(response.text)


def post_form(
    client: httpx.Client, path: str, data: dict[str, str], *, csrf_page: str
) -> httpx.Response:
    token = page_csrf(client, csrf_page)
    return client.post(path, data={**data, "csrf_token": token})


def api_headers(client: httpx.Client) -> dict[str, str]:
    """Headers for a cookie-authenticated JSON call that changes state."""
    token = factories.known_csrf(client) or page_csrf(client, "/settings/account")
    return {"X-CSRF-Token": token}
