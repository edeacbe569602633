"""Settings → Documents (owners and admins): rounding, number patterns, default days, and the
payment reminders' schedule and template."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.documents import reminder_tasks, reminders
from clientcompass.documents import settings as document_settings
from clientcompass.documents.money import Rounding
from clientcompass.documents.numbering import DocumentKind, NumberPattern
from clientcompass.documents.settings import DocumentSettings, ReminderSettings
from clientcompass.errors import DomainError, InvalidInput
from clientcompass.web.auth import CurrentManager, State
from clientcompass.web.forms import domain_error_fields
from clientcompass.web.render import form_dict, redirect, render
from clientcompass.web.state import AppState

router = APIRouter(include_in_schema=False)

KIND_LABELS = {
    DocumentKind.QUOTE: "Quotes",
    DocumentKind.INVOICE: "Invoices",
    DocumentKind.CREDIT_NOTE: "Credit notes",
}
ROUNDING_LABELS = {
    Rounding.PER_LINE: "Per line",
    Rounding.PER_DOCUMENT: "Per document",
}
SAVED = {
    "documents": "Document settings saved.",
    "reminders": "Reminder settings saved.",
    "run": "Due reminders are being sent now.",
}


def _pattern_values(kind: DocumentKind, pattern: NumberPattern) -> dict[str, str]:
    return {
        f"{kind.value}.prefix": pattern.prefix,
        f"{kind.value}.include_year": "on" if pattern.include_year else "",
        f"{kind.value}.separator": pattern.separator,
        f"{kind.value}.padding": str(pattern.padding),
    }


def document_values(chosen: DocumentSettings) -> dict[str, str]:
    values = {
        "rounding": chosen.rounding.value,
        "payment_terms_days": str(chosen.payment_terms_days),
        "quote_validity_days": str(chosen.quote_validity_days),
    }
    for kind, pattern in chosen.patterns.items():
        values.update(_pattern_values(kind, pattern))
    return values


def reminder_values(chosen: ReminderSettings) -> dict[str, str]:
    return {
        "enabled": "on" if chosen.enabled else "",
        "days_before": str(chosen.days_before),
        "on_due_date": "on" if chosen.on_due_date else "",
        "days_after": str(chosen.days_after),
        "template_id": str(chosen.template_id) if chosen.template_id else "",
    }


def _whole_number(values: dict[str, str], name: str, default: int = 0) -> int:
    text = values.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise InvalidInput("Give a whole number of days.", field=name)
    return int(text)


def parse_document_settings(values: dict[str, str]) -> DocumentSettings:
    """The form as settings; a bad value is reported against its field."""
    try:
        rounding = Rounding(values.get("rounding", ""))
    except ValueError as error:
        raise InvalidInput("Choose how VAT is rounded.", field="rounding") from error
    patterns = {}
    for kind in DocumentKind:
        padding = values.get(f"{kind.value}.padding", "").strip()
        if not padding.isdigit():
            raise InvalidInput("Give the number of digits, 1 to 8.", field=f"{kind.value}.padding")
        try:
            patterns[kind] = NumberPattern(
                prefix=values.get(f"{kind.value}.prefix", "").strip(),
                include_year=bool(values.get(f"{kind.value}.include_year")),
                separator=values.get(f"{kind.value}.separator", ""),
                padding=int(padding),
            )
        except InvalidInput as exc:
            raise InvalidInput(exc.message, field=f"{kind.value}.{exc.field}") from exc
    return DocumentSettings(
        rounding=rounding,
        patterns=patterns,
        payment_terms_days=_whole_number(values, "payment_terms_days"),
        quote_validity_days=_whole_number(values, "quote_validity_days"),
    )


def parse_reminder_settings(values: dict[str, str]) -> ReminderSettings:
    template = values.get("template_id", "").strip()
    try:
        template_id = uuid.UUID(template) if template else None
    except ValueError as error:
        raise InvalidInput("That template does not exist.", field="template_id") from error
    return ReminderSettings(
        enabled=bool(values.get("enabled")),
        days_before=_whole_number(values, "days_before"),
        on_due_date=bool(values.get("on_due_date")),
        days_after=_whole_number(values, "days_after"),
        template_id=template_id,
    )


def examples(values: dict[str, str]) -> dict[str, str]:
    """What the next number looks like with the patterns as shown, e.g. INV-2026-0001."""
    shown = {}
    for kind in DocumentKind:
        try:
            pattern = NumberPattern(
                prefix=values.get(f"{kind.value}.prefix", "").strip(),
                include_year=bool(values.get(f"{kind.value}.include_year")),
                separator=values.get(f"{kind.value}.separator", ""),
                padding=int(values.get(f"{kind.value}.padding", "4") or 4),
            )
        except (InvalidInput, ValueError):
            continue
        shown[kind.value] = pattern.format(date.today(), 1)
    return shown


async def _page(
    request: Request,
    state: AppState,
    principal: CurrentManager,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    reminder_form: dict[str, str] | None = None,
    reminder_errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        chosen = await document_settings.load(uow)
        chosen_reminders = await document_settings.load_reminders(uow)
        approved = await reminders.approved_templates(uow)
    shown = values if values is not None else document_values(chosen)
    context: dict[str, Any] = {
        "section": "documents",
        "values": shown,
        "errors": errors or {},
        "reminder_form": reminder_form
        if reminder_form is not None
        else reminder_values(chosen_reminders),
        "reminder_errors": reminder_errors or {},
        "kinds": [(kind.value, label) for kind, label in KIND_LABELS.items()],
        "roundings": [(rounding.value, label) for rounding, label in ROUNDING_LABELS.items()],
        "examples": examples(shown),
        "templates": approved,
        "value_labels": reminders.VALUE_LABELS,
        "saved": SAVED.get(request.query_params.get("saved", ""), ""),
    }
    return render(request, "settings/documents.html", context, status)


@router.get("/settings/documents")
async def documents_page(request: Request, state: State, principal: CurrentManager) -> Response:
    return await _page(request, state, principal)


@router.post("/settings/documents")
async def save_documents(request: Request, state: State, principal: CurrentManager) -> Response:
    values = await form_dict(request)
    values.pop("csrf_token", None)
    try:
        chosen = parse_document_settings(values)
        async with state.unit_of_work(principal.tenant_id) as uow:
            await document_settings.save(uow, principal, chosen)
    except DomainError as exc:
        return await _page(
            request, state, principal, values=values, errors=domain_error_fields(exc), status=422
        )
    return redirect("/settings/documents?saved=documents")


@router.post("/settings/documents/reminders")
async def save_reminders(request: Request, state: State, principal: CurrentManager) -> Response:
    values = await form_dict(request)
    values.pop("csrf_token", None)
    try:
        chosen = parse_reminder_settings(values)
        async with state.unit_of_work(principal.tenant_id) as uow:
            await reminders.configure(uow, principal, chosen)
    except DomainError as exc:
        return await _page(
            request,
            state,
            principal,
            reminder_form=values,
            reminder_errors=domain_error_fields(exc),
            status=422,
        )
    if chosen.enabled:
        await reminder_tasks.book(state.job_app, principal.tenant_id)
    return redirect("/settings/documents?saved=reminders#reminders")


@router.post("/settings/documents/reminders/run")
async def run_reminders(state: State, principal: CurrentManager) -> Response:
    """Send today's due reminders now, whatever the hour (each still goes once)."""
    async with state.unit_of_work(principal.tenant_id) as uow:
        chosen = await document_settings.load_reminders(uow)
    if not chosen.enabled:
        raise InvalidInput("Switch reminders on first.")
    await reminder_tasks.run_now(state.job_app, principal.tenant_id)
    return redirect("/settings/documents?saved=run#reminders")
