"""Every download route streams from the database with ETag, Content-Length and Range:
an issued document's PDF (API, page and the customer's public link) and WhatsApp media
(for members, and the signed address Twilio fetches)."""

from __future__ import annotations

import hashlib
import uuid

import httpx

from clientcompass.config import Settings
from clientcompass.whatsapp import outbound_media
from tests.conftest import LiveServer
from tests.files.helpers import assert_serves, big_png, upload
from tests.support.accounts import sign_up
from tests.support.documents import finalised, token_for, vat_business, with_tenant


def test_an_issued_pdf_serves_ranges_and_revalidates_on_every_route(
    live_server: LiveServer, settings: Settings
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=20) as client:
        _, headers = vat_business(client)
        invoice = with_tenant(client, finalised(client, headers, "invoices"))
        pdf = client.get(f"/api/v1/invoices/{invoice['id']}/pdf").content
        assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == invoice["pdf_sha256"]
        assert_serves(client, f"/api/v1/invoices/{invoice['id']}/pdf", pdf)
        assert_serves(client, f"/invoices/{invoice['id']}/pdf", pdf)
        with httpx.Client(base_url=live_server.url, timeout=20) as customer:
            assert_serves(customer, f"/d/{token_for(settings, invoice)}/pdf", pdf)
        download = client.get(f"/api/v1/invoices/{invoice['id']}/pdf?download=true")
        assert download.headers["content-disposition"].startswith("attachment;")
        # A reprint is rendered afresh, marked "Copy": not the stored bytes, but still ranged.
        copy = client.get(f"/api/v1/invoices/{invoice['id']}/pdf?copy=true")
        assert copy.status_code == 200 and copy.content != pdf
        assert copy.headers["etag"] == f'"{hashlib.sha256(copy.content).hexdigest()}"'


def test_media_of_three_chunks_streams_and_ranges_across_chunk_boundaries(
    live_server: LiveServer, settings: Settings
) -> None:
    data = big_png()
    with httpx.Client(base_url=live_server.url, timeout=20) as client:
        sign_up(client)
        item = upload(client, data)
        assert item["size"] == len(data)
        assert_serves(client, f"/media/{item['id']}", data)
        tenant_id = uuid.UUID(client.get("/api/v1/me").json()["tenant_id"])
        token = outbound_media.signed_token(settings.secret_key, tenant_id, uuid.UUID(item["id"]))
        with httpx.Client(base_url=live_server.url, timeout=20) as twilio:
            assert_serves(twilio, f"/m/{token}/site.png", data)
