"""Static files and pages for phones on mobile data: content-hashed names cached for a year,
bodies precompressed at install (or gzipped once in memory), HTML gzipped on the way out, and
the live event streams left alone so no event waits in a compressor."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from clientcompass.web.assets import STATIC_DIR, StaticAssets, node_modules_dir, precompress
from tests.support.accounts import sign_up
from tests.support.aio import run_async

HASHED = re.compile(r'(?:href|src)="(/static/[^"]+\.[0-9a-f]{12}\.\w+)"')
CSS = "/* the app's look */\nbody { color: #17201c; }\n" * 40


def get(assets: StaticAssets, path: str, **headers: str) -> httpx.Response:
    """One request to the /static app alone, as mounted (paths relative to /static)."""

    async def request() -> httpx.Response:
        transport = httpx.ASGITransport(app=assets)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await http.get(
                path, headers={k.replace("_", "-"): v for k, v in headers.items()}
            )

    return run_async(request)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "app.css").write_text(CSS)
    (tmp_path / ".gitignore").write_text("*.gz\n")
    (tmp_path / "tiny.js").write_text("x()\n")
    return tmp_path


def test_precompress_writes_brotli_and_gzip_beside_each_text_file_once(folder: Path) -> None:
    count, how = precompress([folder])
    assert count == 1, "tiny files and dotfiles are left alone"
    assert how in ("brotli", "node"), how
    assert gzip.decompress((folder / "app.css.gz").read_bytes()).decode() == CSS
    assert 0 < (folder / "app.css.br").stat().st_size < len(CSS)
    assert not (folder / "tiny.js.gz").exists() and not (folder / ".gitignore.gz").exists()
    assert precompress([folder]) == (0, "up to date")
    # A .gz that is not this very file (npm packages ship some) is replaced, fresh or not.
    (folder / "app.css.gz").write_bytes(gzip.compress(b"something else"))
    assert precompress([folder])[0] == 1
    assert gzip.decompress((folder / "app.css.gz").read_bytes()).decode() == CSS
    # A changed file is compressed again.
    (folder / "app.css").write_text(CSS + "a { color: red; }\n")
    later = (folder / "app.css.br").stat().st_mtime_ns + 1_000_000_000
    os.utime(folder / "app.css", ns=(later, later))
    assert precompress([folder])[0] == 1
    assert gzip.decompress((folder / "app.css.gz").read_bytes()).decode().endswith("red; }\n")
    assert (folder / "app.css.br").stat().st_mtime_ns >= later


@pytest.mark.skipif(shutil.which("node") is None, reason="node makes .br without the module")
def test_without_the_brotli_module_node_makes_the_br_files(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = __import__("importlib").import_module

    def no_brotli(name: str) -> object:
        if name == "brotli":
            raise ImportError(name)
        return real(name)

    monkeypatch.setattr("clientcompass.web.assets.importlib.import_module", no_brotli)
    assert precompress([folder]) == (1, "node")
    unpacked = subprocess.run(
        [
            str(shutil.which("node")),
            "-e",
            "process.stdout.write(require('zlib').brotliDecompressSync("
            "require('fs').readFileSync(process.argv[1])))",
            str(folder / "app.css.br"),
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert unpacked.decode() == CSS


def test_hashed_names_are_immutable_and_served_compressed(folder: Path) -> None:
    assets = StaticAssets({"": folder})
    url = assets.url("app.css")
    assert re.fullmatch(r"/static/app\.[0-9a-f]{12}\.css", url), url

    # No precompressed sibling yet: gzipped in memory.
    plain = get(assets, url.removeprefix("/static"), accept_encoding="gzip")
    assert plain.status_code == 200
    assert plain.headers["content-encoding"] == "gzip"
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plain.headers["vary"] == "Accept-Encoding"
    assert plain.headers["content-type"] == "text/css; charset=utf-8"
    assert plain.text == CSS

    precompress([folder])
    br = get(assets, url.removeprefix("/static"), accept_encoding="gzip, br")
    assert br.headers["content-encoding"] == "br"
    assert int(br.headers["content-length"]) == (folder / "app.css.br").stat().st_size
    identity = get(assets, url.removeprefix("/static"), accept_encoding="identity")
    assert "content-encoding" not in identity.headers and identity.text == CSS
    refused = get(assets, url.removeprefix("/static"), accept_encoding="br;q=0, gzip")
    assert refused.headers["content-encoding"] == "gzip"

    # The plain name and a stale hash still work, but are revalidated, with a 304 when unchanged.
    for name in ("/app.css", "/app.0123456789ab.css"):
        response = get(assets, name, accept_encoding="gzip")
        assert response.status_code == 200 and response.text == CSS
        assert response.headers["cache-control"] == "no-cache"
        again = get(assets, name, if_none_match=response.headers["etag"])
        assert again.status_code == 304 and again.content == b""

    # A change to the file is a new name.
    (folder / "app.css").write_text(CSS + "a { color: red; }\n")
    assert assets.url("app.css") != url


@pytest.mark.parametrize(
    "path",
    [
        "/.gitignore",
        "/%2e%2e/etc/passwd",
        "/x/..%2f..%2fetc/passwd",
        "/app%00.css",
        "/nope.css",
        "/vendor/x/y.js",
    ],
)
def test_nothing_outside_the_served_files(folder: Path, path: str) -> None:
    assets = StaticAssets({"": folder})
    assert get(assets, path).status_code == 404
    assert assets.locate("../" + folder.name + "/app.css") is None
    assert get(assets, "/app.css").status_code == 200


def test_pages_link_hashed_assets_that_come_compressed_and_cached(client: httpx.Client) -> None:
    page = client.get("/login", headers={"accept-encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip"
    assert page.headers["cache-control"] == "no-store"
    urls = set(HASHED.findall(page.text))
    names = {re.sub(r"\.[0-9a-f]{12}(\.\w+)$", r"\1", url.rsplit("/", 1)[1]) for url in urls}
    assert {"app.css", "htmx.min.js", "app.js", "favicon.ico", "favicon.svg"} <= names, urls
    assert '"/static/app.css"' not in page.text and "data:image" not in page.text
    for url in urls:
        response = client.get(url, headers={"accept-encoding": "gzip"})
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        if url.endswith((".css", ".js", ".svg")):
            assert response.headers["content-encoding"] == "gzip", url
    htmx = next(url for url in urls if "/vendor/htmx/" in url)
    served = client.get(htmx, headers={"accept-encoding": "gzip"}).content
    assert served == (node_modules_dir() / "htmx.org/dist/htmx.min.js").read_bytes()


def test_small_responses_and_documents_are_not_gzipped(client: httpx.Client) -> None:
    assert "content-encoding" not in client.get("/healthz").headers


def test_favicon(client: httpx.Client) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/vnd.microsoft.icon"
    assert icon.content == (STATIC_DIR / "favicon.ico").read_bytes()
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert icon.headers["cache-control"] == "public, max-age=86400"


def first_line_of_stream(client: httpx.Client, path: str) -> tuple[httpx.Headers, str]:
    """The response headers and first line of an event stream, read as they arrive."""
    found: dict[str, object] = {}

    def read() -> None:
        with client.stream("GET", path, headers={"accept-encoding": "gzip, br"}) as response:
            found["headers"] = response.headers
            for line in response.iter_lines():
                found["line"] = line
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=5)
    assert "line" in found, f"{path}: nothing arrived within 5 s (held in a compressor?)"
    return found["headers"], str(found["line"])  # type: ignore[return-value]


@pytest.mark.parametrize("path", ["/inbox/events", "/api/v1/events"])
def test_event_streams_are_not_compressed_or_held(client: httpx.Client, path: str) -> None:
    sign_up(client)
    headers, line = first_line_of_stream(client, path)
    assert headers["content-type"].startswith("text/event-stream")
    assert "content-encoding" not in headers
    assert line.startswith(":") or line.startswith("retry:"), line
