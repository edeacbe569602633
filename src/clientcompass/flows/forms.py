"""The builder's plain forms, turned into definition JSON and back.

Each form edits one step (or adds, moves, deletes one) of a copy of the stored draft; the
whole copy then goes through the same save as the API, so the page refuses exactly what the
API refuses. Rows of repeated inputs (options, cases) are numbered `option_title_0`, … and a
row whose title/value is blank is dropped.
"""

from __future__ import annotations

import copy
from typing import Any

from clientcompass.flows import definition as d

MAX_ROWS = d.MAX_LIST_ITEMS


def _text(form: dict[str, str], name: str) -> str:
    return form.get(name, "").replace("\r\n", "\n").strip()


def _optional(form: dict[str, str], name: str) -> str | None:
    return _text(form, name) or None


def _pairs(text: str) -> dict[str, str]:
    """`key = value` lines, for the webhook's reply mapping."""
    pairs = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            pairs[key.strip()] = value.strip()
    return pairs


def step_from_form(old: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """The step as the edit form leaves it; the kind and id never change here."""
    step = {"kind": old["kind"], "id": old["id"], "title": _text(form, "title")}
    kind = old["kind"]
    if kind not in ("choose", "branch"):
        step["next"] = _optional(form, "next")
    if kind in ("send", "ask", "choose", "notify", "handoff", "end"):
        step["text"] = _text(form, "text")
    if kind == "send" and old.get("media_file_id"):
        step["media_file_id"] = old["media_file_id"]
    if kind == "ask":
        step |= {
            "expect": _text(form, "expect") or "text",
            "hint": _text(form, "hint"),
            "max_tries": _text(form, "max_tries") or "3",
            "save_as": _text(form, "save_as"),
            "minimum": _optional(form, "minimum"),
            "maximum": _optional(form, "maximum"),
        }
    elif kind == "choose":
        step |= {
            "style": _text(form, "style") or "buttons",
            "button": _text(form, "button") or "Choose",
            "save_as": _optional(form, "save_as"),
            "options": [
                {
                    "id": _text(form, f"option_id_{i}") or f"option{i + 1}",
                    "title": _text(form, f"option_title_{i}"),
                    "description": _text(form, f"option_description_{i}"),
                    "next": _optional(form, f"option_next_{i}"),
                }
                for i in range(MAX_ROWS + 1)
                if _text(form, f"option_title_{i}")
            ],
        }
    elif kind == "branch":
        step |= {
            "on": _text(form, "on"),
            "name": _text(form, "name"),
            "default": _optional(form, "default"),
            "cases": [
                {
                    "equals": _text(form, f"case_equals_{i}"),
                    "next": _optional(form, f"case_next_{i}"),
                }
                for i in range(MAX_ROWS + 1)
                if _text(form, f"case_equals_{i}")
            ],
        }
    elif kind == "set_field":
        step |= {"field": _text(form, "field"), "value": _text(form, "value")}
    elif kind == "tag":
        step |= {"tag": _text(form, "tag"), "remove": form.get("remove") == "on"}
    elif kind == "lead":
        answers = {f.value: _text(form, f"lead_{f.value}") for f in d.LeadField}
        step["fields"] = {field: answer for field, answer in answers.items() if answer}
    elif kind == "assign":
        step |= {
            "to": _text(form, "to") or "round_robin",
            "member_id": _optional(form, "member_id"),
        }
    elif kind == "wait":
        minutes = _text(form, "minutes")
        step["seconds"] = int(minutes) * 60 if minutes.isdigit() and len(minutes) < 9 else minutes
    elif kind == "webhook":
        step |= {"url": _text(form, "url"), "answers": _pairs(form.get("answers", ""))}
    return step


def _fresh_id(kind: str, taken: set[str]) -> str:
    n = 1
    while f"{kind}-{n}" in taken:
        n += 1
    return f"{kind}-{n}"


def new_step(kind: str, taken: set[str], following: str | None) -> dict[str, Any]:
    """A step of that kind with sensible defaults, to be edited after it is added."""
    step_id = _fresh_id(kind.replace("_", "-"), taken)
    step: dict[str, Any] = {"kind": kind, "id": step_id, "title": d.STEP_LABELS.get(kind, kind)}
    answer = step_id.replace("-", "_")
    if kind == "send":
        step["text"] = "Thanks! We'll be in touch."
    elif kind == "ask":
        step |= {"text": "What's your name, please?", "expect": "name", "save_as": answer}
    elif kind == "choose":
        step |= {
            "text": "Please choose one:",
            "style": "buttons",
            "options": [
                {"id": "yes", "title": "Yes", "next": following},
                {"id": "no", "title": "No", "next": following},
            ],
            "save_as": answer,
        }
    elif kind == "branch":
        step |= {
            "on": "business_hours",
            "cases": [{"equals": "open", "next": following}],
            "default": following,
        }
    elif kind == "set_field":
        step |= {"field": "notes", "value": "Came in through a flow"}
    elif kind == "tag":
        step["tag"] = "flow"
    elif kind == "notify":
        step["text"] = "A customer needs attention."
    elif kind == "wait":
        step["seconds"] = 3600
    elif kind == "webhook":
        step["url"] = "https://example.com/hook"
    elif kind == "handoff":
        step["text"] = "Thanks! Someone from our team will reply shortly."
    return step


def add_step(draft: dict[str, Any], kind: str, after: str | None) -> tuple[dict[str, Any], str]:
    """The draft with a new step after `after` (at the end when none), and the new step's id."""
    data = copy.deepcopy(draft)
    steps: list[dict[str, Any]] = data["steps"]
    ids = [s["id"] for s in steps]
    at = ids.index(after) + 1 if after in ids else len(steps)
    following = steps[at]["id"] if at < len(steps) else None
    step = new_step(kind, set(ids), following)
    steps.insert(at, step)
    return data, step["id"]


def replace_step(draft: dict[str, Any], step_id: str, form: dict[str, str]) -> dict[str, Any]:
    data = copy.deepcopy(draft)
    data["steps"] = [step_from_form(s, form) if s["id"] == step_id else s for s in data["steps"]]
    return data


def move_step(draft: dict[str, Any], step_id: str, by: int) -> dict[str, Any]:
    data = copy.deepcopy(draft)
    steps = data["steps"]
    ids = [s["id"] for s in steps]
    if step_id in ids:
        i = ids.index(step_id)
        j = max(0, min(len(steps) - 1, i + by))
        steps.insert(j, steps.pop(i))
    return data


def delete_step(draft: dict[str, Any], step_id: str) -> dict[str, Any]:
    data = copy.deepcopy(draft)
    data["steps"] = [s for s in data["steps"] if s["id"] != step_id]
    return data


def set_trigger(draft: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    data = copy.deepcopy(draft)
    kind = _text(form, "trigger")
    trigger: dict[str, Any] = {"kind": kind}
    if kind == "keyword":
        trigger["keywords"] = [w.strip() for w in form.get("keywords", "").split(",") if w.strip()]
    elif kind == "ad":
        trigger["source_ids"] = [
            w.strip() for w in form.get("source_ids", "").split(",") if w.strip()
        ]
    data["trigger"] = trigger
    return data
