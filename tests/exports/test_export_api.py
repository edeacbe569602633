"""Data exports through the JSON API (/api/v1/exports): the business and one customer, queued,
polled and downloaded with an owner's API token or session; a person's own data; and the
walls around them: owners only, another business's export not found, a link only while it
is current, nothing signed out."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from clientcompass import links
from clientcompass.config import Settings
from clientcompass.lifecycle import export
from tests.auth.helpers import bearer, create_token
from tests.conftest import LiveServer
from tests.support.accounts import invite_and_join, sign_up
from tests.support.forms import api_headers
from tests.support.jobs import run_jobs_until
from tests.support.whatsapp import sa_mobile

EXPORTS = "/api/v1/exports"


def add_contact(client: httpx.Client, name: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/contacts", json={"name": name, "phone": sa_mobile()}, headers=api_headers(client)
    )
    assert response.status_code == 201, response.text[:300]
    body: dict[str, Any] = response.json()
    return body


def requested(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text[:300]
    body: dict[str, Any] = response.json()
    assert response.headers["location"] == f"{EXPORTS}/{body['id']}"
    assert body["status"] == "queued" and body["download_url"] is None
    return body


def ready(live_server: LiveServer, api: httpx.Client, export_id: str) -> dict[str, Any]:
    """Run the jobs until the export is ready; the export as the API shows it then."""

    def done() -> dict[str, Any] | None:
        response = api.get(f"{EXPORTS}/{export_id}")
        assert response.status_code == 200, response.text[:300]
        body: dict[str, Any] = response.json()
        assert body["status"] in ("queued", "running", "ready"), body
        return body if body["status"] == "ready" else None

    found = run_jobs_until(live_server, done, timeout=30, message="the export to be ready")
    assert found is not None
    return found


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def unzip(response: httpx.Response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    return zipfile.ZipFile(io.BytesIO(response.content))


def phones(archive: zipfile.ZipFile) -> list[str]:
    return sorted(row["phone_e164"] for row in json.loads(archive.read("data/contacts.json")))


def test_an_owner_exports_the_business_with_an_api_token_and_downloads_it(
    client: httpx.Client,
    live_server: LiveServer,
    settings: Settings,
    owner_conn: psycopg.Connection,
) -> None:
    owner = sign_up(client)
    first = add_contact(client, "Ayanda Api")
    second = add_contact(client, "Bongani Api")
    _, secret = create_token(client, "export script")
    with bearer(live_server.url, secret) as api:
        started = requested(api.post(EXPORTS, json={"kind": "business"}))
        assert started["kind"] == "business" and started["label"] == "Whole business"
        assert [e["id"] for e in api.get(EXPORTS).json()] == [started["id"]]
        audited = owner_conn.execute(
            "select actor_id, details->>'kind' from audit_events where tenant_id = %s "
            "and action = 'export_created' and target_id = %s",
            (owner.tenant_id, started["id"]),
        ).fetchall()
        assert audited == [(owner.user_id, "business")]

        done = ready(live_server, api, started["id"])
        assert done["size"] > 0 and done["progress"]["stage"] == "done"
        expires = datetime.fromisoformat(done["expires_at"])
        assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)
        url = done["download_url"]
        assert url.startswith(f"{settings.base_url}{EXPORTS}/download?token=")
        archive = unzip(api.get(path_of(url)))
        assert phones(archive) == sorted([first["phone"], second["phone"]])
        assert archive.testzip() is None
        # The same link, from the owner's browser session.
        assert client.get(path_of(url)).status_code == 200

        # A link altered, or signed to have expired, opens nothing.
        token = url.split("token=")[1]
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert api.get(f"{EXPORTS}/download", params={"token": tampered}).status_code == 404
        stale = links.sign(
            settings.secret_key,
            export.PURPOSE,
            owner.tenant_id,
            uuid.UUID(started["id"]),
            lifetime=-5,
        )
        assert api.get(f"{EXPORTS}/download", params={"token": stale}).status_code == 404

        # Past the export's own expiry, its current link is refused and none is offered.
        owner_conn.execute(
            "update exports set expires_at = now() - interval '1 minute' "
            "where tenant_id = %s and id = %s",
            (owner.tenant_id, started["id"]),
        )
        assert api.get(path_of(url)).status_code == 404
        assert api.get(f"{EXPORTS}/{started['id']}").json()["download_url"] is None


def test_a_customer_export_through_the_api_holds_that_customer_only(
    client: httpx.Client, live_server: LiveServer, owner_conn: psycopg.Connection
) -> None:
    owner = sign_up(client)
    wanted = add_contact(client, "Ayanda Customer")
    other = add_contact(client, "Bongani Other")
    headers = api_headers(client)

    # Which customer must be said, and only for a customer export; one we do not have is
    # not found. None of these starts anything.
    assert client.post(EXPORTS, json={"kind": "customer"}, headers=headers).status_code == 422
    stray = {"kind": "business", "contact_id": wanted["id"]}
    assert client.post(EXPORTS, json=stray, headers=headers).status_code == 422
    nobody = {"kind": "customer", "contact_id": str(uuid.uuid4())}
    assert client.post(EXPORTS, json=nobody, headers=headers).status_code == 404
    assert client.get(EXPORTS).json() == []

    body = {"kind": "customer", "contact_id": wanted["id"]}
    started = requested(client.post(EXPORTS, json=body, headers=headers))
    assert started["contact_id"] == wanted["id"]
    assert started["label"] == "Customer: Ayanda Customer"
    done = ready(live_server, client, started["id"])
    archive = unzip(client.get(path_of(done["download_url"])))
    assert phones(archive) == [wanted["phone"]]
    everything = b"".join(archive.read(name) for name in archive.namelist())
    assert other["phone"].encode() not in everything and b"Bongani" not in everything
    audited = owner_conn.execute(
        "select details->>'contact_id' from audit_events where tenant_id = %s "
        "and action = 'export_created'",
        (owner.tenant_id,),
    ).fetchall()
    assert audited == [(wanted["id"],)]


def test_every_person_gets_their_own_data_through_the_api(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    with httpx.Client(base_url=live_server.url, timeout=20) as agent:
        email = invite_and_join(client, agent, role="agent")
        asked = agent.post(EXPORTS, json={"kind": "account"}, headers=api_headers(agent))
        assert asked.status_code == 303
        assert asked.headers["location"] == f"{EXPORTS}/account"
        response = agent.get(asked.headers["location"])
        assert response.status_code == 200
        assert "attachment" in response.headers["content-disposition"]
        data = response.json()
        assert [p["email"] for p in data["profile"]] == [email]
        assert "password_hash" not in data["profile"][0]
        assert data["signed_in_devices"][0]["this_device"] is True
        _, secret = create_token(agent, "my data")
    with bearer(live_server.url, secret) as api:
        data = api.get(f"{EXPORTS}/account").json()
        assert [p["email"] for p in data["profile"]] == [email]
        assert [t["name"] for t in data["api_tokens"]] == ["my data"]
        assert secret not in json.dumps(data)


def test_only_owners_of_that_business_reach_its_exports_and_nobody_signed_out(
    client: httpx.Client, live_server: LiveServer
) -> None:
    sign_up(client)
    contact = add_contact(client, "Ayanda Walled")
    started = requested(
        client.post(EXPORTS, json={"kind": "business"}, headers=api_headers(client))
    )
    done = ready(live_server, client, started["id"])
    link = path_of(done["download_url"])
    one = f"{EXPORTS}/{started['id']}"

    # An agent of this business may neither export the business or a customer, nor list,
    # look at or download an export; their own data is theirs to take.
    with httpx.Client(base_url=live_server.url, timeout=20) as agent:
        invite_and_join(client, agent, role="agent")
        headers = api_headers(agent)
        business = agent.post(EXPORTS, json={"kind": "business"}, headers=headers)
        assert business.status_code == 403
        assert business.json()["error"]["message"] == export.OWNERS_ONLY
        customer = {"kind": "customer", "contact_id": contact["id"]}
        assert agent.post(EXPORTS, json=customer, headers=headers).status_code == 403
        for path in (EXPORTS, one, link):
            assert agent.get(path).status_code == 403, path
        assert agent.get(f"{EXPORTS}/account").status_code == 200

    # Another business's owner: our export, its link and our customer are not found.
    with httpx.Client(base_url=live_server.url, timeout=20) as other:
        sign_up(other)
        assert other.get(one).status_code == 404
        assert other.get(link).status_code == 404
        assert started["id"] not in other.get(EXPORTS).text
        customer = {"kind": "customer", "contact_id": contact["id"]}
        assert other.post(EXPORTS, json=customer, headers=api_headers(other)).status_code == 404

    # Signed out, nothing answers but "sign in".
    with httpx.Client(base_url=live_server.url, timeout=20) as stranger:
        for path in (EXPORTS, one, link, f"{EXPORTS}/account"):
            assert stranger.get(path).status_code == 401, path
        assert stranger.post(EXPORTS, json={"kind": "business"}).status_code == 401
        forged = httpx.Client(
            base_url=live_server.url, headers={"Authorization": "Bearer cct_forged"}, timeout=20
        )
        with forged:
            assert forged.get(link).status_code == 401
    assert [e["id"] for e in client.get(EXPORTS).json()] == [started["id"]]
