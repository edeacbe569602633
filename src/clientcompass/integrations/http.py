"""An SSRF-safe POST to a URL a customer typed: outgoing webhooks now, the flows' "call a
webhook" step later.

A business's webhook URL is untrusted input aimed from inside our network, so the request must
never reach our own services, the cloud metadata endpoint (169.254.169.254) or anything else
private. The rules:
- https only (http only with WEBHOOK_ALLOW_PRIVATE_TARGETS, for local receivers in tests);
- the host is resolved here, and every address it resolves to must be public: loopback,
  private, shared (100.64/10), link-local, multicast, unspecified and reserved ranges are
  refused, IPv4 and IPv6 alike, and an IPv6 address that embeds an IPv4 one (mapped, NAT64,
  6to4, Teredo) is judged by the IPv4 address inside;
- the connection goes to the address that was checked, never through a second DNS lookup
  that a rebinding DNS server could answer differently: the URL's host is replaced by that
  address, while the `Host` header and TLS (SNI and certificate check) keep the name;
- no redirect is followed (a 3xx is an answer like any other: not delivered);
- a 10-second timeout, and at most 64 KiB of the answer is read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 64 * 1024
MAX_URL_LENGTH = 2048
USER_AGENT = "ClientCompass-Webhooks/1"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port → the addresses it resolves to (injectable, so tests can name a host).
Resolver = Callable[[str, int], Awaitable[list[str]]]

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")


class UnsafeTarget(ValueError):
    """A URL we refuse to call; the message says why, for the person who typed it."""


@dataclass(frozen=True)
class Target:
    """A URL checked for sending: where to connect, and the name it was given by."""

    url: str  # as typed
    connect_url: str  # the same URL with the checked address as its host
    host: str
    address: str


@dataclass(frozen=True)
class Answer:
    """What came back: a status (None when nothing did), the time it took, and why it
    failed when it did."""

    status: int | None
    duration_ms: int
    error: str = ""
    body: bytes = b""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet (and so a fair webhook target)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            return is_public(inner)
        if address in NAT64_LOCAL:
            return False
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or not address.is_global
    )


def check_url(url: str, *, allow_private: bool = False) -> tuple[str, str, int]:
    """The URL's scheme, host and port, or `UnsafeTarget` for one we never call. A literal
    address is judged here; a name when it is resolved, at each send."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(char.isspace() for char in url):
        raise UnsafeTarget("That is not a valid URL: it has a space in it.")
    try:
        parts = urlsplit(url)
        port = parts.port
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise UnsafeTarget("That is not a valid URL.") from exc
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_private else ("https",)
    if scheme not in allowed:
        raise UnsafeTarget("The URL must start with https://.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeTarget("The URL has no host name.")
    if parts.username or parts.password:
        raise UnsafeTarget("Leave the user name and password out of the URL.")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and not allow_private and not is_public(literal):
        raise UnsafeTarget("That address is private or reserved: use a public https URL.")
    return scheme, host, port or (443 if scheme == "https" else 80)


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


async def resolve(
    url: str, *, allow_private: bool = False, resolver: Resolver = system_resolver
) -> Target:
    """Check the URL and resolve its host once; every address must be public (a name that
    resolves to one private address among public ones is refused: a DNS answer is easily
    made to list both)."""
    scheme, host, port = check_url(url, allow_private=allow_private)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = await resolver(host, port)
        except (OSError, UnicodeError, ValueError) as exc:
            raise UnsafeTarget(f"The host name {host} could not be resolved.") from exc
    checked = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    if not checked:
        raise UnsafeTarget(f"The host name {host} could not be resolved.")
    if not allow_private and not all(is_public(a) for a in checked):
        raise UnsafeTarget(f"{host} resolves to a private or reserved address.")
    chosen = checked[0]
    parts = urlsplit(url.strip())
    netloc = f"[{chosen}]" if chosen.version == 6 else str(chosen)
    if parts.port is not None:
        netloc += f":{parts.port}"
    connect_url = urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
    return Target(url=url.strip(), connect_url=connect_url, host=host, address=str(chosen))


def _host_header(target: Target) -> str:
    parts = urlsplit(target.url)
    host = f"[{target.host}]" if ":" in target.host else target.host
    return f"{host}:{parts.port}" if parts.port is not None else host


async def post(
    http: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool = False,
    resolver: Resolver = system_resolver,
    timeout_seconds: float = TIMEOUT_SECONDS,
) -> Answer:
    """POST `body` to `url` by the rules above. Never raises for the target's faults: a
    refused URL, a network error or a timeout is an `Answer` without a status."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = await resolve(url, allow_private=allow_private, resolver=resolver)
    except UnsafeTarget as exc:
        return Answer(None, took(), f"refused: {exc}")
    try:
        request = http.build_request(
            "POST",
            target.connect_url,
            content=body,
            # One connection per request: a pooled connection is keyed by address, and one
            # whose TLS was checked for another name on the same address must not carry this.
            headers={
                **headers,
                "host": _host_header(target),
                "user-agent": USER_AGENT,
                "connection": "close",
            },
            timeout=httpx.Timeout(timeout_seconds),
            extensions={"sni_hostname": target.host},
        )
    except (httpx.InvalidURL, ValueError) as exc:
        return Answer(None, took(), f"refused: not a valid URL ({str(exc)[:100]})")
    try:
        response = await http.send(request, stream=True, follow_redirects=False)
        try:
            received = bytearray()
            async for chunk in response.aiter_raw():
                received += chunk
                if len(received) >= MAX_RESPONSE_BYTES:
                    break
        finally:
            await response.aclose()
    except httpx.TimeoutException:
        return Answer(None, took(), f"timed out after {timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        return Answer(None, took(), f"{type(exc).__name__}: {str(exc)[:200]}")
    return Answer(response.status_code, took(), body=bytes(received[:MAX_RESPONSE_BYTES]))
