"""The rules a WhatsApp template must meet, kept free of the database and of Twilio.

Outside the 24-hour window only an approved template may be sent, and a review takes hours,
so every rule WhatsApp checks at review time is checked here first, with a message a person
can act on, instead of coming back a day later as a rejection. Also here: filling and
previewing placeholders, the Content API payload, and Twilio's approval statuses in our terms.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from clientcompass.errors import InvalidInput
from clientcompass.models import MessageTemplate, TemplateCategory, TemplateStatus
from clientcompass.phones import normalise_za_phone


class TemplateKind(StrEnum):
    TEXT = "text"
    MEDIA = "media"
    QUICK_REPLY = "quick_reply"
    CALL_TO_ACTION = "call_to_action"
    CARD = "card"  # a file header (image, video or PDF), text and quick-reply buttons


CONTENT_TYPES = {
    TemplateKind.TEXT: "twilio/text",
    TemplateKind.MEDIA: "twilio/media",
    TemplateKind.QUICK_REPLY: "twilio/quick-reply",
    TemplateKind.CALL_TO_ACTION: "twilio/call-to-action",
    TemplateKind.CARD: "twilio/card",
}
# WhatsApp's review limits (Twilio's Content API docs): body length per type, button counts.
BODY_LIMITS = {
    TemplateKind.TEXT: 1024,
    TemplateKind.MEDIA: 1024,
    TemplateKind.QUICK_REPLY: 1024,
    TemplateKind.CALL_TO_ACTION: 640,
    TemplateKind.CARD: 1024,
}
# Kinds whose buttons are quick replies (their ids may hold placeholders: `accept:{{5}}`).
QUICK_REPLY_KINDS = (TemplateKind.QUICK_REPLY, TemplateKind.CARD)
MAX_QUICK_REPLIES = 3
QUICK_REPLY_TITLE = 20
CTA_TITLE = 25
MAX_URL_BUTTONS = 2
MAX_VARIABLES = 100
NAME = re.compile(r"[a-z0-9_]+")
NAME_LENGTH = 100  # the column; WhatsApp allows 512
LANGUAGE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
NUMBER = re.compile(r"[1-9][0-9]{0,2}")
# WhatsApp refuses a parameter with a line break, a tab or more than four spaces in a row.
BAD_PARAMETER = re.compile(r"[\n\r\t]| {5,}")

# Twilio's approval statuses → ours. `unsubmitted` means Twilio never got the request.
APPROVAL_STATUSES = {
    "unsubmitted": TemplateStatus.DRAFT,
    "received": TemplateStatus.PENDING,
    "pending": TemplateStatus.PENDING,
    "in_review": TemplateStatus.PENDING,
    "approved": TemplateStatus.APPROVED,
    "rejected": TemplateStatus.REJECTED,
    "paused": TemplateStatus.PAUSED,
    "disabled": TemplateStatus.DISABLED,
}
SYNCED_STATUSES = (
    TemplateStatus.PENDING,
    TemplateStatus.APPROVED,
    TemplateStatus.REJECTED,
    TemplateStatus.PAUSED,
    TemplateStatus.DISABLED,
)


class TemplateInvalid(InvalidInput):
    """Every problem with a draft at once, keyed by field, so a form can show them all."""

    def __init__(self, fields: dict[str, str]) -> None:
        first_field, first_message = next(iter(fields.items()))
        message = (
            first_message
            if len(fields) == 1
            else f"{len(fields)} things need attention, starting with: {first_message}"
        )
        super().__init__(message, field=first_field)
        self.fields = fields


@dataclass(frozen=True)
class Button:
    """A quick-reply button (title, optional id) or a call-to-action one (type URL or
    PHONE_NUMBER, title, url or phone). Blank rows, as a form posts them, are ignored."""

    title: str = ""
    type: str = ""
    url: str = ""
    phone: str = ""
    id: str = ""

    @property
    def is_blank(self) -> bool:
        return not (self.title.strip() or self.url.strip() or self.phone.strip())


@dataclass(frozen=True)
class TemplateDraft:
    name: str
    category: str
    body: str
    kind: str = TemplateKind.TEXT.value
    language: str = "en"
    variables: Mapping[str, str] = field(default_factory=dict)
    buttons: Sequence[Button] = ()
    media_url: str = ""
    channel_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Checked:
    """A draft that passed every check, normalised into what is stored and sent to Twilio."""

    name: str
    language: str
    category: TemplateCategory
    kind: TemplateKind
    body: str
    variables: dict[str, str]
    actions: list[dict[str, str]]
    media_url: str


@dataclass(frozen=True)
class Scan:
    numbers: list[int]
    malformed: list[str]


def scan(body: str) -> Scan:
    """The distinct `{{n}}` numbers in a body, ascending, and any placeholder that is not one."""
    numbers: set[int] = set()
    malformed: list[str] = []
    for match in PLACEHOLDER.finditer(body):
        if NUMBER.fullmatch(match.group(1)):
            numbers.add(int(match.group(1)))
        else:
            malformed.append(match.group(0))
    return Scan(sorted(numbers), malformed)


def fill(body: str, values: Mapping[str, str]) -> str:
    """The body with each `{{n}}` replaced by its value; unfilled placeholders stay visible."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), "") or m.group(0), body)


def render_preview(template: MessageTemplate, variables: Mapping[str, str]) -> str:
    """The text the customer will read, for the inbox thread and the composer's preview."""
    return fill(template.body, variables)


def _placeholder(number: int | str) -> str:
    return "{{" + str(number) + "}}"


EDGE_PLACEHOLDER = re.compile(r"^\s*\{\{\d+\}\}|\{\{\d+\}\}\s*$")
ADJACENT_PLACEHOLDERS = re.compile(r"\{\{\d+\}\}\s*\{\{\d+\}\}")


def _check_body(
    kind: TemplateKind, body: str, variables: Mapping[str, str], button_numbers: list[int]
) -> dict[str, str]:
    """The text and the samples of every placeholder, the body's and the buttons' ids'."""
    errors: dict[str, str] = {}
    limit = BODY_LIMITS[kind]
    if not body.strip():
        errors["body"] = "Write the message text."
        return errors
    if len(body) > limit:
        errors["body"] = f"WhatsApp allows at most {limit} characters here ({len(body)} now)."
    found = scan(body)
    numbers = sorted(set(found.numbers) | set(button_numbers))
    if found.malformed:
        errors["body"] = (
            f"{found.malformed[0]} is not a placeholder WhatsApp accepts: "
            "use numbers in double braces, like {{1}}, {{2}}."
        )
    elif EDGE_PLACEHOLDER.search(body):
        errors["body"] = (
            "WhatsApp rejects a template whose text starts or ends with a placeholder: "
            "add a few words before or after it."
        )
    elif ADJACENT_PLACEHOLDERS.search(body):
        errors["body"] = "WhatsApp rejects two placeholders next to each other: put words between."
    elif numbers:
        missing = [n for n in range(1, numbers[-1] + 1) if n not in numbers]
        if missing:
            errors["body"] = (
                f"Placeholders must be numbered 1, 2, 3… without gaps: "
                f"{_placeholder(missing[0])} is missing."
            )
        elif len(numbers) > MAX_VARIABLES:
            errors["body"] = f"WhatsApp allows at most {MAX_VARIABLES} placeholders."
    wanted = {str(n) for n in numbers}
    for number in numbers:
        sample = variables.get(str(number), "").strip()
        if not sample:
            errors[f"variables.{number}"] = (
                f"Give a sample value for {_placeholder(number)}: WhatsApp reviews the template with it."
            )
        elif BAD_PARAMETER.search(sample):
            errors[f"variables.{number}"] = (
                "Keep a sample on one line, without tabs or long runs of spaces."
            )
    for key, value in variables.items():
        if key not in wanted and value.strip():
            errors[f"variables.{key}"] = (
                f"The text has no {_placeholder(key)}; remove this sample or add the placeholder."
            )
    return errors


def _button_numbers(actions: list[dict[str, str]]) -> list[int]:
    """Placeholders in quick-reply ids, e.g. `accept:{{5}}`: filled per send like the body's."""
    return scan(" ".join(action.get("id", "") for action in actions)).numbers


def _web_address_problem(value: str, *, placeholders: bool = False) -> str:
    """A link WhatsApp accepts; with `placeholders`, `{{n}}` may follow a fixed https://host/
    prefix (Twilio: a variable media URL keeps its domain fixed, only the path varies)."""
    fixed = value.split("{{", 1)[0]
    parts = urlsplit(fixed if placeholders else value)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        return "Enter a full web address starting with https://"
    if "{{" in value and not placeholders:
        return "Use a fixed web address; placeholders are not supported in links here."
    if "{{" in value and (not parts.path.startswith("/") or "{{" in parts.netloc):
        return "Keep the start of the address fixed (https://example.co.za/…) before a placeholder."
    if scan(value).malformed:
        return "Use numbered placeholders in the address, like {{1}}."
    return ""


def media_numbers(media_url: str) -> list[int]:
    """Placeholders in a card's file address, filled per send like the text's."""
    return scan(media_url).numbers


def _check_buttons(
    kind: TemplateKind, buttons: Sequence[Button], errors: dict[str, str]
) -> list[dict[str, str]]:
    used = [(i, button) for i, button in enumerate(buttons) if not button.is_blank]
    if kind in (TemplateKind.TEXT, TemplateKind.MEDIA):
        if used:
            errors["actions"] = "Only quick-reply and call-to-action templates have buttons."
        return []
    if not used:
        errors["actions"] = (
            "Add at least one quick-reply button."
            if kind in QUICK_REPLY_KINDS
            else "Add a link or a phone button."
        )
        return []
    if kind in QUICK_REPLY_KINDS:
        return _quick_replies(used, errors)
    return _calls_to_action(used, errors)


def _title_problem(title: str, limit: int, seen: set[str]) -> str:
    if not title:
        return "Give this button a title."
    if len(title) > limit:
        return f"A button title holds at most {limit} characters ({len(title)} now)."
    if title.casefold() in seen:
        return "Each button needs a different title."
    return ""


def _quick_replies(used: list[tuple[int, Button]], errors: dict[str, str]) -> list[dict[str, str]]:
    if len(used) > MAX_QUICK_REPLIES:
        errors["actions"] = f"WhatsApp allows at most {MAX_QUICK_REPLIES} quick-reply buttons."
    actions: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, button in used:
        title = button.title.strip()
        problem = _title_problem(title, QUICK_REPLY_TITLE, seen)
        if problem:
            errors[f"actions.{i}.title"] = problem
        seen.add(title.casefold())
        slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
        actions.append({"title": title, "id": button.id.strip()[:200] or slug or f"button_{i + 1}"})
    return actions


def _calls_to_action(
    used: list[tuple[int, Button]], errors: dict[str, str]
) -> list[dict[str, str]]:
    actions: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, button in used:
        title = button.title.strip()
        problem = _title_problem(title, CTA_TITLE, seen)
        if problem:
            errors[f"actions.{i}.title"] = problem
        seen.add(title.casefold())
        kind = button.type.strip().upper()
        kind = "PHONE_NUMBER" if kind == "PHONE" else kind
        if kind == "URL":
            url = button.url.strip()
            problem = _web_address_problem(url)
            if problem:
                errors[f"actions.{i}.url"] = problem
            actions.append({"type": "URL", "title": title, "url": url})
        elif kind == "PHONE_NUMBER":
            try:
                phone = normalise_za_phone(button.phone)
            except ValueError as exc:
                errors[f"actions.{i}.phone"] = str(exc)
                phone = ""
            if not phone and f"actions.{i}.phone" not in errors:
                errors[f"actions.{i}.phone"] = "Enter the number to call, e.g. 082 123 4567."
            actions.append({"type": "PHONE_NUMBER", "title": title, "phone": phone})
        else:
            errors[f"actions.{i}.type"] = "Choose a link (URL) or a phone (PHONE_NUMBER) button."
    kinds = [action["type"] for action in actions]
    if kinds.count("URL") > MAX_URL_BUTTONS:
        errors["actions"] = f"WhatsApp allows at most {MAX_URL_BUTTONS} link buttons."
    elif kinds.count("PHONE_NUMBER") > 1:
        errors["actions"] = "WhatsApp allows one phone button per template."
    return actions


def check(draft: TemplateDraft) -> Checked:
    """Normalise a draft, or raise `TemplateInvalid` with every problem found, by field."""
    errors: dict[str, str] = {}
    name = draft.name.strip()
    if not name:
        errors["name"] = "Give the template a name, e.g. appointment_reminder."
    elif not NAME.fullmatch(name):
        errors["name"] = (
            "Use only lowercase letters, digits and underscores, e.g. appointment_reminder."
        )
    elif len(name) > NAME_LENGTH:
        errors["name"] = f"A template name holds at most {NAME_LENGTH} characters."
    language = draft.language.strip().replace("-", "_") or "en"
    head, _, region = language.partition("_")
    language = f"{head.lower()}_{region.upper()}" if region else head.lower()
    if not LANGUAGE.fullmatch(language):
        errors["language"] = "Use a WhatsApp language code such as en, en_US, af or zu."
    try:
        category = TemplateCategory(draft.category.strip().upper())
    except ValueError:
        errors["category"] = "Choose a category: UTILITY, MARKETING or AUTHENTICATION."
        category = TemplateCategory.UTILITY
    try:
        kind = TemplateKind(draft.kind.strip().lower().replace("-", "_"))
    except ValueError:
        errors["kind"] = "Choose a kind: text, media, quick_reply or call_to_action."
        kind = TemplateKind.TEXT
    actions = _check_buttons(kind, draft.buttons, errors)
    button_numbers = _button_numbers(actions) if kind in QUICK_REPLY_KINDS else []
    media_url = draft.media_url.strip()
    file_numbers = media_numbers(media_url) if kind is TemplateKind.CARD else []
    errors.update(_check_body(kind, draft.body, draft.variables, [*button_numbers, *file_numbers]))
    if kind in (TemplateKind.MEDIA, TemplateKind.CARD):
        problem = (
            _web_address_problem(media_url, placeholders=kind is TemplateKind.CARD)
            if media_url
            else "Give the file's web address."
        )
        if not problem and file_numbers:
            sample = fill(media_url, {k: v.strip() for k, v in draft.variables.items()})
            if not re.search(r"\.[A-Za-z0-9]{2,5}$", urlsplit(sample).path):
                problem = (
                    "The sample address must end in the file's type (e.g. .pdf): WhatsApp "
                    "reviews the template with that file."
                )
        if problem:
            errors["media_url"] = f"{problem} WhatsApp fetches the image, video or PDF from there."
    elif media_url:
        errors["media_url"] = "Only media and card templates carry a file."
    if errors:
        raise TemplateInvalid(errors)
    wanted = {str(n) for n in [*scan(draft.body).numbers, *button_numbers, *file_numbers]}
    return Checked(
        name=name,
        language=language,
        category=category,
        kind=kind,
        body=draft.body,
        variables={k: v.strip() for k, v in draft.variables.items() if k in wanted},
        actions=actions,
        media_url=media_url,
    )


def not_approved_message(template: MessageTemplate) -> str:
    status = template.status
    if status in (TemplateStatus.DRAFT, TemplateStatus.PENDING):
        head = f"This template is not approved yet (status: {status.value})."
    else:
        head = f"This template is not approved (status: {status.value})."
    hint = {
        TemplateStatus.DRAFT: "Submit it for WhatsApp approval on the Templates page first.",
        TemplateStatus.PENDING: (
            "WhatsApp is still reviewing it, which can take from minutes to a day. "
            "Use Sync now on the Templates page to check again."
        ),
        TemplateStatus.REJECTED: (
            f"WhatsApp rejected it: {template.rejection_reason} "
            "Create a corrected template and submit that."
        ),
        TemplateStatus.PAUSED: (
            "WhatsApp paused it after customers reported or blocked it; "
            "it can be sent again once WhatsApp lifts the pause."
        ),
        TemplateStatus.DISABLED: "WhatsApp disabled it; create and submit a new template instead.",
    }.get(status, "")
    return f"{head} {hint}".strip()


def template_numbers(template: MessageTemplate) -> list[int]:
    """Every placeholder a send fills: the text's, the quick-reply ids' (`accept:{{5}}`) and a
    card's file address."""
    return sorted(
        set(scan(template.body).numbers)
        | set(_button_numbers(template.actions))
        | set(media_numbers(template.media_url))
    )


def send_values(template: MessageTemplate, variables: Mapping[str, str]) -> dict[str, str]:
    """The values for each `{{n}}` of the text and the buttons' ids, all filled and in a shape
    WhatsApp accepts."""
    numbers = [str(n) for n in template_numbers(template)]
    unknown = [key for key in variables if key not in numbers]
    if unknown:
        raise InvalidInput(
            f"This template has no {_placeholder(unknown[0])}; it takes "
            + (", ".join(_placeholder(n) for n in numbers) or "no values")
            + ".",
            field="variables",
        )
    values = {n: str(variables.get(n, "")).strip() for n in numbers}
    empty = [n for n, value in values.items() if not value]
    if empty:
        raise InvalidInput(
            "Fill in " + ", ".join(_placeholder(n) for n in empty) + " before sending.",
            field=f"variables.{empty[0]}",
        )
    for number, value in values.items():
        if BAD_PARAMETER.search(value):
            raise InvalidInput(
                f"WhatsApp does not allow line breaks, tabs or long runs of spaces in "
                f"{_placeholder(number)}; keep it on one line.",
                field=f"variables.{number}",
            )
    return values
