"""What makes Client Compass an installable app on a phone: the web app manifest, the service
worker at `/sw.js`, and the offline page it shows when the network is gone (load-shedding).

The worker lives at the root (scope `/`) and is served here, not from `/static`, because a
worker may only control pages under its own folder, and its URL must never change. It is sent
with `no-cache`, so a release reaches phones at once: its first line names this release's app
shell (the content-hashed URLs of the CSS, scripts and icons) and a cache version derived from
them, so a changed file changes the worker's bytes, the browser installs the new worker, and
the new worker deletes the old cache. Pages and API answers are never cached (a shared phone
must not show the last person's inbox); only public static files and the offline page are.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import cast

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.web.assets import STATIC_DIR
from clientcompass.web.render import render
from clientcompass.web.state import app_state

router = APIRouter(include_in_schema=False)

NAME = "Client Compass"
SHORT_NAME = "Compass"
THEME_COLOUR = "#0b7a55"
BACKGROUND_COLOUR = "#ffffff"
OFFLINE_URL = "/offline"
REVALIDATE = "no-cache"
# Public files a phone needs to draw any page: fetched when the worker installs.
SHELL = (
    "app.css",
    "app.js",
    "pwa.js",
    "inbox.js",
    "vendor/htmx/htmx.min.js",
    "favicon.svg",
    "favicon.ico",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "icons/maskable-512.png",
    "icons/badge-96.png",
)
ICONS = (
    ("icons/icon-192.png", "192x192", "any"),
    ("icons/icon-512.png", "512x512", "any"),
    ("icons/maskable-512.png", "512x512", "maskable"),
)


def _static_url(request: Request) -> Callable[[str], str]:
    return cast(Callable[[str], str], app_state(request).templates.env.globals["static_url"])


def manifest(static_url: Callable[[str], str]) -> dict[str, object]:
    """The web app manifest: what the phone's home screen and splash screen show."""
    return {
        "id": "/inbox",
        "name": NAME,
        "short_name": SHORT_NAME,
        "description": "Your business's WhatsApp inbox, quotes and invoices.",
        "lang": "en-ZA",
        "start_url": "/inbox",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [
            {"src": static_url(name), "sizes": sizes, "type": "image/png", "purpose": purpose}
            for name, sizes, purpose in ICONS
        ],
    }


def worker_source(static_url: Callable[[str], str]) -> str:
    """static/sw.js, preceded by this release's shell and the cache version it implies."""
    source = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    urls = [static_url(name) for name in SHELL]
    version = hashlib.sha256("\n".join([source, *urls]).encode()).hexdigest()[:12]
    shell = {
        "version": version,
        "offline": OFFLINE_URL,
        "urls": [OFFLINE_URL, *urls],
        "icon": static_url("icons/icon-192.png"),
        "badge": static_url("icons/badge-96.png"),
    }
    return f"self.CC_SHELL = {json.dumps(shell)};\n{source}"


@router.get("/manifest.webmanifest")
async def web_app_manifest(request: Request) -> Response:
    return Response(
        json.dumps(manifest(_static_url(request))),
        media_type="application/manifest+json",
        headers={"cache-control": REVALIDATE},
    )


@router.get("/sw.js")
async def service_worker(request: Request) -> Response:
    return Response(
        worker_source(_static_url(request)),
        media_type="text/javascript; charset=utf-8",
        headers={"cache-control": REVALIDATE},
    )


@router.get(OFFLINE_URL)
async def offline(request: Request) -> Response:
    """The page the worker shows for a navigation the network could not answer. Nothing
    personal in it, so it is safe to keep in the cache of a shared phone."""
    response = render(request, "offline.html")
    response.headers["cache-control"] = REVALIDATE
    return response
