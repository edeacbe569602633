"""The SSRF wall of outgoing webhooks (integrations/http.py), with private targets NOT
allowed (the production setting): every refused URL is refused before a connection is made,
which the local receiver (counting every TCP connection it accepts) confirms."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import httpx
import pytest

from clientcompass.config import Environment, Settings
from clientcompass.errors import ConfigurationError
from clientcompass.integrations import http
from tests.integrations.conftest import Receiver
from tests.support.aio import run_async


def post(
    url: str, *, allow_private: bool = False, resolver: http.Resolver | None = None
) -> http.Answer:
    async def go() -> http.Answer:
        async with httpx.AsyncClient() as client:
            return await http.post(
                client,
                url,
                b"{}",
                {"content-type": "application/json"},
                allow_private=allow_private,
                resolver=resolver or http.system_resolver,
            )

    return run_async(go)


def fixed(*addresses: str, calls: list[str] | None = None) -> http.Resolver:
    """A DNS answer chosen by the test (and a record of each lookup)."""

    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return list(addresses)

    return resolve


def port_of(receiver: Receiver) -> int:
    return int(receiver.url.rsplit(":", 1)[1])


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.0.0.1",
        "169.254.169.254",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "localhost",  # a name that resolves to loopback
        "0.0.0.0",
        "[::]",
        "100.64.0.1",
        "[fe80::1]",
        "224.0.0.1",
        "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
    ],
)
def test_private_and_reserved_targets_are_refused_with_nothing_sent(
    receiver: Receiver, host: str
) -> None:
    answer = post(f"https://{host}:{port_of(receiver)}/hook")
    assert answer.status is None and answer.error.startswith("refused:"), answer
    # Not even a connection: the check comes before it.
    assert receiver.connections == 0 and receiver.requests == []


def test_http_is_refused_and_so_is_a_name_resolving_to_a_private_address(
    receiver: Receiver,
) -> None:
    answer = post(f"{receiver.url}/hook")
    assert answer.error == "refused: The URL must start with https://."
    answer = post("https://hooks.example.test/x", resolver=fixed("10.1.2.3"))
    assert "resolves to a private or reserved address" in answer.error
    # One private address among public ones is enough to refuse (a rebinding answer).
    answer = post("https://hooks.example.test/x", resolver=fixed("93.184.216.34", "127.0.0.1"))
    assert answer.error.startswith("refused:")
    assert receiver.connections == 0


def test_the_connection_goes_to_the_address_that_was_checked(receiver: Receiver) -> None:
    """No second lookup: the name is resolved once (by our resolver, here to the receiver),
    the request goes to that address, and the Host header keeps the name."""
    calls: list[str] = []
    port = port_of(receiver)
    answer = post(
        f"http://receiver.invalid:{port}/hook?x=1",
        allow_private=True,
        resolver=fixed("127.0.0.1", calls=calls),
    )
    assert answer.status == 200, answer
    assert calls == ["receiver.invalid"]
    [request] = receiver.requests
    assert request.path == "/hook?x=1"
    assert request.headers["host"] == f"receiver.invalid:{port}"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("192.168.1.1", False),
        ("172.16.0.1", False),
        ("198.18.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.216.34", True),
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert http.is_public(ipaddress.ip_address(address)) is public


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.answer_with(302)
    answer = post(f"{receiver.url}/hook", allow_private=True)
    assert answer.status == 302 and not answer.ok
    assert len(receiver.requests) == 1


def test_production_refuses_to_let_webhooks_reach_private_addresses(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "env": Environment.PRODUCTION,
            "data_dir": tmp_path,
            "webhook_allow_private_targets": True,
        }
    )
    with pytest.raises(ConfigurationError, match="WEBHOOK_ALLOW_PRIVATE_TARGETS"):
        settings.ensure_secrets()
