"""`POST /meta/data-deletion` over real HTTP, as Meta's servers call it (a form post with no
cookie and no CSRF token), and the status page it links to."""

from __future__ import annotations

import re

import httpx
import psycopg
import pytest

from clientcompass.config import Settings
from tests.conftest import LiveServer, StartServer
from tests.lifecycle_data.test_signed_request import FORGED, PAYLOAD, SECRET, meta_signs

PATH = "/meta/data-deletion"


def recorded(conn: psycopg.Connection) -> int:
    row = conn.execute("select count(*) from meta_deletion_requests").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def meta_server(server_variant: StartServer) -> LiveServer:
    return server_variant(meta_app_secret=SECRET)


def test_a_signed_request_is_recorded_and_its_status_page_says_what_was_deleted(
    meta_server: LiveServer, owner_conn: psycopg.Connection
) -> None:
    with httpx.Client(base_url=meta_server.url, timeout=20) as meta:
        answer = meta.post(PATH, data={"signed_request": meta_signs(PAYLOAD)})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        body = answer.json()
        assert set(body) == {"url", "confirmation_code"}
        code = body["confirmation_code"]
        assert re.fullmatch(r"[0-9a-f]{20}", code)
        assert body["url"] == f"{meta_server.settings.base_url}{PATH}/{code}"

        row = owner_conn.execute(
            "select meta_user_id, outcome, completed_at is not null "
            "from meta_deletion_requests where confirmation_code = %s",
            (code,),
        ).fetchone()
        assert row is not None and row[0] == "218471" and row[2]

        # The person follows the link: plain words, no sign-in.
        with httpx.Client(timeout=20) as person:
            page = person.get(body["url"])
        assert page.status_code == 200
        assert page.headers["x-robots-tag"] == "noindex, nofollow"
        assert code in page.text
        assert "nothing to delete" in page.text
        assert "linked to a Meta user id" in page.text
        assert "South African time" in page.text and "Done on" in page.text
        assert "218471" not in page.text, "the page needs only the code, not the person's id"

        # Each call is its own request with its own code.
        again = meta.post(PATH, data={"signed_request": meta_signs(PAYLOAD)}).json()
        assert again["confirmation_code"] != code


def test_forged_signed_requests_get_400_and_record_nothing(
    meta_server: LiveServer, owner_conn: psycopg.Connection
) -> None:
    before = recorded(owner_conn)
    with httpx.Client(base_url=meta_server.url, timeout=20) as meta:
        for case, forge in sorted(FORGED.items()):
            answer = meta.post(PATH, data={"signed_request": forge()})
            assert answer.status_code == 400, (case, answer.text)
            assert answer.json()["error"]["code"] == "invalid", case
        for name, sent in {
            "no field": {"data": {"user_id": "218471"}},
            "no body": {},
            "json instead of a form": {"json": {"signed_request": meta_signs(PAYLOAD)}},
            "the field twice, the first forged": {
                "content": f"signed_request={FORGED['wrong secret']()}"
                f"&signed_request={meta_signs(PAYLOAD)}",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
            },
        }.items():
            answer = meta.post(PATH, **sent)  # type: ignore[arg-type]
            assert answer.status_code == 400, (name, answer.text)
    assert recorded(owner_conn) == before


def test_without_meta_app_secret_the_callback_is_not_there(
    live_server: LiveServer, owner_conn: psycopg.Connection
) -> None:
    assert not live_server.settings.meta_app_secret
    before = recorded(owner_conn)
    with httpx.Client(base_url=live_server.url, timeout=20) as meta:
        answer = meta.post(PATH, data={"signed_request": meta_signs(PAYLOAD, "")})
        assert answer.status_code == 404
        assert "META_APP_SECRET is not set" in answer.json()["error"]["message"]
        for code in ("0" * 20, "a" * 40, "not-a-code"):
            page = meta.get(f"{PATH}/{code}")
            assert page.status_code == 404
            assert "No data deletion request has this confirmation code" in page.text
    assert recorded(owner_conn) == before


def test_the_secret_is_never_shown(settings: Settings) -> None:
    configured = settings.model_copy(update={"meta_app_secret": SECRET})
    assert SECRET not in repr(configured) and SECRET not in str(configured)
