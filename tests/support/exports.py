"""Running an export through the pages and opening what it made."""

from __future__ import annotations

import io
import re
import zipfile

import httpx

from tests.conftest import LiveServer
from tests.support.jobs import run_jobs_until

DOWNLOAD = re.compile(r'href="(/exports/download\?token=[^"]+)"')


def ready_link(live_server: LiveServer, client: httpx.Client) -> str:
    """Run the jobs until the newest export is ready; its download link."""

    def link() -> str | None:
        page = client.get("/settings/export/status")
        assert page.status_code == 200, page.text[:300]
        found = DOWNLOAD.search(page.text)
        return found.group(1).replace("&amp;", "&") if found else None

    found = run_jobs_until(live_server, link, timeout=30, message="the export to be ready")
    assert found is not None
    return found


def unzip(response: httpx.Response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    return zipfile.ZipFile(io.BytesIO(response.content))
