"""Static files for phones on South African mobile data: few bytes, and none twice.

Every file under `/static` has a content-hashed name (`static_url("app.css")` gives
`/static/app.3f9c0e1a2b4d.css`), served with a year's `immutable` cache, so a warm page asks
for none of them again and a release that changes a file changes its name. Bodies go out
compressed: `precompress()` writes `.br` and `.gz` beside each text file at install time
(`make install`; brotli from the `brotli` module, or else from Node, which the install has
for `npm ci` anyway), and a file without an up-to-date sibling is gzipped once in memory, so a
read-only install (the Docker image) still sends compressed bytes. The plain name keeps
working, revalidated by its ETag, for pages that do not use `static_url` yet.

The front-end libraries are served from `node_modules`, where npm installed them; they are
never copied into git.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import mimetypes
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

PACKAGE_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = PACKAGE_DIR / "static"
# URL folder under /static/vendor → folder under node_modules; only these are served.
VENDOR_ASSETS = {
    "htmx": "htmx.org/dist",
    "htmx-ext-sse": "htmx-ext-sse/dist",
    "swagger-ui": "swagger-ui-dist",
}

DIGEST_LENGTH = 12
HASHED_NAME = re.compile(
    rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{DIGEST_LENGTH}}})(?P<suffix>\.\w+)$"
)
COMPRESSIBLE = frozenset({".css", ".js", ".mjs", ".svg", ".json", ".map", ".txt", ".html", ".ico"})
# Source maps are fetched only by developer tools: compressed on demand, not at install.
NOT_PRECOMPRESSED = frozenset({".map"})
# Below this, compression saves less than its own framing.
MIN_PRECOMPRESS_BYTES = 256
SIBLINGS = (("br", ".br"), ("gzip", ".gz"))
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".ico": "image/vnd.microsoft.icon",
    ".map": "application/json",
}
BROTLI_WITH_NODE = """
const fs = require("fs"), zlib = require("zlib");
for (const file of process.argv.slice(1)) {
  const body = fs.readFileSync(file);
  fs.writeFileSync(file + ".br", zlib.brotliCompressSync(body, {params: {
    [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
    [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length}}));
}
"""


def node_modules_dir() -> Path:
    """npm installs front-end libraries at set-up; they are served, never copied into git."""
    for candidate in (Path.cwd() / "node_modules", PACKAGE_DIR.parent.parent / "node_modules"):
        if candidate.is_dir():
            return candidate
    return Path.cwd() / "node_modules"


def served_folders(node_modules: Path) -> dict[str, Path]:
    """URL folder under /static ("" for the package's own files) → the folder on disk."""
    vendor = {f"vendor/{mount}": node_modules / folder for mount, folder in VENDOR_ASSETS.items()}
    return {**vendor, "": STATIC_DIR}


@dataclass(frozen=True)
class Asset:
    path: Path
    digest: str
    size: int
    mtime_ns: int


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:DIGEST_LENGTH]


def hashed_name(name: str, digest: str) -> str:
    """`vendor/htmx/htmx.min.js` → `vendor/htmx/htmx.min.<digest>.js`."""
    folder, _, file = name.rpartition("/")
    stem, dot, suffix = file.rpartition(".")
    if not dot or not stem:
        return name
    return f"{folder}/{stem}.{digest}.{suffix}" if folder else f"{stem}.{digest}.{suffix}"


def _accepted(header: str) -> set[str]:
    """Codings the client accepts (`q=0` means refused)."""
    accepted = set()
    for part in header.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding and params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            accepted.add(coding.strip())
    return accepted


def _fresh_sibling(path: Path, suffix: str, source_mtime_ns: int) -> Path | None:
    sibling = path.with_name(path.name + suffix)
    try:
        return sibling if sibling.stat().st_mtime_ns >= source_mtime_ns else None
    except OSError:
        return None


def _media_type(path: Path) -> str:
    return (
        MEDIA_TYPES.get(path.suffix)
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )


class StaticAssets:
    """The ASGI app behind `/static`, and `url()` for the templates' `static_url`."""

    def __init__(self, folders: Mapping[str, Path]) -> None:
        # Longest URL folder first, so `vendor/htmx-ext-sse` is not taken for the own files.
        self.folders = sorted(folders.items(), key=lambda item: -len(item[0]))
        self._assets: dict[Path, Asset] = {}
        self._gzipped: dict[tuple[Path, str], bytes] = {}

    def locate(self, name: str) -> Path | None:
        """The file a name under /static stands for, never outside the served folders."""
        parts = name.split("/")
        if any(not part or part.startswith(".") for part in parts):
            return None
        for prefix, folder in self.folders:
            if prefix and not name.startswith(prefix + "/"):
                continue
            relative = name[len(prefix) + 1 :] if prefix else name
            candidate = folder / relative
            try:
                if candidate.resolve().is_relative_to(folder.resolve()) and candidate.is_file():
                    return candidate
            except (OSError, ValueError):  # ValueError: a NUL byte in the name
                return None
            return None
        return None

    def asset(self, path: Path) -> Asset:
        """The file's digest, recomputed only when its size or modification time changed."""
        stat = path.stat()
        known = self._assets.get(path)
        if known and known.size == stat.st_size and known.mtime_ns == stat.st_mtime_ns:
            return known
        asset = Asset(path, _digest(path), stat.st_size, stat.st_mtime_ns)
        self._assets[path] = asset
        return asset

    def url(self, name: str) -> str:
        """The content-hashed URL of a file under /static (its plain URL if it is missing)."""
        path = self.locate(name)
        if path is None:
            return f"/static/{name}"
        return f"/static/{hashed_name(name, self.asset(path).digest)}"

    def find(self, name: str) -> tuple[Path, str | None] | None:
        """The file a request names, and the digest the name carries, if it is a hashed one."""
        path = self.locate(name)
        if path is not None:
            return path, None
        folder, _, file = name.rpartition("/")
        match = HASHED_NAME.match(file)
        if match is None:
            return None
        plain = f"{match['stem']}{match['suffix']}"
        path = self.locate(f"{folder}/{plain}" if folder else plain)
        return (path, match["digest"]) if path is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        root = scope.get("root_path", "")
        path: str = scope["path"]
        name = path[len(root) :] if root and path.startswith(root) else path
        response = await self.response(name.lstrip("/"), Headers(scope=scope), scope["method"])
        await response(scope, receive, send)

    async def response(
        self, name: str, headers: Headers, method: str = "GET", cache: str | None = None
    ) -> Response:
        """The file `name` (hashed or plain) for a request with these headers."""
        if method not in ("GET", "HEAD"):
            return PlainTextResponse("Method Not Allowed", 405, headers={"allow": "GET, HEAD"})
        found = self.find(name)
        if found is None:
            return PlainTextResponse("Not Found", 404)
        path, requested = found
        asset = self.asset(path)
        # A stale hash (a page from before a release) still gets today's file, revalidated.
        cache_control = cache or (IMMUTABLE if requested == asset.digest else REVALIDATE)
        compressible = path.suffix in COMPRESSIBLE
        common = {"cache-control": cache_control}
        if compressible:
            common["vary"] = "Accept-Encoding"
        cached = [tag for tag in headers.get("if-none-match", "").split(",") if asset.digest in tag]
        if cached:
            return Response(status_code=304, headers={**common, "etag": cached[0].strip()})

        coding, body = None, None
        if compressible:
            coding, body = await self._encoded(asset, _accepted(headers.get("accept-encoding", "")))
        if body is None:
            body = await anyio.to_thread.run_sync(path.read_bytes)
        etag = f'"{asset.digest}-{coding}"' if coding else f'"{asset.digest}"'
        response_headers = {**common, "etag": etag}
        if coding:
            response_headers["content-encoding"] = coding
        response = Response(
            body if method == "GET" else b"",
            media_type=_media_type(path),
            headers=response_headers,
        )
        response.headers["content-length"] = str(len(body))
        return response

    async def _encoded(self, asset: Asset, accepted: set[str]) -> tuple[str | None, bytes | None]:
        for coding, suffix in SIBLINGS:
            if coding in accepted:
                sibling = _fresh_sibling(asset.path, suffix, asset.mtime_ns)
                if sibling is not None:
                    return coding, await anyio.to_thread.run_sync(sibling.read_bytes)
        if "gzip" not in accepted:
            return None, None
        key = (asset.path, asset.digest)
        if key not in self._gzipped:
            raw = await anyio.to_thread.run_sync(asset.path.read_bytes)
            packed = await anyio.to_thread.run_sync(lambda: gzip.compress(raw, 9, mtime=0))
            self._gzipped[key] = packed if len(packed) < len(raw) else b""
        packed = self._gzipped[key]
        return ("gzip", packed) if packed else (None, None)


# -- install time ------------------------------------------------------------------------


def _texts(folders: Iterable[Path]) -> Iterator[Path]:
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if (
                path.is_file()
                and path.suffix in COMPRESSIBLE - NOT_PRECOMPRESSED
                and path.stat().st_size >= MIN_PRECOMPRESS_BYTES
                and not any(part.startswith(".") for part in path.relative_to(folder).parts)
            ):
                yield path


def _stale(path: Path, suffix: str) -> bool:
    return _fresh_sibling(path, suffix, path.stat().st_mtime_ns) is None


def _dated_as_source(path: Path, suffix: str) -> None:
    """A sibling carries its source's modification time: fresh until the source changes, even
    when the source's clock was ahead of ours."""
    stat = path.stat()
    os.utime(path.with_name(path.name + suffix), ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _gzip_sibling_matches(path: Path) -> bool:
    """A `.gz` a package shipped (htmx does) is kept only if it is this very file."""
    try:
        return gzip.decompress(path.with_name(path.name + ".gz").read_bytes()) == path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile):
        return False


def _brotli(paths: list[Path]) -> str:
    """Write `.br` siblings with the brotli module, or else with Node's zlib."""
    try:
        brotli = importlib.import_module("brotli")  # optional: not a dependency of the app
    except ImportError:
        node = shutil.which("node")
        if node is None:
            return "skipped (neither the brotli module nor node is installed)"
        for start in range(0, len(paths), 200):
            batch = [str(path) for path in paths[start : start + 200]]
            subprocess.run([node, "-e", BROTLI_WITH_NODE, *batch], check=True)  # noqa: S603
        how = "node"
    else:
        for path in paths:
            packed = brotli.compress(path.read_bytes(), quality=11)
            path.with_name(path.name + ".br").write_bytes(packed)
        how = "brotli"
    for path in paths:
        _dated_as_source(path, ".br")
    return how


def precompress(folders: Iterable[Path]) -> tuple[int, str]:
    """Write `.gz` and `.br` beside every text file served from `folders` that lacks fresh ones.

    Returns how many files were (re)compressed and what made the brotli ones.
    """
    touched = set()
    needs_brotli = []
    for path in _texts(folders):
        if _stale(path, ".gz") or not _gzip_sibling_matches(path):
            packed = gzip.compress(path.read_bytes(), 9, mtime=0)
            path.with_name(path.name + ".gz").write_bytes(packed)
            _dated_as_source(path, ".gz")
            touched.add(path)
        if _stale(path, ".br"):
            needs_brotli.append(path)
            touched.add(path)
    how = _brotli(needs_brotli) if needs_brotli else "up to date"
    return len(touched), how


def main() -> None:
    """`python -m clientcompass.web.assets`: the install step that precompresses /static."""
    folders = served_folders(node_modules_dir()).values()
    count, how = precompress(folders)
    print(f"precompressed {count} static files (brotli: {how})", file=sys.stderr)


if __name__ == "__main__":
    main()
