"""The installable app over real HTTP: the manifest every page links, icons of the sizes it
claims, the service worker at /sw.js (fresh on every release, within the strict CSP) and the
offline page it keeps, which holds nothing about whoever is signed in."""

from __future__ import annotations

import re
import struct

import httpx

from clientcompass.web.middleware import CONTENT_SECURITY_POLICY
from tests.support.accounts import sign_up

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(body: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the first one, by the format's rule)."""
    assert body[:8] == PNG_SIGNATURE, body[:8]
    assert body[12:16] == b"IHDR"
    width, height = struct.unpack(">II", body[16:24])
    return width, height


def test_every_page_links_the_manifest_whose_icons_are_what_it_says(
    client: httpx.Client,
) -> None:
    for path in ("/", "/login", "/signup"):
        page = client.get(path)
        assert page.status_code == 200
        assert '<link rel="manifest" href="/manifest.webmanifest">' in page.text, path
        assert '<meta name="theme-color" content="#0b7a55">' in page.text
        touch = re.search(r'<link rel="apple-touch-icon" href="([^"]+)">', page.text)
        assert touch, path
        assert png_size(client.get(touch.group(1)).content) == (180, 180)

    answer = client.get("/manifest.webmanifest")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/manifest+json")
    assert answer.headers["cache-control"] == "no-cache"
    manifest = answer.json()
    assert manifest["name"] == "Client Compass"
    assert manifest["short_name"] and len(manifest["short_name"]) <= 12
    assert manifest["start_url"] == "/inbox"
    assert manifest["scope"] == "/"
    assert manifest["display"] == "standalone"
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["background_color"])

    seen = set()
    for icon in manifest["icons"]:
        assert icon["type"] == "image/png"
        fetched = client.get(icon["src"])
        assert fetched.status_code == 200, icon["src"]
        assert fetched.headers["content-type"] == "image/png"
        width, height = png_size(fetched.content)
        assert icon["sizes"] == f"{width}x{height}"
        seen.add((icon["sizes"], icon["purpose"]))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= seen


def test_the_service_worker_is_served_fresh_at_the_root_and_names_the_shell(
    client: httpx.Client,
) -> None:
    answer = client.get("/sw.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert answer.headers["cache-control"] == "no-cache"
    # At the root its default scope is "/", so it needs no Service-Worker-Allowed header.
    assert "service-worker-allowed" not in answer.headers
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    shell = re.match(r"self\.CC_SHELL = (\{.*\});\n", answer.text)
    assert shell, answer.text[:200]
    # The shell is this release's content-hashed files, each of which is really there.
    names = re.findall(r'"(/static/[^"]+)"', shell.group(1))
    assert any(re.search(r"/static/app\.[0-9a-f]{12}\.css$", name) for name in names), names
    assert any(re.search(r"/static/inbox\.[0-9a-f]{12}\.js$", name) for name in names), names
    for name in names:
        assert client.get(name).status_code == 200, name
    assert '"/offline"' in shell.group(1)
    version = re.search(r'"version": "([0-9a-f]{12})"', shell.group(1))
    assert version, shell.group(1)
    assert client.get("/sw.js").text == answer.text  # stable until a file changes


def test_the_offline_page_is_plain_public_and_the_same_for_everyone(
    client: httpx.Client,
) -> None:
    visitor = client.get("/offline")
    assert visitor.status_code == 200
    assert "You&#39;re offline" in visitor.text or "You're offline" in visitor.text
    assert visitor.headers["cache-control"] == "no-cache"
    assert "csrf" not in visitor.text.lower()
    assert "<script" in visitor.text and "pwa." in visitor.text  # the file, never inline
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", visitor.text) is None
    assert "style=" not in visitor.text

    sign_up(client)
    member = client.get("/offline")
    assert member.status_code == 200
    assert member.text == visitor.text  # nothing about who is signed in


def test_the_strict_csp_still_holds_on_pages_that_register_the_worker(
    client: httpx.Client,
) -> None:
    page = client.get("/login")
    csp = page.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    # worker-src and manifest-src fall back to default-src 'self': same origin only.
    assert "default-src 'self'" in csp
    assert re.search(r'<script src="/static/pwa\.[0-9a-f]{12}\.js" defer></script>', page.text)
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) is None
