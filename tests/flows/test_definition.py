"""The validator: every rule with a good and a bad definition, each problem naming its step;
and the four starters pass it."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from clientcompass.flows.starters import STARTERS
from clientcompass.flows.validate import Problem, parse_and_validate

MEMBER = uuid.uuid4()


def flow(*steps: dict[str, Any], trigger: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"format": 1, "trigger": trigger or {"kind": "manual"}, "steps": list(steps)}


def send(id: str, text: str = "Hello", **more: Any) -> dict[str, Any]:
    return {"kind": "send", "id": id, "title": f"Say {id}", "text": text, **more}


def ask(id: str, save_as: str, **more: Any) -> dict[str, Any]:
    return {
        "kind": "ask",
        "id": id,
        "title": f"Ask {id}",
        "text": "Your name?",
        "save_as": save_as,
        **more,
    }


def buttons(
    id: str, *options: tuple[str, str, str | None], style: str = "buttons"
) -> dict[str, Any]:
    return {
        "kind": "choose",
        "id": id,
        "title": f"Choose {id}",
        "text": "Pick one",
        "style": style,
        "options": [{"id": o, "title": t, "next": n} for o, t, n in options],
    }


def problems(data: dict[str, Any]) -> list[Problem]:
    return parse_and_validate(data, {MEMBER})[1]


def only_problem(data: dict[str, Any], step_id: str | None, words: str) -> Problem:
    found = problems(data)
    assert len(found) == 1, [str(p) for p in found]
    assert found[0].step_id == step_id
    assert words in found[0].message, found[0].message
    return found[0]


@pytest.mark.parametrize("slug", sorted(STARTERS))
def test_every_starter_is_valid(slug: str) -> None:
    assert [str(p) for p in problems(STARTERS[slug].copy())] == []


def test_a_good_flow_has_no_problems() -> None:
    good = flow(
        ask("name", "name"),
        buttons("urgent", ("yes", "Yes", "tag"), ("no", "No", "bye")),
        {"kind": "tag", "id": "tag", "title": "Tag it", "tag": "urgent"},
        {
            "kind": "assign",
            "id": "who",
            "title": "Assign",
            "to": "member",
            "member_id": str(MEMBER),
        },
        {"kind": "end", "id": "bye", "title": "Bye", "text": "Thanks {name}"},
    )
    assert problems(good) == []


def test_an_unreachable_step_is_named() -> None:
    bad = flow(send("a", next="c"), send("b"), send("c"))
    problem = only_problem(bad, "b", "can never reach")
    assert str(problem).startswith('Step "Say b" (b):')


def test_a_step_after_an_end_is_unreachable_and_one_before_it_is_not() -> None:
    only_problem(flow(send("a"), {"kind": "end", "id": "e", "title": "E"}, send("z")), "z", "never")
    assert problems(flow(send("a"), send("z"), {"kind": "end", "id": "e", "title": "E"})) == []


def test_a_loop_without_a_wait_or_question_is_refused() -> None:
    only_problem(flow(send("a"), send("b", next="a")), "a", "loop")


@pytest.mark.parametrize(
    "pause",
    [
        {"kind": "wait", "id": "w", "title": "Wait", "seconds": 3600, "next": "a"},
        {"kind": "ask", "id": "w", "title": "Ask", "text": "Again?", "save_as": "x", "next": "a"},
    ],
)
def test_a_loop_through_a_wait_or_a_question_is_fine(pause: dict[str, Any]) -> None:
    assert problems(flow(send("a"), send("b"), pause)) == []


def test_a_choice_option_without_a_target_is_refused() -> None:
    bad = flow(buttons("c", ("yes", "Yes", "e"), ("no", "No", None)), send("e"))
    only_problem(bad, "c", 'Option "No" goes nowhere')


def test_a_branch_needs_targets_and_a_default() -> None:
    branch = {
        "kind": "branch",
        "id": "b",
        "title": "Open?",
        "on": "business_hours",
        "cases": [{"equals": "open", "next": "e"}],
        "default": "e",
    }
    assert problems(flow(branch, send("e"))) == []
    no_default = copy.deepcopy(branch) | {"default": None}
    only_problem(flow(no_default, send("e")), "b", "needs a default")
    no_target = copy.deepcopy(branch)
    no_target["cases"][0]["next"] = None
    only_problem(flow(no_target, send("e")), "b", 'Case "open" goes nowhere')
    never = copy.deepcopy(branch)
    never["cases"][0]["equals"] = "maybe"
    only_problem(flow(never, send("e")), "b", "can never match")


def test_references_to_unknown_steps_answers_fields_and_members() -> None:
    only_problem(flow(send("a", next="ghost")), "a", '"ghost", which does not exist')
    only_problem(flow(send("a", text="Hi {who}")), "a", "{who}")
    branch = {
        "kind": "branch",
        "id": "b",
        "title": "By answer",
        "on": "answer",
        "name": "colour",
        "cases": [{"equals": "red", "next": "e"}],
        "default": "e",
    }
    only_problem(flow(branch, send("e")), "b", 'answer "colour"')
    field = {"kind": "set_field", "id": "f", "title": "Field", "field": "shoe_size", "value": "9"}
    only_problem(flow(field), "f", "not a contact field")
    lead = {"kind": "lead", "id": "l", "title": "Lead", "fields": {"suburb": "where"}}
    only_problem(flow(lead), "l", 'answer "where"')
    assert problems(flow(ask("q", "where"), lead)) == []
    assign = {
        "kind": "assign",
        "id": "m",
        "title": "To",
        "to": "member",
        "member_id": str(uuid.uuid4()),
    }
    only_problem(flow(assign), "m", "member of the team")


def test_too_many_buttons_or_list_items() -> None:
    four = [(f"o{i}", f"Option {i}", "e") for i in range(4)]
    only_problem(flow(buttons("c", *four), send("e")), "c", "4 buttons; WhatsApp allows 3")
    assert problems(flow(buttons("c", *four, style="list"), send("e"))) == []
    eleven = [(f"o{i}", f"Option {i}", "e") for i in range(11)]
    only_problem(flow(buttons("c", *eleven, style="list"), send("e")), "c", "allows 10")


def test_button_and_list_title_lengths_follow_whatsapp() -> None:
    twenty, twenty_one = "x" * 20, "x" * 21
    assert problems(flow(buttons("c", ("a", twenty, "e")), send("e"))) == []
    only_problem(flow(buttons("c", ("a", twenty_one, "e")), send("e")), "c", "20 characters")
    assert problems(flow(buttons("c", ("a", "y" * 24, "e"), style="list"), send("e"))) == []
    only_problem(
        flow(buttons("c", ("a", "y" * 25, "e"), style="list"), send("e")), "c", "24 characters"
    )


def test_empty_texts_and_shape_errors_name_the_step() -> None:
    only_problem(flow(send("a", text="  ")), "a", "empty")
    assert problems(flow(send("a", text="", media_file_id=str(uuid.uuid4())))) == []
    only_problem(flow({"kind": "ask", "id": "q", "title": "Ask", "text": "?"}), "q", "save_as")
    only_problem(flow({"kind": "teleport", "id": "t", "title": "Beam"}), "t", "teleport")


def test_every_problem_comes_back_at_once() -> None:
    bad = flow(send("a", text="", next="nowhere"), send("b"), trigger={"kind": "keyword"})
    found = problems(bad)
    assert {p.step_id for p in found} == {None, "a", "b"}
    assert len(found) == 4
