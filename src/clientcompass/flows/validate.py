"""Refuse a flow that cannot run as written, naming the step (its title and id).

Pure: takes a definition and what the business has (its members, the answers it names) and
returns every problem at once, so the page and the API can show them all. A definition with
no problems is what `publish` may freeze into a version.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from clientcompass.flows import definition as d
from clientcompass.web.forms import plain_message

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


@dataclass(frozen=True)
class Problem:
    message: str
    step_id: str | None = None
    step_title: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"step_id": self.step_id, "step_title": self.step_title, "message": self.message}

    def __str__(self) -> str:
        if self.step_id is None:
            return self.message
        return f'Step "{self.step_title}" ({self.step_id}): {self.message}'


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, step: d.AnyStep | None, message: str) -> None:
        if step is None:
            self.problems.append(Problem(message))
        else:
            self.problems.append(Problem(message, step.id, step.title))


def parse_and_validate(
    data: Any, members: Collection[uuid.UUID] = ()
) -> tuple[d.FlowDefinition | None, list[Problem]]:
    """Read raw JSON then validate it; shape errors come back as problems on their step."""
    try:
        definition = d.parse(data)
    except ValidationError as exc:
        return None, _shape_problems(data, exc)
    return definition, validate(definition, members)


def _shape_problems(data: Any, exc: ValidationError) -> list[Problem]:
    steps = data.get("steps") if isinstance(data, dict) else None
    problems = []
    for error in exc.errors():
        loc = error["loc"]
        step_id, title = None, ""
        if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int) and steps:
            raw = steps[loc[1]] if loc[1] < len(steps) else {}
            if isinstance(raw, dict):
                step_id, title = str(raw.get("id", f"#{loc[1] + 1}")), str(raw.get("title", ""))
            field = ".".join(str(part) for part in loc[3:] if not isinstance(part, int))
        else:
            field = ".".join(str(part) for part in loc)
        if error["type"] == "union_tag_invalid":
            tag, kinds = error.get("ctx", {}).get("tag"), error.get("ctx", {}).get("expected_tags")
            message = f'"{tag}" is not a kind this flow knows (use one of {kinds}).'
        else:
            message = (f"{field}: " if field else "") + plain_message(error)
        problems.append(Problem(message, step_id, title))
    return problems


def validate(definition: d.FlowDefinition, members: Collection[uuid.UUID] = ()) -> list[Problem]:
    """Every problem in the definition; empty when it may be saved and published."""
    out = _Collector()
    steps = definition.steps
    _check_trigger(definition, out)
    if not steps:
        out.add(None, "A flow needs at least one step.")
        return out.problems
    ids = [step.id for step in steps]
    seen: set[str] = set()
    for step in steps:
        if step.id in seen:
            out.add(step, "Another step has the same id; each step needs its own.")
        seen.add(step.id)
    answers = _answers(steps)
    for index, step in enumerate(steps):
        _check_step(step, out, set(ids), answers, members)
        for target in d.successors(steps, index):
            if target is not None and target not in seen:
                out.add(step, f'goes to step "{target}", which does not exist.')
    _check_reachable(steps, out)
    _check_loops(steps, out)
    return out.problems


def _check_trigger(definition: d.FlowDefinition, out: _Collector) -> None:
    trigger = definition.trigger
    if isinstance(trigger, d.KeywordTrigger) and not [k for k in trigger.keywords if k.strip()]:
        out.add(None, "The keyword trigger needs at least one keyword.")


def _answers(steps: list[d.AnyStep]) -> set[str]:
    names: set[str] = set()
    for step in steps:
        if isinstance(step, d.AskStep | d.ChooseStep) and step.save_as:
            names.add(step.save_as)
        elif isinstance(step, d.WebhookStep):
            names.update(step.answers.values())
    return names


def _check_text(step: d.AnyStep, text: str, out: _Collector, answers: set[str]) -> None:
    if not text.strip():
        out.add(step, "The message is empty.")
    elif len(text) > d.BODY_MAX:
        out.add(step, f"The message is {len(text)} characters; WhatsApp allows {d.BODY_MAX}.")
    for name in PLACEHOLDER.findall(text):
        if name not in answers:
            out.add(step, f'The message uses {{{name}}}, but no step saves an answer "{name}".')


def _check_step(
    step: d.AnyStep,
    out: _Collector,
    ids: set[str],
    answers: set[str],
    members: Collection[uuid.UUID],
) -> None:
    if not step.title.strip():
        out.add(step, "The step needs a title.")
    text = getattr(step, "text", None)
    if isinstance(text, str):
        # A hand-off's or end's words are optional, and so are a file's.
        required = isinstance(step, d.AskStep | d.ChooseStep | d.NotifyStep) or (
            isinstance(step, d.SendStep) and step.media_file_id is None
        )
        if required or text:
            _check_text(step, text, out, answers)
    if isinstance(step, d.AskStep):
        _check_ask(step, out)
    elif isinstance(step, d.ChooseStep):
        _check_choose(step, out)
    elif isinstance(step, d.BranchStep):
        _check_branch(step, out, answers)
    elif isinstance(step, d.SetFieldStep):
        if step.field not in d.CONTACT_FIELDS:
            out.add(step, f'"{step.field}" is not a contact field ({", ".join(d.CONTACT_FIELDS)}).')
        _check_placeholders(step, step.value, out, answers)
    elif isinstance(step, d.TagStep) and not step.tag.strip():
        out.add(step, "Name the tag.")
    elif isinstance(step, d.LeadStep):
        for field, answer in step.fields.items():
            if answer not in answers:
                out.add(
                    step,
                    f'The lead\'s {field.value} comes from answer "{answer}", which no step saves.',
                )
    elif isinstance(step, d.AssignStep):
        if step.to == "member" and (step.member_id is None or step.member_id not in members):
            out.add(step, "Choose a member of the team to assign to.")
    elif isinstance(step, d.WebhookStep):
        parts = urlsplit(step.url)
        if parts.scheme != "https" or not parts.hostname:
            out.add(step, "The webhook address must start with https://.")


def _check_placeholders(step: d.AnyStep, text: str, out: _Collector, answers: set[str]) -> None:
    for name in PLACEHOLDER.findall(text):
        if name not in answers:
            out.add(step, f'It uses {{{name}}}, but no step saves an answer "{name}".')


def _check_ask(step: d.AskStep, out: _Collector) -> None:
    if step.expect is not d.Expect.NUMBER and (step.minimum, step.maximum) != (None, None):
        out.add(step, "Only a number question can have a minimum or maximum.")
    if step.minimum is not None and step.maximum is not None and step.minimum > step.maximum:
        out.add(step, "The minimum is above the maximum.")


def _check_choose(step: d.ChooseStep, out: _Collector) -> None:
    buttons = step.style == "buttons"
    limit, title_max = (
        (d.MAX_BUTTONS, d.BUTTON_TITLE_MAX) if buttons else (d.MAX_LIST_ITEMS, d.LIST_ITEM_MAX)
    )
    if not step.options:
        out.add(step, "Add at least one option.")
    if len(step.options) > limit:
        what = "buttons" if buttons else "list items"
        out.add(step, f"{len(step.options)} {what}; WhatsApp allows {limit}.")
    if not buttons and not step.button.strip():
        out.add(step, "The list needs a button text.")
    if not buttons and len(step.button) > d.LIST_BUTTON_MAX:
        out.add(step, f"The list's button text is over {d.LIST_BUTTON_MAX} characters.")
    seen_ids: set[str] = set()
    seen_titles: set[str] = set()
    for option in step.options:
        label = f'Option "{option.title or option.id}"'
        if not option.title.strip():
            out.add(step, f'Option "{option.id}" has no title.')
        elif len(option.title) > title_max:
            what = "A button title" if buttons else "A list item"
            out.add(
                step,
                f"{label}: {what} may have {title_max} characters; this has {len(option.title)}.",
            )
        if len(option.description) > d.LIST_DESCRIPTION_MAX:
            out.add(step, f"{label}: the description is over {d.LIST_DESCRIPTION_MAX} characters.")
        if buttons and option.description:
            out.add(step, f"{label}: buttons have no description; use a list.")
        if option.id in seen_ids:
            out.add(step, f'Two options have the id "{option.id}".')
        if option.title.strip().casefold() in seen_titles:
            out.add(step, f"{label}: another option has the same title.")
        seen_ids.add(option.id)
        seen_titles.add(option.title.strip().casefold())
        if option.next is None:
            out.add(step, f"{label} goes nowhere: choose the step it leads to.")


def _check_branch(step: d.BranchStep, out: _Collector, answers: set[str]) -> None:
    if step.on is d.BranchOn.ANSWER and step.name not in answers:
        out.add(step, f'It branches on answer "{step.name}", which no step saves.')
    elif step.on is d.BranchOn.CONTACT_FIELD and step.name not in d.CONTACT_FIELDS:
        out.add(step, f'"{step.name}" is not a contact field ({", ".join(d.CONTACT_FIELDS)}).')
    elif step.on is d.BranchOn.TAG and not step.name.strip():
        out.add(step, "Name the tag to branch on.")
    allowed = {
        d.BranchOn.BUSINESS_HOURS: {"open", "closed"},
        d.BranchOn.TAG: {"yes", "no"},
    }.get(step.on)
    if not step.cases:
        out.add(step, "Add at least one case.")
    for case in step.cases:
        if not case.equals.strip():
            out.add(step, "A case has no value to match.")
        elif allowed is not None and case.equals.strip().lower() not in allowed:
            out.add(
                step, f'Case "{case.equals}" can never match: use {" or ".join(sorted(allowed))}.'
            )
        if case.next is None:
            out.add(step, f'Case "{case.equals}" goes nowhere: choose the step it leads to.')
    if step.default is None:
        out.add(step, "The branch needs a default: where to go when no case matches.")


def _check_reachable(steps: list[d.AnyStep], out: _Collector) -> None:
    index_of = {step.id: i for i, step in enumerate(steps)}
    reached = {0}
    todo = [0]
    while todo:
        i = todo.pop()
        for target in d.successors(steps, i):
            j = index_of.get(target) if target is not None else None
            if j is not None and j not in reached:
                reached.add(j)
                todo.append(j)
    for i, step in enumerate(steps):
        if i not in reached:
            out.add(step, "No step leads here, so a customer can never reach it.")


def _check_loops(steps: list[d.AnyStep], out: _Collector) -> None:
    """A cycle through no pausing step would spin forever: find cycles among the others."""
    index_of = {step.id: i for i, step in enumerate(steps)}
    busy = {i for i, step in enumerate(steps) if step.kind not in d.PAUSING}
    edges = {
        i: [index_of[t] for t in d.successors(steps, i) if t in index_of and index_of[t] in busy]
        for i in busy
    }
    state: dict[int, int] = {}  # 1: on the path, 2: done
    reported: set[int] = set()

    def visit(i: int, path: list[int]) -> None:
        state[i] = 1
        path.append(i)
        for j in edges[i]:
            if state.get(j) == 1 and j not in reported:
                loop = path[path.index(j) :]
                reported.add(j)
                names = " → ".join(f'"{steps[k].title}"' for k in [*loop, j])
                out.add(
                    steps[j],
                    f"These steps loop with no question or wait between them: "
                    f"{names}. Add an ask, a choice or a wait in the loop.",
                )
            elif j not in state:
                visit(j, path)
        path.pop()
        state[i] = 2

    for i in sorted(busy):
        if i not in state:
            visit(i, [])
