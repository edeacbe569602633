"""The Templates page: the list with WhatsApp's verdicts, a create form with a live preview
(htmx, server-rendered by the same `fill` the API uses), and Submit / Sync now actions.

Every action is a plain form POST that also works without JavaScript; htmx upgrades the row
actions to swap just their row and turns errors into toasts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from fastapi.responses import Response

from clientcompass.auth.principal import Principal
from clientcompass.errors import DomainError
from clientcompass.models import TemplateCategory
from clientcompass.web.auth import CurrentManager, CurrentPrincipal, State
from clientcompass.web.render import form_dict, redirect, render
from clientcompass.whatsapp import channels, template_rules, templates
from clientcompass.whatsapp.http import template_out
from clientcompass.whatsapp.template_rules import Button, TemplateKind

router = APIRouter(include_in_schema=False)

QUICK_REPLY_ROWS = 3
CTA_ROWS = 2
KIND_LABELS = {
    TemplateKind.TEXT: "Text",
    TemplateKind.MEDIA: "Media (image, video or PDF)",
    TemplateKind.QUICK_REPLY: "Quick-reply buttons",
    TemplateKind.CALL_TO_ACTION: "Call-to-action buttons (link or phone)",
}
CATEGORY_HINTS = {
    TemplateCategory.UTILITY: "Utility: about something the customer asked for or bought",
    TemplateCategory.MARKETING: "Marketing: offers, news and anything promotional",
    TemplateCategory.AUTHENTICATION: "Authentication: one-time codes",
}


@dataclass
class Preview:
    """What the customer would see, filled with the sample values typed so far."""

    text: str
    kind: str
    media_url: str = ""
    buttons: list[str] = field(default_factory=list)
    samples: list[tuple[str, str]] = field(default_factory=list)


def preview_from(values: dict[str, str]) -> Preview:
    body = values.get("body", "")
    kind = values.get("kind", TemplateKind.TEXT.value)
    samples = {
        key.removeprefix("variables."): value
        for key, value in values.items()
        if key.startswith("variables.")
    }
    numbers = [str(n) for n in template_rules.scan(body).numbers]
    if kind == TemplateKind.QUICK_REPLY:
        titles = [values.get(f"qr.{i}.title", "") for i in range(QUICK_REPLY_ROWS)]
    elif kind == TemplateKind.CALL_TO_ACTION:
        titles = [values.get(f"cta.{i}.title", "") for i in range(CTA_ROWS)]
    else:
        titles = []
    return Preview(
        text=template_rules.fill(body, samples),
        kind=kind,
        media_url=values.get("media_url", "").strip() if kind == TemplateKind.MEDIA else "",
        buttons=[title.strip() for title in titles if title.strip()],
        samples=[(n, samples.get(n, "")) for n in numbers],
    )


def draft_from_form(values: dict[str, str]) -> tuple[template_rules.TemplateDraft, dict[str, str]]:
    """The draft a form describes; only the buttons and file of the chosen kind count, since
    the others are hidden but still posted."""
    errors: dict[str, str] = {}
    kind = values.get("kind", TemplateKind.TEXT.value)
    buttons: list[Button] = []
    if kind == TemplateKind.QUICK_REPLY:
        buttons = [Button(title=values.get(f"qr.{i}.title", "")) for i in range(QUICK_REPLY_ROWS)]
    elif kind == TemplateKind.CALL_TO_ACTION:
        for i in range(CTA_ROWS):
            button_type = values.get(f"cta.{i}.type", "URL")
            value = values.get(f"cta.{i}.value", "")
            buttons.append(
                Button(
                    title=values.get(f"cta.{i}.title", ""),
                    type=button_type,
                    url=value if button_type == "URL" else "",
                    phone=value if button_type != "URL" else "",
                )
            )
    channel_id: uuid.UUID | None = None
    if values.get("channel_id"):
        try:
            channel_id = uuid.UUID(values["channel_id"])
        except ValueError:
            errors["channel_id"] = "Choose one of your WhatsApp numbers."
    draft = template_rules.TemplateDraft(
        channel_id=channel_id,
        name=values.get("name", ""),
        language=values.get("language", "en"),
        category=values.get("category", ""),
        kind=kind,
        body=values.get("body", ""),
        variables={
            key.removeprefix("variables."): value
            for key, value in values.items()
            if key.startswith("variables.")
        },
        buttons=buttons,
        media_url=values.get("media_url", "") if kind == TemplateKind.MEDIA else "",
    )
    return draft, errors


def form_errors(kind: str, fields: dict[str, str]) -> dict[str, str]:
    """Service error keys (`actions.0.title`) → this form's input names (`qr.0.title`)."""
    prefix = "qr" if kind == TemplateKind.QUICK_REPLY else "cta"
    mapped: dict[str, str] = {}
    for key, message in fields.items():
        parts = key.split(".")
        if parts[0] == "actions" and len(parts) == 3:
            leaf = parts[2] if parts[2] in ("title", "type") else "value"
            key = f"{prefix}.{parts[1]}.{leaf}"
        mapped.setdefault(key, message)
    return mapped


async def _page(
    request: Request,
    state: State,
    principal: Principal,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    problem: str = "",
    status: int = 200,
) -> Response:
    values = values or {}
    async with state.unit_of_work(principal.tenant_id) as uow:
        found = [template_out(t) for t in await templates.list_templates(uow)]
        numbers = await channels.list_channels(uow, principal)
    names = {channel.id: channel.name for channel in numbers}
    return render(
        request,
        "templates/index.html",
        {
            "section": "templates",
            "templates": found,
            "channels": numbers,
            "channel_names": names,
            "can_manage": principal.role.manages_business,
            "values": values,
            "errors": errors or {},
            "problem": problem,
            "preview": preview_from(values),
            "kinds": KIND_LABELS,
            "categories": CATEGORY_HINTS,
            "quick_reply_rows": range(QUICK_REPLY_ROWS),
            "cta_rows": range(CTA_ROWS),
        },
        status,
    )


@router.get("/templates")
async def templates_page(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    return await _page(request, state, principal)


@router.post("/templates")
async def create(request: Request, state: State, principal: CurrentManager) -> Response:
    values = await form_dict(request)
    draft, errors = draft_from_form(values)
    if errors:
        return await _page(request, state, principal, values=values, errors=errors, status=422)
    try:
        async with state.unit_of_work(principal.tenant_id) as uow:
            template = await templates.create(uow, principal, draft)
            template_id = template.id
    except template_rules.TemplateInvalid as exc:
        errors = form_errors(draft.kind, exc.fields)
        return await _page(request, state, principal, values=values, errors=errors, status=422)
    except DomainError as exc:
        errors = {exc.field or "form": exc.message}
        return await _page(
            request, state, principal, values=values, errors=errors, status=exc.status_code
        )
    if values.get("action") == "submit":
        try:
            async with state.unit_of_work(principal.tenant_id) as uow:
                submission = await templates.submit(
                    uow, principal, state.keyring, state.twilio, template_id
                )
        except DomainError as exc:
            return await _page(
                request, state, principal, problem=_saved_not_submitted(exc), status=200
            )
        if submission.problem is not None:
            return await _page(
                request, state, principal, problem=_saved_not_submitted(submission.problem)
            )
    return redirect(f"/templates#tpl-{template_id}")


def _saved_not_submitted(exc: DomainError) -> str:
    return f"The template is saved as a draft, but it was not submitted: {exc.message}"


async def _row(
    request: Request, state: State, principal: Principal, template_id: uuid.UUID
) -> Response:
    """The updated row for htmx, or back to the list for a plain form post."""
    if not request.headers.get("hx-request"):
        return redirect(f"/templates#tpl-{template_id}")
    async with state.unit_of_work(principal.tenant_id) as uow:
        template = template_out(await templates.get_template(uow, template_id))
        numbers = await channels.list_channels(uow, principal)
    return render(
        request,
        "templates/row.html",
        {
            "template": template,
            "can_manage": principal.role.manages_business,
            "channel_names": {channel.id: channel.name for channel in numbers},
            "channels": numbers,
        },
    )


@router.post("/templates/{template_id}/submit")
async def submit(
    template_id: uuid.UUID, request: Request, state: State, principal: CurrentManager
) -> Response:
    async with state.unit_of_work(principal.tenant_id) as uow:
        submission = await templates.submit(
            uow, principal, state.keyring, state.twilio, template_id
        )
    if submission.problem is not None:
        raise submission.problem
    return await _row(request, state, principal, template_id)


@router.post("/templates/{template_id}/sync")
async def sync(
    template_id: uuid.UUID, request: Request, state: State, principal: CurrentManager
) -> Response:
    await templates.sync(state.unit_of_work, principal, state.keyring, state.twilio, template_id)
    return await _row(request, state, principal, template_id)


@router.post("/templates/sync")
async def sync_all(request: Request, state: State, principal: CurrentManager) -> Response:
    report = await templates.sync_all(state.unit_of_work, principal, state.keyring, state.twilio)
    if report.failed:
        problem = f"{len(report.failed)} template(s) could not be checked: " + next(
            iter(report.failed.values())
        )
        return await _page(request, state, principal, problem=problem)
    return redirect("/templates")


@router.post("/templates/preview")
async def live_preview(request: Request, principal: CurrentManager) -> Response:
    """The preview bubble, and the sample fields too when the body's placeholders changed."""
    values = await form_dict(request)
    preview = preview_from(values)
    shown = sorted(key.removeprefix("variables.") for key in values if key.startswith("variables."))
    wanted = sorted(number for number, _ in preview.samples)
    return render(
        request,
        "templates/preview.html",
        {"preview": preview, "samples_changed": shown != wanted, "errors": {}},
    )
