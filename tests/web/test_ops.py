"""Operations endpoints, the API's error shape, HTTPS-only headers, and what logs may hold."""

from __future__ import annotations

import re

import httpx
import pytest

from clientcompass.logs import configure_logging, redact
from tests.conftest import StartServer, free_port
from tests.support.accounts import PASSWORD, sign_up
from tests.support.forms import api_headers, page_csrf


def test_healthz_and_readyz(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgresql": "ok", "redis": "ok"}


def test_readyz_names_what_is_down(server_variant: StartServer) -> None:
    server = server_variant(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    response = httpx.get(f"{server.url}/readyz", timeout=10)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["down"] == ["redis"]


def test_https_public_url_turns_on_hsts_and_secure_cookies(server_variant: StartServer) -> None:
    https = server_variant(public_base_url="https://app.example.co.za")
    response = httpx.get(f"http://127.0.0.1:{https.settings.port}/login")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "Secure" in response.headers["set-cookie"]


def test_metrics_count_requests_by_route_template_and_show_the_pool(client: httpx.Client) -> None:
    sign_up(client)
    client.get("/api/v1/me")
    client.get("/api/v1/nope")
    text = client.get("/metrics").text
    assert 'clientcompass_http_requests_total{method="GET",route="/api/v1/me",status="200"}' in text
    assert 'route="<unmatched>",status="404"' in text
    assert (
        'clientcompass_http_request_duration_seconds_bucket{le="0.05",method="GET",route="/api/v1/me"'
        in text
    )
    assert "clientcompass_db_pool_checked_out " in text
    assert "clientcompass_db_pool_size " in text


def test_api_errors_have_one_shape(client: httpx.Client) -> None:
    unauthenticated = client.get("/api/v1/me")
    assert unauthenticated.status_code == 401
    assert set(unauthenticated.json()["error"]) == {"code", "message"}
    missing = client.get("/api/v1/does-not-exist")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "There is nothing at this address."
    sign_up(client)
    invalid = client.put("/api/v1/business/profile", json={"email": 5}, headers=api_headers(client))
    assert invalid.status_code == 422
    error = invalid.json()["error"]
    assert error["code"] == "invalid"
    assert "trading_name" in error["fields"] and "email" in error["fields"]


def test_openapi_document_and_docs_page(client: httpx.Client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    for path in (
        "/api/v1/me",
        "/api/v1/business/profile",
        "/api/v1/business/banking-details",
        "/api/v1/members",
    ):
        assert path in spec["paths"], path
    assert not any(p.startswith("/settings") for p in spec["paths"]), (
        "HTML routes stay out of the API"
    )
    docs = client.get("/api/docs")
    bundle = re.search(r'src="(/static/vendor/swagger-ui/swagger-ui-bundle[^"]*\.js)"', docs.text)
    assert docs.status_code == 200 and bundle is not None
    assert client.get(bundle.group(1)).status_code == 200  # its content-hashed name
    assert client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/vendor/htmx/htmx.min.js").status_code == 200


def test_logs_hold_no_secrets(
    client: httpx.Client, capfd: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging("INFO")  # here, so the handler writes to this test's captured stderr
    account = sign_up(client)
    response = client.put(
        "/api/v1/business/banking-details",
        json={
            "bank": "Nedbank",
            "account_holder": "Secret Holder",
            "account_number": "99887766554",
            "branch_code": "198765",
            "account_type": "business",
            "password": PASSWORD,
        },
        headers=api_headers(client),
    )
    assert response.status_code == 204
    page_csrf(client, "/settings/account")
    output = capfd.readouterr()
    logs = output.out + output.err
    assert '"route": "/api/v1/business/banking-details"' in logs, "the access log must be on"
    assert '"request_id": "' in logs and '"level": "info"' in logs, "JSON lines with a request id"
    for secret in (PASSWORD, "99887766554", "198765", client.cookies["cc_session"]):
        assert secret not in logs
    assert account.email not in logs
    assert redact({"password": "x", "nested": {"auth_token": "y"}, "ok": "z"}) == {
        "password": "[redacted]",
        "nested": {"auth_token": "[redacted]"},
        "ok": "z",
    }


def test_metrics_token_guards_metrics_when_set(server_variant: StartServer) -> None:
    server = server_variant(metrics_token="scrape-me-please")
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    wrong = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    ok = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer scrape-me-please"})
    assert ok.status_code == 200 and "clientcompass_http_requests_total" in ok.text
