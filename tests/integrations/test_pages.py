"""The integrations settings page and the webhook API as people and attackers use them:
the secret shown once, CSRF, roles, another business's webhook, and the SSRF wall with the
production setting (private targets not allowed) at creation and at delivery."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlencode

import httpx
import psycopg

from clientcompass.integrations import service
from clientcompass.models import Role
from tests.conftest import LiveServer, StartServer
from tests.integrations.conftest import Receiver, run_jobs
from tests.support import factories
from tests.support.accounts import PASSWORD, sign_up
from tests.support.forms import api_headers, page_csrf
from tests.support.step_up import CONFIRM

PAGE = "/settings/integrations"


def add_through_the_form(client: httpx.Client, url: str, *events: str) -> httpx.Response:
    token = page_csrf(client, PAGE)
    data = [("csrf_token", token), ("url", url), ("description", "Zapier")]
    data += [("events", e) for e in events]
    return client.post(
        PAGE + "/webhooks",
        content=urlencode(data),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def test_the_page_adds_a_webhook_and_shows_its_secret_once(
    client: httpx.Client, receiver: Receiver
) -> None:
    sign_up(client)
    page = client.get(PAGE)
    assert page.status_code == 200 and 'data-testid="no-webhooks"' in page.text

    made = add_through_the_form(client, f"{receiver.url}/page", "quote.accepted", "invoice.paid")

    assert made.status_code == 201, made.text[:500]
    secret = re.search(r'value="(whsec_[^"]+)"', made.text)
    assert secret is not None
    listed = client.get("/api/v1/webhooks").json()
    assert [(w["url"], w["events"], w["description"]) for w in listed] == [
        (f"{receiver.url}/page", ["quote.accepted", "invoice.paid"], "Zapier")
    ]
    again = client.get(PAGE)
    assert f"{receiver.url}/page" in again.text and secret.group(1) not in again.text


def test_the_form_says_what_is_wrong(client: httpx.Client) -> None:
    sign_up(client)
    no_events = add_through_the_form(client, "https://hooks.example.com/x")
    assert no_events.status_code == 422 and "Choose at least one event." in no_events.text
    bad = add_through_the_form(client, "ftp://hooks.example.com/x", "lead.created")
    assert bad.status_code == 422 and "The URL must start with https://." in bad.text
    assert client.get("/api/v1/webhooks").json() == []


def test_a_post_without_the_csrf_token_changes_nothing(client: httpx.Client) -> None:
    sign_up(client)
    refused = client.post(
        PAGE + "/webhooks", data={"url": "https://hooks.example.com/x", "events": "lead.created"}
    )
    assert refused.status_code == 403
    assert client.get("/api/v1/webhooks").json() == []


def test_another_business_webhook_is_not_found(
    live_server: LiveServer, client: httpx.Client
) -> None:
    sign_up(client)
    made = client.post(
        "/api/v1/webhooks",
        json={"url": "https://hooks.example.com/mine", "events": ["lead.created"]},
        headers=api_headers(client),
    ).json()
    with httpx.Client(base_url=live_server.url, timeout=20) as attacker:
        sign_up(attacker)
        headers = api_headers(attacker)
        base = f"/api/v1/webhooks/{made['id']}"
        assert attacker.get(base).status_code == 404
        assert attacker.get(base + "/deliveries").status_code == 404
        assert attacker.post(base + "/test", headers=headers).status_code == 404
        assert attacker.patch(base, json={"active": False}, headers=headers).status_code == 404
        # Confirmed with its own password, it still meets the tenant wall.
        assert attacker.delete(base, headers={**headers, **CONFIRM}).status_code == 404
        token = page_csrf(attacker, PAGE)
        for action in ("test", "pause", "rotate", "delete"):
            answer = attacker.post(
                f"{PAGE}/webhooks/{made['id']}/{action}",
                data={"csrf_token": token, "password": PASSWORD},
            )
            assert answer.status_code == 404, action
        assert attacker.get("/api/v1/webhooks").json() == []
    assert client.get(f"/api/v1/webhooks/{made['id']}").json()["status"] == "active"


def test_only_owners_and_admins_manage_webhooks(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as owner_client:
        owner = sign_up(owner_client)
    agent = factories.teammate(
        live_server.settings,
        owner.tenant_id,
        owner.user_id,
        email=factories.unique_email("agent"),
        role=Role.AGENT,
        name="Agent",
    )
    with httpx.Client(base_url=live_server.url, timeout=20) as client:
        factories.sign_in(client, agent)
        assert client.get(PAGE).status_code == 403
        assert client.get("/api/v1/webhooks").status_code == 403
        made = client.post(
            "/api/v1/webhooks",
            json={"url": "https://hooks.example.com/x", "events": ["lead.created"]},
            headers=api_headers(client),
        )
        assert made.status_code == 403
        assert "/settings/integrations" not in client.get("/settings/account").text


def test_with_private_targets_not_allowed_the_api_refuses_them(
    server_variant: StartServer,
) -> None:
    server = server_variant(webhook_allow_private_targets=False)
    with httpx.Client(base_url=server.url, timeout=20) as client:
        sign_up(client)
        headers = api_headers(client)
        for url in (
            "http://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:10.0.0.1]/x",
        ):
            made = client.post(
                "/api/v1/webhooks", json={"url": url, "events": ["lead.created"]}, headers=headers
            )
            assert made.status_code == 422, url
        assert client.get("/api/v1/webhooks").json() == []


def test_a_delivery_to_a_private_address_fails_at_once_with_nothing_sent(
    live_server: LiveServer,
    client: httpx.Client,
    receiver: Receiver,
    owner_conn: psycopg.Connection,
) -> None:
    """Made while private targets were allowed, sent after they no longer are: refused by the
    job itself (a name may also come to resolve to a private address after it was saved)."""
    sign_up(client)
    port = receiver.url.rsplit(":", 1)[1]
    headers = api_headers(client)
    made = client.post(
        "/api/v1/webhooks",
        json={"url": f"http://localhost:{port}/private", "events": ["lead.created"]},
        headers=headers,
    ).json()
    delivery = client.post(f"/api/v1/webhooks/{made['id']}/test", headers=headers).json()

    run_jobs(live_server.settings.model_copy(update={"webhook_allow_private_targets": False}))

    assert receiver.at("/private") == []
    [logged] = client.get(f"/api/v1/webhooks/{made['id']}/deliveries").json()
    assert (logged["status"], logged["attempts"]) == ("failed", 1)
    assert logged["last_error"].startswith("refused:") and logged["last_status_code"] is None
    left = owner_conn.execute(
        "select count(*) from procrastinate_jobs where task_name = %s and status = 'todo' "
        "and args->>'delivery_id' = %s",
        (service.DELIVER_TASK, delivery["id"]),
    ).fetchone()
    assert left == (0,)
    assert uuid.UUID(made["id"])
