"""JSON API: /api/v1/quotes, /api/v1/invoices and /api/v1/credit-notes, and their actions.

Quotes and invoices share their routes (drafts, finalise, PDF); each kind adds its own
actions. Every route is a thin call into the same services the pages use.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BeforeValidator

from clientcompass.accounts.step_up import confirm
from clientcompass.auth.principal import Principal
from clientcompass.documents import credit_notes, listing, payments, quotes, service, stored_pdf
from clientcompass.documents.http import COLLECTIONS, output, pdf_response, storage
from clientcompass.documents.schemas import (
    ConvertIn,
    CreditNoteIn,
    DocumentIn,
    DocumentOut,
    DocumentsPage,
    PaymentIn,
)
from clientcompass.documents.service import Kind
from clientcompass.web.auth import CurrentPrincipal, State
from clientcompass.web.state import AppState


def _iso_date(value: object) -> object:
    """Only YYYY-MM-DD, as documented: pydantic alone also reads a number as a Unix time."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("Enter a date as YYYY-MM-DD.")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]

router = APIRouter(prefix="/api/v1", tags=["documents"])


async def list_page(
    state: AppState,
    principal: Principal,
    kind: Kind,
    filters: listing.Filters,
    cursor: str,
    limit: int,
) -> DocumentsPage:
    async with state.unit_of_work(principal.tenant_id) as uow:
        page = await listing.list_documents(uow, kind, filters, cursor=cursor, limit=limit)
        totals = await listing.invoice_totals(uow)
    return DocumentsPage(items=page.items, totals=totals, next_cursor=page.next_cursor)


def _shared_routes(kind: Kind) -> None:
    """Listing, reading and the PDF for every kind; drafts and finalising for quotes and
    invoices (a credit note is issued from its invoice in one step)."""
    collection = COLLECTIONS[kind]
    name = collection.replace("-", "_")

    @router.get(f"/{collection}", response_model=DocumentsPage, name=f"list_{name}")
    async def list_documents(
        state: State,
        principal: CurrentPrincipal,
        status: str = Query("", max_length=20),
        contact_id: uuid.UUID | None = None,
        date_from: IsoDate | None = None,
        date_to: IsoDate | None = None,
        cursor: str = Query("", max_length=200),
        limit: int = Query(50, ge=1, le=200),
    ) -> DocumentsPage:
        filters = listing.Filters(status, contact_id, date_from, date_to)
        return await list_page(state, principal, kind, filters, cursor, limit)

    @router.get(
        f"/{collection}/{{document_id:uuid}}", response_model=DocumentOut, name=f"get_{name}"
    )
    async def get_document(
        document_id: uuid.UUID, state: State, principal: CurrentPrincipal
    ) -> DocumentOut:
        async with state.unit_of_work(principal.tenant_id) as uow:
            return await output(uow, document_id, kind)

    @router.get(f"/{collection}/{{document_id:uuid}}/pdf", name=f"pdf_{name}")
    async def get_pdf(
        document_id: uuid.UUID,
        state: State,
        principal: CurrentPrincipal,
        copy: bool = Query(False, description="a reprint marked Copy"),
        download: bool = False,
    ) -> Response:
        """The issued PDF as stored (identical bytes every time); `copy=true` reprints it."""
        async with state.unit_of_work(principal.tenant_id) as uow:
            document, content = await stored_pdf.pdf_bytes(
                uow,
                document_id,
                kind,
                keyring=state.keyring,
                storage=storage(state),
                reprint=copy,
            )
        return pdf_response(service.pdf_filename(document), content, download=download)

    if kind is Kind.CREDIT_NOTE:
        return

    @router.post(
        f"/{collection}", response_model=DocumentOut, status_code=201, name=f"create_{name}"
    )
    async def create(data: DocumentIn, state: State, principal: CurrentPrincipal) -> DocumentOut:
        async with state.unit_of_work(principal.tenant_id) as uow:
            document = await service.create_draft(uow, principal, kind, data)
            return await output(uow, document.id, kind)

    @router.put(
        f"/{collection}/{{document_id:uuid}}", response_model=DocumentOut, name=f"update_{name}"
    )
    async def update(
        document_id: uuid.UUID, data: DocumentIn, state: State, principal: CurrentPrincipal
    ) -> DocumentOut:
        async with state.unit_of_work(principal.tenant_id) as uow:
            await service.update_draft(uow, principal, document_id, kind, data)
            return await output(uow, document_id, kind)

    @router.delete(f"/{collection}/{{document_id:uuid}}", status_code=204, name=f"delete_{name}")
    async def delete(
        document_id: uuid.UUID,
        state: State,
        principal: CurrentPrincipal,
        confirmed: None = confirm("delete this draft"),
    ) -> None:
        """Delete a draft (a numbered document stays). Step-up: a session confirmed in the
        last minutes (POST /api/v1/me/step-up), or X-Confirm-Password."""
        async with state.unit_of_work(principal.tenant_id) as uow:
            await service.delete_draft(uow, principal, document_id, kind)

    @router.post(
        f"/{collection}/{{document_id:uuid}}/duplicate",
        response_model=DocumentOut,
        status_code=201,
        name=f"duplicate_{name}",
    )
    async def duplicate(
        document_id: uuid.UUID, state: State, principal: CurrentPrincipal
    ) -> DocumentOut:
        async with state.unit_of_work(principal.tenant_id) as uow:
            copy = await service.duplicate(uow, principal, document_id, kind)
            return await output(uow, copy.id, kind)

    @router.post(
        f"/{collection}/{{document_id:uuid}}/finalise",
        response_model=DocumentOut,
        name=f"finalise_{name}",
    )
    async def finalise(
        document_id: uuid.UUID, state: State, principal: CurrentPrincipal
    ) -> DocumentOut:
        """Give the document its number and store its PDF; finalising twice changes nothing."""
        async with state.unit_of_work(principal.tenant_id) as uow:
            await service.finalise(
                uow,
                principal,
                document_id,
                kind,
                keyring=state.keyring,
                storage=storage(state),
            )
            return await output(uow, document_id, kind)


for _kind in Kind:
    _shared_routes(_kind)


@router.post("/quotes/{document_id:uuid}/accept", response_model=DocumentOut)
async def accept_quote(
    document_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> DocumentOut:
    """Record that the customer accepted (e.g. on the phone); idempotent."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        await quotes.answer(
            uow, document_id, quotes.Answer.ACCEPT, via="team", actor_id=principal.user_id
        )
        return await output(uow, document_id, Kind.QUOTE)


@router.post("/quotes/{document_id:uuid}/decline", response_model=DocumentOut)
async def decline_quote(
    document_id: uuid.UUID, state: State, principal: CurrentPrincipal
) -> DocumentOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await quotes.answer(
            uow, document_id, quotes.Answer.DECLINE, via="team", actor_id=principal.user_id
        )
        return await output(uow, document_id, Kind.QUOTE)


@router.post(
    "/quotes/{document_id:uuid}/convert", response_model=list[DocumentOut], status_code=201
)
async def convert_quote(
    document_id: uuid.UUID, data: ConvertIn, state: State, principal: CurrentPrincipal
) -> list[DocumentOut]:
    """Draft invoice(s) from the quote: one, or a deposit and a final invoice."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        invoices = await quotes.convert(
            uow, principal, document_id, split_deposit=data.split_deposit
        )
        return [await output(uow, invoice.id, Kind.INVOICE) for invoice in invoices]


@router.post("/invoices/{document_id:uuid}/payments", response_model=DocumentOut, status_code=201)
async def record_payment(
    document_id: uuid.UUID, data: PaymentIn, state: State, principal: CurrentPrincipal
) -> DocumentOut:
    async with state.unit_of_work(principal.tenant_id) as uow:
        await payments.record_payment(uow, principal, document_id, data)
        return await output(uow, document_id, Kind.INVOICE)


@router.post(
    "/invoices/{document_id:uuid}/credit-notes", response_model=DocumentOut, status_code=201
)
async def issue_credit_note(
    document_id: uuid.UUID, data: CreditNoteIn, state: State, principal: CurrentPrincipal
) -> DocumentOut:
    """Correct an issued invoice: credit it all (no lines) or in part, with the reason."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        note = await credit_notes.issue_credit_note(
            uow, principal, document_id, data, keyring=state.keyring, storage=storage(state)
        )
        return await output(uow, note.id, Kind.CREDIT_NOTE)
