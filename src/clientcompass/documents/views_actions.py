"""A document's page and what can be done from it: finalise, send on WhatsApp, record the
customer's answer, convert, record a payment, issue a credit note, duplicate, delete, PDF.

Every action is a POST that redirects back to the page (a notice says what happened), or
re-shows the page with the error beside the form that caused it and what was typed kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from clientcompass.accounts.step_up import confirm
from clientcompass.auth.principal import Principal
from clientcompass.business import service as business
from clientcompass.db import UnitOfWork
from clientcompass.documents import (
    credit_notes,
    http,
    payments,
    quotes,
    send_options,
    send_templates,
    service,
    stored_pdf,
)
from clientcompass.documents.http import pdf_response, storage
from clientcompass.documents.money import format_amount, format_zar, to_cents
from clientcompass.documents.output import document_out
from clientcompass.documents.schemas import CreditNoteIn, PaymentIn
from clientcompass.documents.service import Kind
from clientcompass.documents.status import business_today
from clientcompass.documents.views_common import (
    NOUN,
    SLUGS,
    TITLE,
    document_data,
    event_text,
    form_lines,
    path_of,
    status_label,
    when,
)
from clientcompass.errors import DomainError, InvalidInput
from clientcompass.models import Document, PaymentMethod
from clientcompass.web.auth import CurrentPrincipal, State
from clientcompass.web.forms import parse
from clientcompass.web.render import form_dict, redirect, render
from clientcompass.web.state import AppState

router = APIRouter(include_in_schema=False)
NOTICES = {
    "finalised": "Finalised: the {noun} has its number and its PDF is stored.",
    "sent": "Queued on WhatsApp. The ticks show in the conversation.",
    "accepted": "Recorded: the customer accepted.",
    "declined": "Recorded: the customer declined.",
    "converted": "Invoice drafted from the quote. Check it and finalise it.",
    "paid": "Payment recorded.",
    "credited": "Credit note issued.",
    "duplicated": "This is a copy, as a new draft.",
    "template": "The suggested template was created and sent to WhatsApp for approval. "
    "Approval usually takes minutes; sending checks it again.",
}
METHODS = [
    (m.value, m.value.upper() if m.value == "eft" else m.value.title()) for m in PaymentMethod
]


async def _related(uow: UnitOfWork, document: Document) -> list[dict[str, str]]:
    """Where it came from and what came of it, as links."""
    linked = Document.source_id == document.id
    if document.source_id is not None:
        linked = linked | (Document.id == document.source_id)
    rows = await uow.session.scalars(
        select(Document)
        .where(Document.tenant_id == document.tenant_id)
        .where(linked)
        .order_by(Document.created_at)
    )
    return [
        {
            "href": path_of(Kind(row.kind), row.id),
            "label": f"{TITLE[Kind(row.kind)]} {row.number or '(draft)'}"
            + (f" · {row.invoice_part}" if row.invoice_part else ""),
        }
        for row in rows
    ]


async def document_page(
    request: Request,
    state: AppState,
    principal: Principal,
    kind: Kind,
    document_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    form: str = "",
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        loaded = await service.load(uow, document_id, kind)
        profile = await business.get_profile(uow, principal)
        today = business_today(profile.timezone, uow.now)
        out = document_out(loaded, today, vat_registered=bool(profile.vat_number))
        options = await send_options.send_options(uow, loaded.document)
        related = await _related(uow, loaded.document)
    slug = SLUGS[kind]
    done = request.query_params.get("done", "")
    context: dict[str, Any] = {
        "section": slug if kind is not Kind.CREDIT_NOTE else "invoices",
        "kind": kind.value,
        "slug": slug,
        "noun": NOUN[kind],
        "doc": out,
        "path": path_of(kind, document_id),
        "status_text": status_label(out.status),
        "notice": NOTICES.get(done, "").format(noun=NOUN[kind]),
        "history": [(when(e.at, profile.timezone), event_text(e)) for e in loaded.events],
        "related": related,
        "options": options,
        "errors": errors or {},
        "form": form,
        "typed": typed or {},
        "methods": METHODS,
        "today": today.isoformat(),
        "is_manager": principal.role.manages_business,
        "zar": format_zar,
        "amount_text": format_amount,
        "price": unit_price_text,
        "plain": plain_number,
    }
    return render(request, "documents/page.html", context, status)


def plain_number(value: Decimal) -> str:
    """50, 2.5, 15 — never 5E+1."""
    return f"{value.normalize():f}"


def unit_price_text(value: Decimal) -> str:
    """A unit price as Rand; one with fractions of a cent keeps them (e.g. R 0.4567)."""
    if value == value.quantize(Decimal("0.01")):
        return format_zar(to_cents(value))
    return f"R {value.normalize():f}"


Action = Callable[[UnitOfWork], Awaitable[str]]  # does the work, returns where to go next


async def _act(
    request: Request,
    state: AppState,
    principal: Principal,
    kind: Kind,
    document_id: uuid.UUID,
    form: str,
    action: Action,
    typed: dict[str, str] | None = None,
) -> Response:
    """Run one action in a unit of work; on a domain error show the page with the message."""
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            target: str = await action(uow)
        return redirect(target)
    except DomainError as exc:
        errors = {form: exc.message, **({f"{form}.{exc.field}": exc.message} if exc.field else {})}
        return await document_page(
            request,
            state,
            principal,
            kind,
            document_id,
            errors=errors,
            form=form,
            typed=typed,
            status=exc.status_code,
        )


def _page_routes(kind: Kind) -> None:
    slug = SLUGS[kind]
    name = slug.replace("-", "_")
    base = f"/{slug}/{{document_id:uuid}}"

    async def page(
        document_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
    ) -> Response:
        return await document_page(request, state, principal, kind, document_id)

    async def pdf(
        document_id: uuid.UUID,
        state: State,
        principal: CurrentPrincipal,
        copy: bool = Query(False),
        download: bool = Query(False),
    ) -> Response:
        """The stored PDF (identical bytes every time); `copy` reprints it marked "Copy"."""
        async with state.unit_of_work(principal.tenant_id) as uow:
            document, content = await stored_pdf.pdf_bytes(
                uow, document_id, kind, keyring=state.keyring, storage=storage(state), reprint=copy
            )
        return pdf_response(service.pdf_filename(document), content, download=download)

    router.add_api_route(base, page, methods=["GET"], name=f"{name}_page")
    router.add_api_route(f"{base}/pdf", pdf, methods=["GET"], name=f"{name}_pdf_page")
    if kind is Kind.CREDIT_NOTE:
        return

    async def finalise(
        document_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
    ) -> Response:
        async def run(uow: UnitOfWork) -> str:
            await service.finalise(
                uow, principal, document_id, kind, keyring=state.keyring, storage=storage(state)
            )
            return f"{path_of(kind, document_id)}?done=finalised"

        return await _act(request, state, principal, kind, document_id, "finalise", run)

    async def send(
        document_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
    ) -> Response:
        values = await form_dict(request)
        chosen = values.get("template_id", "")
        try:
            template_id = uuid.UUID(chosen) if chosen else None
        except ValueError:
            template_id = None  # refused below, on the page, by `run`
        await http.prepare_send(state, principal, kind, template_id)

        async def run(uow: UnitOfWork) -> str:
            if chosen and template_id is None:
                raise InvalidInput("Choose a template from the list.", field="template_id")
            await http.send_document(uow, state, principal, document_id, kind, template_id)
            return f"{path_of(kind, document_id)}?done=sent"

        return await _act(request, state, principal, kind, document_id, "send", run, values)

    async def suggested_template(
        document_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
    ) -> Response:
        async def run(uow: UnitOfWork) -> str:
            await send_templates.create_suggested_template(
                uow,
                principal,
                state.keyring,
                state.twilio,
                kind,
                settings=state.settings,
                storage=storage(state),
            )
            return f"{path_of(kind, document_id)}?done=template"

        return await _act(request, state, principal, kind, document_id, "send", run)

    async def duplicate(
        document_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
    ) -> Response:
        async def run(uow: UnitOfWork) -> str:
            copy = await service.duplicate(uow, principal, document_id, kind)
            return f"{path_of(kind, copy.id)}?done=duplicated"

        return await _act(request, state, principal, kind, document_id, "manage", run)

    async def delete(
        document_id: uuid.UUID,
        request: Request,
        state: State,
        principal: CurrentPrincipal,
        confirmed: None = confirm(f"delete this draft {NOUN[kind]}"),
    ) -> Response:
        async def run(uow: UnitOfWork) -> str:
            await service.delete_draft(uow, principal, document_id, kind)
            return f"/{slug}"

        return await _act(request, state, principal, kind, document_id, "manage", run)

    for verb, view in (
        ("finalise", finalise),
        ("send", send),
        ("send-template", suggested_template),
        ("duplicate", duplicate),
        ("delete", delete),
    ):
        router.add_api_route(
            f"{base}/{verb}", view, methods=["POST"], name=f"{name}_{verb.replace('-', '_')}_page"
        )


def _answer_route(choice: quotes.Answer) -> None:
    async def answer(
        document_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
    ) -> Response:
        """The team records an answer given by phone or in person (idempotent)."""

        async def run(uow: UnitOfWork) -> str:
            await quotes.answer(uow, document_id, choice, via="team", actor_id=principal.user_id)
            return f"{path_of(Kind.QUOTE, document_id)}?done={choice.value}ed"

        return await _act(request, state, principal, Kind.QUOTE, document_id, "answer", run)

    router.add_api_route(
        f"/quotes/{{document_id:uuid}}/{choice.value}",
        answer,
        methods=["POST"],
        name=f"quote_{choice.value}_page",
    )


@router.post("/quotes/{document_id:uuid}/convert")
async def convert_quote(
    document_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    values = await form_dict(request)

    async def run(uow: UnitOfWork) -> str:
        invoices = await quotes.convert(
            uow, principal, document_id, split_deposit=values.get("split_deposit") == "1"
        )
        return f"{path_of(Kind.INVOICE, invoices[0].id)}?done=converted"

    return await _act(request, state, principal, Kind.QUOTE, document_id, "convert", run, values)


async def _form_refused(
    request: Request,
    state: AppState,
    principal: Principal,
    document_id: uuid.UUID,
    form: str,
    errors: dict[str, str],
    typed: dict[str, str],
) -> Response:
    """The invoice page again with the form open, its first problem shown and what was typed."""
    field, message = next(iter(errors.items()))
    return await document_page(
        request,
        state,
        principal,
        Kind.INVOICE,
        document_id,
        errors={form: message, f"{form}.{field}": message},
        form=form,
        typed=typed,
        status=422,
    )


@router.post("/invoices/{document_id:uuid}/payments")
async def record_payment(
    document_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    values = await form_dict(request)
    data, errors = parse(
        PaymentIn,
        {
            "amount": values.get("amount", "").strip() or None,
            "paid_on": values.get("paid_on") or None,
            "method": values.get("method") or "eft",
            "reference": values.get("reference", ""),
        },
    )
    if data is None:
        return await _form_refused(
            request, state, principal, document_id, "payment", errors, values
        )

    async def run(uow: UnitOfWork) -> str:
        await payments.record_payment(uow, principal, document_id, data)
        return f"{path_of(Kind.INVOICE, document_id)}?done=paid"

    return await _act(request, state, principal, Kind.INVOICE, document_id, "payment", run, values)


@router.post("/invoices/{document_id:uuid}/credit-note")
async def issue_credit_note(
    document_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
) -> Response:
    """Full (no lines typed) or partial (the lines to credit), always with the reason."""
    values = await form_dict(request)
    lines = form_lines(values)
    partial = values.get("scope") == "partial"
    body: dict[str, Any] = {"reason": values.get("reason", "")}
    if partial:
        body["lines"] = document_data({}, lines)["lines"] or None
    data, errors = parse(CreditNoteIn, body)
    if data is not None and partial and not data.lines:
        data, errors = None, {"lines": "Add the line(s) to credit, or choose the whole invoice."}
    if data is None:
        return await _form_refused(request, state, principal, document_id, "credit", errors, values)

    async def run(uow: UnitOfWork) -> str:
        note = await credit_notes.issue_credit_note(
            uow, principal, document_id, data, keyring=state.keyring, storage=storage(state)
        )
        return f"{path_of(Kind.CREDIT_NOTE, note.id)}?done=credited"

    return await _act(request, state, principal, Kind.INVOICE, document_id, "credit", run, values)


for _kind in Kind:
    _page_routes(_kind)
for _choice in quotes.Answer:
    _answer_route(_choice)
