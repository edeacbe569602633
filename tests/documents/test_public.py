"""The customer's public document link /d/{token}: what it shows, what it records, Accept and
Decline, and the attacks it must refuse (forged, altered, expired, cross-tenant, no CSRF)."""

from __future__ import annotations

import hashlib
import re
import uuid

import httpx
import pytest

from clientcompass import links
from clientcompass.config import Settings
from clientcompass.documents import public
from clientcompass.models import Document
from tests.conftest import LiveServer, StandinServer
from tests.support.documents import (
    PROFILE,
    draft,
    finalised,
    quote_for,
    token_for,
    vat_business,
    with_tenant,
)
from tests.support.forms import api_headers, page_csrf
from tests.support.whatsapp import connect_channel, conversation_with, customer_says, sa_mobile

BROWSER_UA = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36"


def customer(live_server: LiveServer) -> httpx.Client:
    """A browser with no Client Compass session: the customer."""
    return httpx.Client(
        base_url=live_server.url,
        follow_redirects=False,
        timeout=20,
        headers={"user-agent": BROWSER_UA},
    )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def csrf_of_cookie(browser: httpx.Client) -> str:
    token = browser.cookies.get("cc_csrf")
    assert token, "the page set no CSRF cookie"
    return token


def test_link_previews_are_told_apart_from_people() -> None:
    for fetcher in (
        "WhatsApp/2.23.20.0 A",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "TelegramBot (like TwitterBot)",
    ):
        assert public.is_link_preview(fetcher), fetcher
    for person in (
        BROWSER_UA,
        "Mozilla/5.0 (Linux; Android 9; CUBOT X19 Build/PPR1) Chrome/120 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Safari/604.1",
    ):
        assert not public.is_link_preview(person), person


def test_public_link_helper_signs_a_link_the_page_reads(
    client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    quote, _ = quote_for(client)
    document = Document(tenant_id=uuid.UUID(quote["tenant_id"]), id=uuid.UUID(quote["id"]))
    link = public.public_link(settings, document)
    assert link.startswith(f"{settings.base_url}/d/")
    # The links sent name only the document; long tokens sent before still read as they did.
    short = link.rsplit("/", 1)[1]
    long = public.public_token(settings, document)
    granted = public.read_public_token(settings, long)
    assert granted == public.PublicRef(document.tenant_id, document.id)
    with customer(live_server) as browser:
        assert browser.get(f"/d/{short}").status_code == 200
        assert browser.get(f"/d/{long}").status_code == 200


def test_the_page_shows_the_quote_and_nothing_else_and_records_viewed(
    client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    quote, headers = quote_for(client)
    other = finalised(client, headers, name="Other Customer", phone="+27825550177")
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["viewed_at"] is None
    token = token_for(settings, quote)
    with customer(live_server) as browser:
        page = browser.get(f"/d/{token}")
    assert page.status_code == 200, page.text[:300]
    html = page.text
    assert quote["number"] in html and "Nomvula Mthembu-Müller" in html
    assert "Zoë&#39;s Electrical" in html  # escaped, as all of the customer's text is
    assert "Geyser element" in html and quote["total"] in html
    assert "Accept quote" in html and "Decline" in html
    assert page.headers["x-robots-tag"].startswith("noindex")
    # Nothing about other documents, customers or the app: no ids, no links away.
    assert other["number"] not in html and "Other Customer" not in html
    assert quote["id"] not in html and quote["contact_id"] not in html
    assert quote["tenant_id"] not in html
    targets = re.findall(r'(?:href|action|src)="([^"]*)"', html)
    assert targets, "the page links its PDF and forms"
    assert all(t.startswith((f"/d/{token}", "/static/", "data:")) for t in targets), targets
    seen = client.get(f"/api/v1/quotes/{quote['id']}").json()
    assert seen["status"] == "viewed" and seen["viewed_at"] is not None
    assert [e["kind"] for e in seen["events"]].count("viewed") == 1


def test_a_link_preview_or_the_business_itself_does_not_mark_it_viewed(
    client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    quote, _ = quote_for(client)
    token = token_for(settings, quote)
    with customer(live_server) as preview:
        preview.headers["user-agent"] = "WhatsApp/2.23.20.0 A"
        assert preview.get(f"/d/{token}").status_code == 200
    assert client.get(f"/d/{token}").status_code == 200  # the owner, signed in
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["viewed_at"] is None


def test_accept_works_once_and_a_second_click_says_already_accepted(
    client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    quote, _ = quote_for(client)
    token = token_for(settings, quote)
    with customer(live_server) as browser:
        csrf = csrf_of(browser.get(f"/d/{token}").text)
        first = browser.post(f"/d/{token}/accept", data={"csrf_token": csrf})
        assert first.status_code == 303
        assert first.headers["location"] == f"/d/{token}?answer=accepted"
        shown = browser.get(first.headers["location"]).text
        assert "You accepted this quote" in shown
        assert 'data-testid="status">Accepted<' in shown and "Accept quote" not in shown
        again = browser.post(f"/d/{token}/accept", data={"csrf_token": csrf})
        assert again.headers["location"] == f"/d/{token}?answer=already-accepted"
        assert "already accepted" in browser.get(again.headers["location"]).text
        # Declining after accepting is refused, and changes nothing.
        decline = browser.post(f"/d/{token}/decline", data={"csrf_token": csrf})
        assert decline.status_code == 409 and "accepted already" in decline.text
    stored = client.get(f"/api/v1/quotes/{quote['id']}").json()
    assert stored["status"] == "accepted"
    assert [e["kind"] for e in stored["events"]].count("accepted") == 1
    accepted = next(e for e in stored["events"] if e["kind"] == "accepted")
    assert accepted["detail"] == {"via": "link"}


def test_the_team_is_told_in_the_customers_thread(
    client: httpx.Client, settings: Settings, live_server: LiveServer, standin: StandinServer
) -> None:
    vat_business(client)
    channel = connect_channel(client, standin)
    phone = sa_mobile()
    customer_says(standin, channel, phone, "Please quote for a new geyser")
    conversation = conversation_with(client, phone)
    quote = with_tenant(client, finalised(client, api_headers(client), phone=phone))
    assert quote["contact_id"] == conversation["contact"]["id"]
    token = token_for(settings, quote)
    with customer(live_server) as browser:
        csrf = csrf_of(browser.get(f"/d/{token}").text)
        for _ in range(2):
            browser.post(f"/d/{token}/accept", data={"csrf_token": csrf})
    notes = [
        e["body"]
        for e in client.get(f"/api/v1/conversations/{conversation['id']}/events").json()
        if e["kind"] == "note"
    ]
    assert notes == [f"The customer accepted quote {quote['number']} through its link."]


def test_decline_records_the_answer(
    client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    quote, _ = quote_for(client)
    token = token_for(settings, quote)
    with customer(live_server) as browser:
        csrf = csrf_of(browser.get(f"/d/{token}").text)
        response = browser.post(f"/d/{token}/decline", data={"csrf_token": csrf})
        assert response.headers["location"] == f"/d/{token}?answer=declined"
    assert client.get(f"/api/v1/quotes/{quote['id']}").json()["status"] == "declined"


def test_accept_without_the_csrf_token_is_refused(
    client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    quote, _ = quote_for(client)
    token = token_for(settings, quote)
    with customer(live_server) as browser:
        csrf = csrf_of(browser.get(f"/d/{token}").text)
        missing = browser.post(f"/d/{token}/accept", data={})
        wrong = browser.post(f"/d/{token}/accept", data={"csrf_token": csrf[:-2] + "xx"})
    with customer(live_server) as forger:  # another site's form: no cookie, made-up token
        forged = forger.post(f"/d/{token}/accept", data={"csrf_token": csrf})
    assert (missing.status_code, wrong.status_code, forged.status_code) == (403, 403, 403)
    stored = client.get(f"/api/v1/quotes/{quote['id']}").json()
    assert stored["status"] == "viewed" and stored["responded_at"] is None


@pytest.mark.parametrize(
    "attack", ["forged", "altered", "expired", "other_tenant", "other_purpose"]
)
def test_bad_tokens_get_a_plain_not_found_and_touch_nothing(
    attack: str, client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    victim, _ = quote_for(client)  # tenant B's quote
    with httpx.Client(base_url=live_server.url, timeout=20) as attacker_client:
        attacker, _ = quote_for(attacker_client)  # tenant A
    good = token_for(settings, victim)
    if attack == "forged":
        token = links.sign(
            "not-the-secret-" + "y" * 32,
            "document",
            uuid.UUID(victim["tenant_id"]),
            uuid.UUID(victim["id"]),
            lifetime=3600,
        )
    elif attack == "altered":
        flip = "A" if good[10] != "A" else "B"
        token = good[:10] + flip + good[11:]
    elif attack == "expired":
        token = token_for(settings, victim, lifetime=-10)
    elif attack == "other_tenant":
        token = links.sign(
            settings.secret_key,
            "document",
            uuid.UUID(attacker["tenant_id"]),
            uuid.UUID(victim["id"]),
            lifetime=3600,
        )
    else:
        token = links.sign(
            settings.secret_key,
            "media",
            uuid.UUID(victim["tenant_id"]),
            uuid.UUID(victim["id"]),
            lifetime=3600,
        )
    with customer(live_server) as browser:
        # A real CSRF pair, from the attacker's own public page.
        csrf = csrf_of(browser.get(f"/d/{token_for(settings, attacker)}").text)
        page = browser.get(f"/d/{token}")
        pdf = browser.get(f"/d/{token}/pdf")
        accept = browser.post(f"/d/{token}/accept", data={"csrf_token": csrf})
    assert (page.status_code, pdf.status_code, accept.status_code) == (404, 404, 404)
    assert "not valid or has expired" in page.text
    assert victim["number"] not in page.text and "Nomvula" not in page.text
    assert 'href="' not in page.text.split("<body", 1)[1]  # a plain page: no links anywhere
    stored = client.get(f"/api/v1/quotes/{victim['id']}").json()
    assert stored["status"] == "finalised" and stored["viewed_at"] is None


def test_the_customers_text_is_escaped(
    client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    _, headers = vat_business(client)
    lines = [{"description": '<img src=x onerror="alert(1)">', "quantity": "1", "unit_price": "10"}]
    quote = with_tenant(
        client,
        finalised(
            client, headers, name="<script>alert(1)</script>", lines=lines, notes="<b>hi</b>"
        ),
    )
    with customer(live_server) as browser:
        html = browser.get(f"/d/{token_for(settings, quote)}").text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)" in html
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "<b>hi</b>" not in html


def test_a_credit_note_has_its_own_page(
    client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    _, headers = vat_business(client)
    invoice = finalised(client, headers, "invoices")
    note = client.post(
        f"/api/v1/invoices/{invoice['id']}/credit-notes",
        json={"reason": "Wrong element fitted"},
        headers=headers,
    )
    assert note.status_code == 201, note.text
    credit = with_tenant(client, note.json())
    with customer(live_server) as browser:
        html = browser.get(f"/d/{token_for(settings, credit)}").text
    assert "Credit Note" in html and credit["number"] in html
    assert invoice["number"] in html and "Wrong element fitted" in html
    assert "Accept quote" not in html and 'data-testid="banking"' not in html


def test_a_draft_has_no_public_page(
    client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    _, headers = vat_business(client)
    unfinished = with_tenant(client, draft(client, headers))
    with customer(live_server) as browser:
        assert browser.get(f"/d/{token_for(settings, unfinished)}").status_code == 404


def test_invoice_page_shows_banking_and_balance_and_serves_the_stored_pdf(
    client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    _, headers = vat_business(client)
    invoice = with_tenant(client, finalised(client, headers, "invoices"))
    paid = client.post(
        f"/api/v1/invoices/{invoice['id']}/payments", json={"amount": "100.00"}, headers=headers
    )
    assert paid.status_code == 201, paid.text
    token = token_for(settings, invoice)
    with customer(live_server) as browser:
        html = browser.get(f"/d/{token}").text
        pdf = browser.get(f"/d/{token}/pdf?download=1")
    assert "Tax Invoice" in html and invoice["number"] in html
    assert "62812345678" in html and "250655" in html  # the banking details, to pay by EFT
    assert 'data-testid="balance"' in html and "Accept quote" not in html
    assert "Partially paid" in html
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment;")
    assert hashlib.sha256(pdf.content).hexdigest() == invoice["pdf_sha256"]
    stored = client.get(f"/api/v1/invoices/{invoice['id']}").json()
    assert stored["viewed_at"] is not None and stored["status"] == "partially_paid"
    rest = client.post(
        f"/api/v1/invoices/{invoice['id']}/payments",
        json={"amount": f"{stored['balance_cents'] / 100:.2f}"},
        headers=headers,
    )
    assert rest.status_code == 201, rest.text
    with customer(live_server) as browser:
        settled = browser.get(f"/d/{token}").text
    assert 'data-testid="status">Paid<' in settled
    assert 'data-testid="banking"' not in settled  # nothing left to pay


def test_an_expired_quote_can_no_longer_be_accepted(
    client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    _, headers = vat_business(client)
    quote = with_tenant(
        client,
        finalised(client, headers, issue_date="2025-01-10", valid_until="2025-02-09"),
    )
    token = token_for(settings, quote)
    with customer(live_server) as browser:
        page = browser.get(f"/d/{token}").text
        assert 'data-testid="status">Expired<' in page and "Accept quote" not in page
        accept = browser.post(f"/d/{token}/accept", data={"csrf_token": csrf_of_cookie(browser)})
    assert accept.status_code == 409 and "expired on 9 Feb 2025" in accept.text
    stored = client.get(f"/api/v1/quotes/{quote['id']}").json()
    assert stored["status"] == "expired" and stored["responded_at"] is None


def test_the_business_logo_is_served_only_through_a_valid_link(
    client: httpx.Client, settings: Settings, live_server: LiveServer
) -> None:
    quote, _ = quote_for(client)
    token = token_for(settings, quote)
    with customer(live_server) as browser:
        assert "/logo" not in browser.get(f"/d/{token}").text
        assert browser.get(f"/d/{token}/logo").status_code == 404
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    uploaded = client.post(
        "/settings/business",
        data={**PROFILE, "csrf_token": page_csrf(client, "/settings/business")},
        files={"logo": ("logo.png", png, "image/png")},
    )
    assert uploaded.status_code == 303, uploaded.text[:300]
    with customer(live_server) as browser:
        assert f'src="/d/{token}/logo"' in browser.get(f"/d/{token}").text
        logo = browser.get(f"/d/{token}/logo")
        assert logo.status_code == 200 and logo.content == png
        altered = token[:-1] + ("A" if token[-1] != "A" else "B")
        assert browser.get(f"/d/{altered}/logo").status_code == 404
