"""The short public link sent with a quote: `/d/` and 40 characters, signed and expiring, and
naming only the document (its tenant is looked up), so it cannot pair one business with
another's document. Forged, altered, expired or foreign tokens get the plain 404 page."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import httpx
import pytest

from clientcompass import links
from clientcompass.config import Settings
from clientcompass.documents import public
from clientcompass.models import Document
from tests.conftest import LiveServer
from tests.support.documents import quote_for, token_for

BROWSER_UA = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36"


def customer(live_server: LiveServer) -> httpx.Client:
    """A customer's phone browser: no session cookie."""
    return httpx.Client(base_url=live_server.url, timeout=20, headers={"user-agent": BROWSER_UA})


def link_of(settings: Settings, quote: dict[str, object]) -> str:
    document = Document(
        tenant_id=uuid.UUID(str(quote["tenant_id"])), id=uuid.UUID(str(quote["id"]))
    )
    return public.public_link(settings, document)


def test_short_tokens_read_back_and_refuse_what_was_not_signed() -> None:
    secret, document_id = "s" * 40, uuid.uuid4()
    token = links.sign_short(secret, "document", document_id, lifetime=60)
    assert len(token) == links.SHORT_TOKEN_LENGTH
    assert links.read_short(secret, "document", token) == document_id
    assert links.read_short("t" * 40, "document", token) is None  # another secret
    assert links.read_short(secret, "outbound-media", token) is None  # another purpose
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    assert links.read_short(secret, "document", flipped) is None
    assert links.read_short(secret, "document", token[:-1]) is None
    assert links.read_short(secret, "document", "!" * 40) is None
    expired = links.sign_short(secret, "document", document_id, lifetime=-1)
    assert links.read_short(secret, "document", expired) is None
    # A long token is not mistaken for a short one (and the reverse).
    long = links.sign(secret, "document", uuid.uuid4(), document_id, lifetime=60)
    assert links.read_short(secret, "document", long) is None
    assert links.read(secret, "document", token) is None


def test_the_link_is_short_and_opens_the_document(
    client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    quote, _ = quote_for(client)
    link = link_of(settings, quote)
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == settings.base_url
    assert len(parts.path) < 45, parts.path
    with customer(live_server) as browser:
        page = browser.get(parts.path)
        pdf = browser.get(f"{parts.path}/pdf")
    assert page.status_code == 200 and quote["number"] in page.text
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["status"] == "viewed"


def test_links_sent_before_keep_working(
    client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    quote, _ = quote_for(client)
    with customer(live_server) as browser:
        assert browser.get(f"/d/{token_for(settings, quote)}").status_code == 200


@pytest.mark.parametrize(
    "attack", ["forged", "altered", "expired", "unknown_document", "other_secret"]
)
def test_bad_short_tokens_get_the_plain_not_found_page_and_touch_nothing(
    attack: str, client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    victim, _ = quote_for(client)
    good = link_of(settings, victim).rsplit("/", 1)[1]
    victim_id = uuid.UUID(str(victim["id"]))
    if attack == "forged":
        token = (good[:20] + "x" * 20)[: links.SHORT_TOKEN_LENGTH]
    elif attack == "altered":
        flip = "A" if good[3] != "A" else "B"
        token = good[:3] + flip + good[4:]  # another document id, signature unchanged
    elif attack == "expired":
        token = links.sign_short(settings.secret_key, "document", victim_id, lifetime=-10)
    elif attack == "unknown_document":
        token = links.sign_short(settings.secret_key, "document", uuid.uuid4(), lifetime=60)
    else:
        token = links.sign_short("not-the-secret-" + "y" * 32, "document", victim_id, lifetime=60)
    with customer(live_server) as browser:
        page = browser.get(f"/d/{token}")
        pdf = browser.get(f"/d/{token}/pdf")
    assert (page.status_code, pdf.status_code) == (404, 404)
    assert "not valid or has expired" in page.text and victim["number"] not in page.text
    stored = client.get(f"/api/v1/quotes/{victim['id']}").json()
    assert stored["status"] == "finalised" and stored["viewed_at"] is None


def test_each_business_link_opens_only_its_own_document(
    client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    mine, _ = quote_for(client, name="Mine Customer")
    with httpx.Client(base_url=live_server.url, timeout=20) as other_client:
        theirs, _ = quote_for(other_client, name="Their Customer")
    # The token names a document only; the tenant comes from the document itself, so no
    # token can ask for one business's document under another business.
    with customer(live_server) as browser:
        their_page = browser.get(urlsplit(link_of(settings, theirs)).path)
        my_page = browser.get(urlsplit(link_of(settings, mine)).path)
    assert their_page.status_code == 200 and my_page.status_code == 200
    assert "Their Customer" in their_page.text and "Mine Customer" not in their_page.text
    assert "Mine Customer" in my_page.text and "Their Customer" not in my_page.text
    # A token claiming the other business in its long form is refused (the tenant pairs).
    crossed = links.sign(
        settings.secret_key,
        "document",
        uuid.UUID(str(mine["tenant_id"])),
        uuid.UUID(str(theirs["id"])),
        lifetime=60,
    )
    with customer(live_server) as browser:
        assert browser.get(f"/d/{crossed}").status_code == 404
