"""Quotes and invoices pages: the lists with filters and totals, and the editor.

Thin routes over the services the JSON API uses. A form that fails comes back with every
field as typed and the message beside the field; nothing is stored.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from clientcompass.auth.principal import Principal
from clientcompass.business import service as business
from clientcompass.documents import listing, money, service, views_actions
from clientcompass.documents import settings as document_settings
from clientcompass.documents.schemas import DocumentIn, LineIn
from clientcompass.documents.service import Kind
from clientcompass.documents.status import business_today
from clientcompass.documents.views_common import (
    NOUN,
    SLUGS,
    STATUS_FILTERS,
    TITLE,
    blank_line,
    contact_choices,
    document_data,
    form_lines,
    line_data,
    line_values,
    path_of,
    status_label,
)
from clientcompass.errors import DomainError, InvalidInput
from clientcompass.leads import service as leads
from clientcompass.web.auth import CurrentPrincipal, State
from clientcompass.web.forms import domain_error_fields, parse
from clientcompass.web.render import form_dict, redirect, render
from clientcompass.web.state import AppState

router = APIRouter(include_in_schema=False)
EDITABLE = (Kind.QUOTE, Kind.INVOICE)
PAGE_SIZE = 25


def _filters(
    status: str, contact_id: str, date_from: str, date_to: str
) -> tuple[listing.Filters, dict[str, str]]:
    """The list's filters from the query string; a bad value is ignored and shown as typed."""
    chosen: uuid.UUID | None = None
    try:
        chosen = uuid.UUID(contact_id) if contact_id else None
    except ValueError:
        chosen = None

    def day(text: str) -> date | None:
        try:
            return date.fromisoformat(text) if text else None
        except ValueError:
            return None

    values = {
        "status": status,
        "contact_id": contact_id,
        "date_from": date_from,
        "date_to": date_to,
    }
    return listing.Filters(status, chosen, day(date_from), day(date_to)), values


def _list_route(kind: Kind) -> None:
    slug = SLUGS[kind]

    async def list_page(
        request: Request,
        state: State,
        principal: CurrentPrincipal,
        status: str = Query("", max_length=20),
        contact_id: str = Query("", max_length=40),
        date_from: str = Query("", max_length=10),
        date_to: str = Query("", max_length=10),
        cursor: str = Query("", max_length=200),
    ) -> Response:
        filters, values = _filters(status, contact_id, date_from, date_to)
        async with state.unit_of_work(principal.tenant_id) as uow:
            page = await listing.list_documents(uow, kind, filters, cursor=cursor, limit=PAGE_SIZE)
            totals = await listing.invoice_totals(uow) if kind is Kind.INVOICE else None
            contacts = await contact_choices(uow) if not request.headers.get("hx-request") else []
        query = urlencode(
            {k: v for k, v in values.items() if v} | {"cursor": page.next_cursor or ""}
        )
        context = {
            "section": slug,
            "kind": kind.value,
            "slug": slug,
            "noun": NOUN[kind],
            "title": TITLE[kind] + "s",
            "items": page.items,
            "next_cursor": page.next_cursor,
            "more_url": f"/{slug}?{query}" if page.next_cursor else "",
            "totals": totals,
            "values": values,
            "statuses": [(s, status_label(s)) for s in STATUS_FILTERS[kind]],
            "contacts": contacts,
            "status_label": status_label,
            "filtered": any(values.values()),
        }
        template = (
            "documents/_rows.html" if request.headers.get("hx-request") else "documents/list.html"
        )
        return render(request, template, context)

    list_page.__name__ = f"{slug.replace('-', '_')}_list_page"
    router.add_api_route(f"/{slug}", list_page, methods=["GET"])


async def _editor(
    request: Request,
    state: AppState,
    principal: Principal,
    kind: Kind,
    *,
    values: dict[str, str],
    lines: list[dict[str, str]],
    errors: dict[str, str] | None = None,
    document_id: uuid.UUID | None = None,
    status: int = 200,
    lead_photos: list[str] | None = None,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        contacts = await contact_choices(uow)
        profile = await business.get_profile(uow, principal)
    slug = SLUGS[kind]
    return render(
        request,
        "documents/editor.html",
        {
            "section": slug,
            "kind": kind.value,
            "slug": slug,
            "noun": NOUN[kind],
            "title": TITLE[kind],
            "values": values,
            "lines": lines or [blank_line()],
            "errors": errors or {},
            "contacts": contacts,
            "document_id": document_id,
            "lead_photos": lead_photos or [],
            "vat_registered": bool(profile.vat_number),
            "action": f"{path_of(kind, document_id)}/edit" if document_id else f"/{slug}",
            "cancel": path_of(kind, document_id) if document_id else f"/{slug}",
        },
        status,
    )


def _lead_id(text: str) -> uuid.UUID | None:
    """The `?lead_id=` of "Create quote from lead"; anything else opens a blank quote."""
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None


async def _new_values(state: AppState, principal: Principal, kind: Kind) -> dict[str, str]:
    """A new document's defaults: today, the business's terms and validity/payment days."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        profile = await business.get_profile(uow, principal)
        chosen = await document_settings.load(uow)
        today = business_today(profile.timezone, uow.now)
    values = {"issue_date": today.isoformat(), "price_mode": "exclusive", "deposit_percent": ""}
    if kind is Kind.QUOTE:
        values["valid_until"] = (today + timedelta(days=chosen.quote_validity_days)).isoformat()
        values["terms"] = profile.default_quote_terms
    else:
        values["due_date"] = (today + timedelta(days=chosen.payment_terms_days)).isoformat()
        values["terms"] = profile.default_invoice_terms
    return values


def _editor_routes(kind: Kind) -> None:
    slug = SLUGS[kind]
    name = slug.replace("-", "_")

    async def new_page(
        request: Request,
        state: State,
        principal: CurrentPrincipal,
        contact_id: str = Query("", max_length=40),
        lead_id: str = Query("", max_length=40),
    ) -> Response:
        values = await _new_values(state, principal, kind)
        values["contact_id"] = contact_id
        photos: list[str] = []
        if kind is Kind.QUOTE and (lead := _lead_id(lead_id)) is not None:
            async with state.unit_of_work(principal.tenant_id) as uow:
                prefill = await leads.quote_prefill(uow, lead)
            values |= {
                "lead_id": str(prefill.lead_id),
                "contact_id": str(prefill.contact_id),
                "service_address": prefill.service_address,
                "job_description": prefill.job_description,
            }
            photos = prefill.photos
        return await _editor(
            request, state, principal, kind, values=values, lines=[], lead_photos=photos
        )

    async def create(request: Request, state: State, principal: CurrentPrincipal) -> Response:
        return await _save(request, state, principal, kind, None)

    async def edit_page(
        document_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
    ) -> Response:
        async with state.unit_of_work(principal.tenant_id) as uow:
            loaded = await service.load(uow, document_id, kind)
        document = loaded.document
        if document.status != "draft":
            return redirect(path_of(kind, document_id))
        values = {
            "contact_id": str(document.contact_id),
            "recipient_name": document.recipient_name,
            "recipient_vat_number": document.recipient_vat_number,
            "billing_address": document.billing_address,
            "service_address": document.service_address,
            "job_description": document.job_description,
            "price_mode": document.price_mode,
            "issue_date": document.issue_date.isoformat(),
            "valid_until": document.valid_until.isoformat() if document.valid_until else "",
            "due_date": document.due_date.isoformat() if document.due_date else "",
            "terms": document.terms,
            "notes": document.notes,
            "deposit_percent": f"{document.deposit_percent.normalize():f}"
            if document.deposit_percent
            else "",
        }
        return await _editor(
            request,
            state,
            principal,
            kind,
            values=values,
            lines=line_values(loaded.lines),
            document_id=document_id,
        )

    async def update(
        document_id: uuid.UUID, request: Request, state: State, principal: CurrentPrincipal
    ) -> Response:
        return await _save(request, state, principal, kind, document_id)

    for path, view, method in (
        (f"/{slug}/new", new_page, "GET"),
        (f"/{slug}", create, "POST"),
        (f"/{slug}/{{document_id}}/edit", edit_page, "GET"),
        (f"/{slug}/{{document_id}}/edit", update, "POST"),
    ):
        view.__name__ = f"{name}_{view.__name__}"
        router.add_api_route(path, view, methods=[method])


async def _save(
    request: Request,
    state: AppState,
    principal: Principal,
    kind: Kind,
    document_id: uuid.UUID | None,
) -> Response:
    """Create or update a draft; "add line" / "remove line" buttons re-show the form only."""
    values = await form_dict(request)
    lines = form_lines(values)
    action = values.get("action", "save")
    if action == "add_line":
        return await _editor(
            request,
            state,
            principal,
            kind,
            values=values,
            lines=[*lines, blank_line()],
            document_id=document_id,
        )
    if action.startswith("remove_line:"):
        index = int(action.split(":", 1)[1]) if action.split(":", 1)[1].isdigit() else -1
        kept = [line for i, line in enumerate(lines) if i != index]
        return await _editor(
            request, state, principal, kind, values=values, lines=kept, document_id=document_id
        )
    data, errors = parse(DocumentIn, document_data(values, lines))
    if data is not None:
        try:
            async with state.unit_of_work(principal.tenant_id) as uow:
                if document_id is None:
                    document = await service.create_draft(uow, principal, kind, data)
                else:
                    document = await service.update_draft(uow, principal, document_id, kind, data)
            return redirect(path_of(kind, document.id))
        except DomainError as exc:
            errors = domain_error_fields(exc)
    if "lines" in errors and not lines:
        errors["lines"] = "Add at least one line with a description and a price."
    return await _editor(
        request,
        state,
        principal,
        kind,
        values=values,
        lines=lines,
        errors=errors,
        document_id=document_id,
        status=422,
    )


@router.post("/documents/preview")
async def preview_totals(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    """Live totals while typing: the same pricing as saving, nothing stored."""
    values = await form_dict(request)
    lines = form_lines(values)
    error = ""
    totals = None
    try:
        mode = money.PriceMode(values.get("price_mode") or "exclusive")
    except ValueError:
        mode = money.PriceMode.EXCLUSIVE
    async with state.unit_of_work(principal.tenant_id) as uow:
        profile = await business.get_profile(uow, principal)
        chosen = await document_settings.load(uow)
    parsed = []
    for position, line in enumerate(lines):
        item, problems = parse(LineIn, line_data(line))
        if item is None:
            field, message = next(iter(problems.items()))
            error = f"Line {position + 1}: {message} ({field.replace('_', ' ')})"
            break
        parsed.append(item)
    if not error and parsed:
        try:
            totals = service.price_lines(
                parsed,
                mode=mode,
                rounding=chosen.rounding,
                rate=Decimal(service.document_vat_rate_bp(profile)) / 100,
            )
        except InvalidInput as exc:
            error = exc.message
    return render(
        request,
        "documents/_totals.html",
        {
            "totals": totals,
            "error": error,
            "zar": money.format_zar,
            "vat_registered": bool(profile.vat_number),
        },
    )


for _kind in EDITABLE:
    _list_route(_kind)
    _editor_routes(_kind)
_list_route(Kind.CREDIT_NOTE)
router.include_router(views_actions.router)
