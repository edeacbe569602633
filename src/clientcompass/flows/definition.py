"""The flow definition format: what a business saves, what a run will interpret.

A definition is JSON, versioned by `format` (now 1), and read by these Pydantic models. It has
one `trigger` and an ordered list of `steps`; both are unions discriminated by `kind`. Each
step has a stable `id` (letters, digits, `_`, `-`; never reused for another step, because a
running conversation's journal names it) and a human `title` shown to the team.

Control flow, for the runtime:
- After a step, the run goes to the step its `next` names, or else the following step in the
  list. Past the last step, the run ends.
- `end` and `handoff` stop the run (`handoff` gives the thread to a person).
- `choose` goes to the `next` of the option picked (matched by option id: a button payload or
  list item id; or by typed text: the option's number, id or title, case-insensitive).
- `branch` goes to the first case whose `equals` matches (case-insensitive), else `default`.
  On `business_hours` the values are "open" / "closed"; on `tag`, "yes" / "no".
- `ask` waits for an answer, checks it by `expect`, saves it under `save_as`; a bad answer gets
  `hint` and is asked again, up to `max_tries` answers in all, then the run hands off.
- `wait` pauses the run for `seconds` (a timer row, swept).
Pausing steps (ask, choose, wait) are the only ones that wait for the customer or the clock;
validate.py refuses loops without one.

Texts may name answers as `{answer_name}`; the runtime fills them in (empty when unknown).
Answers are named by `ask.save_as`, `choose.save_as` (the chosen option's title; its id is
kept too) and `webhook.answers` (JSON field -> answer). Contact fields a flow may read or set
are CONTACT_FIELDS; lead fields a lead step may fill are LeadField.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT: Literal[1] = 1
STEP_ID_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"
ANSWER_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"

# WhatsApp's limits for interactive messages sent in session (Twilio Content API:
# twilio/quick-reply allows 3 buttons in session, twilio/list-picker up to 10 items).
MAX_BUTTONS = 3
MAX_LIST_ITEMS = 10
BUTTON_TITLE_MAX = 20
LIST_ITEM_MAX = 24
LIST_DESCRIPTION_MAX = 72
LIST_BUTTON_MAX = 20
BODY_MAX = 1024

CONTACT_FIELDS = ("name", "email", "address", "notes")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- triggers -------------------------------------------------------------------------------


class NewContactTrigger(Model):
    """The first message from a contact the business has never heard from."""

    kind: Literal["new_contact"] = "new_contact"


class OutsideHoursTrigger(Model):
    """A message outside the business's weekly hours or on a public holiday."""

    kind: Literal["outside_hours"] = "outside_hours"


class KeywordTrigger(Model):
    """A message that is one of these words (case-insensitive, whole message)."""

    kind: Literal["keyword"] = "keyword"
    keywords: list[str] = Field(default_factory=list)


class AdTrigger(Model):
    """A message from a click-to-WhatsApp ad; any ad when `source_ids` is empty."""

    kind: Literal["ad"] = "ad"
    source_ids: list[str] = Field(default_factory=list)


class ManualTrigger(Model):
    """Started by an agent from a thread."""

    kind: Literal["manual"] = "manual"


Trigger = Annotated[
    NewContactTrigger | OutsideHoursTrigger | KeywordTrigger | AdTrigger | ManualTrigger,
    Field(discriminator="kind"),
]
TRIGGER_LABELS = {
    "new_contact": "First message from a new contact",
    "outside_hours": "A message outside business hours",
    "keyword": "A keyword",
    "ad": "A click-to-WhatsApp ad",
    "manual": "Started by hand from a thread",
}

# ---- steps ----------------------------------------------------------------------------------


class StepBase(Model):
    id: str = Field(pattern=STEP_ID_PATTERN)
    title: str = Field(max_length=80)
    next: str | None = None


class SendStep(StepBase):
    kind: Literal["send"] = "send"
    text: str = ""
    media_file_id: uuid.UUID | None = None


class Expect(StrEnum):
    TEXT = "text"
    NAME = "name"
    EMAIL = "email"
    PHONE = "phone"  # a South African number, stored E.164
    NUMBER = "number"
    DATETIME = "datetime"
    ADDRESS = "address"  # an address or suburb in words, or a location pin
    PHOTO = "photo"
    DOCUMENT = "document"


class AskStep(StepBase):
    kind: Literal["ask"] = "ask"
    text: str = ""
    expect: Expect = Expect.TEXT
    minimum: float | None = None  # number only
    maximum: float | None = None
    hint: str = ""  # sent with the question again after a bad answer
    max_tries: int = Field(default=3, ge=1, le=10)
    save_as: str = Field(pattern=ANSWER_PATTERN)


class Option(Model):
    id: str = Field(pattern=STEP_ID_PATTERN)
    title: str = ""
    description: str = ""  # list items only
    next: str | None = None


class ChooseStep(StepBase):
    kind: Literal["choose"] = "choose"
    text: str = ""
    style: Literal["buttons", "list"] = "buttons"
    button: str = "Choose"  # the list picker's button
    options: list[Option] = Field(default_factory=list)
    save_as: str | None = Field(default=None, pattern=ANSWER_PATTERN)


class BranchOn(StrEnum):
    ANSWER = "answer"
    CONTACT_FIELD = "contact_field"
    BUSINESS_HOURS = "business_hours"
    TAG = "tag"


class Case(Model):
    equals: str
    next: str | None = None


class BranchStep(StepBase):
    kind: Literal["branch"] = "branch"
    on: BranchOn
    name: str = ""  # the answer, contact field or tag; unused for business_hours
    cases: list[Case] = Field(default_factory=list)
    default: str | None = None


class SetFieldStep(StepBase):
    kind: Literal["set_field"] = "set_field"
    field: str
    value: str  # may name answers: "{suburb}"


class TagStep(StepBase):
    kind: Literal["tag"] = "tag"
    tag: str
    remove: bool = False


class LeadField(StrEnum):
    SERVICE = "service"
    SUBURB = "suburb"
    URGENCY = "urgency"
    PHOTOS = "photos"
    ESTIMATED_VALUE = "estimated_value"
    NOTES = "notes"


class LeadStep(StepBase):
    """Create the conversation's lead, or update it when the run made one already."""

    kind: Literal["lead"] = "lead"
    fields: dict[LeadField, str] = Field(default_factory=dict)  # lead field -> answer name


class AssignStep(StepBase):
    kind: Literal["assign"] = "assign"
    to: Literal["member", "round_robin"] = "round_robin"
    member_id: uuid.UUID | None = None


class NotifyStep(StepBase):
    kind: Literal["notify"] = "notify"
    text: str = ""


class WaitStep(StepBase):
    kind: Literal["wait"] = "wait"
    seconds: int = Field(ge=60, le=30 * 86400)


class WebhookStep(StepBase):
    kind: Literal["webhook"] = "webhook"
    url: str
    answers: dict[str, str] = Field(default_factory=dict)  # JSON field of the reply -> answer


class HandoffStep(StepBase):
    kind: Literal["handoff"] = "handoff"
    text: str = ""  # optional: what the customer is told


class EndStep(StepBase):
    kind: Literal["end"] = "end"
    text: str = ""


AnyStep = (
    SendStep
    | AskStep
    | ChooseStep
    | BranchStep
    | SetFieldStep
    | TagStep
    | LeadStep
    | AssignStep
    | NotifyStep
    | WaitStep
    | WebhookStep
    | HandoffStep
    | EndStep
)
Step = Annotated[AnyStep, Field(discriminator="kind")]
STEP_LABELS = {
    "send": "Send a message",
    "ask": "Ask a question",
    "choose": "Offer choices",
    "branch": "Branch",
    "set_field": "Set a contact field",
    "tag": "Tag the contact",
    "lead": "Create or update the lead",
    "assign": "Assign",
    "notify": "Notify the team",
    "wait": "Wait",
    "webhook": "Call a webhook",
    "handoff": "Hand off to a person",
    "end": "End",
}
TERMINAL = frozenset({"end", "handoff"})
PAUSING = frozenset({"ask", "choose", "wait"})


NUDGE_TEXT = "Are you still there? Just reply when you're ready."


class FlowDefinition(Model):
    format: Literal[1] = FORMAT
    trigger: Trigger
    steps: list[Step] = Field(default_factory=list)
    # A customer silent this long after a question gets one nudge; as long again, and the
    # run ends as abandoned.
    nudge_after_minutes: int = Field(default=60, ge=5, le=7 * 24 * 60)
    nudge_text: str = Field(default=NUDGE_TEXT, max_length=BODY_MAX)


def parse(data: Any) -> FlowDefinition:
    """Read a stored or submitted definition (raises pydantic.ValidationError)."""
    return FlowDefinition.model_validate(data)


def dump(definition: FlowDefinition) -> dict[str, Any]:
    return definition.model_dump(mode="json")


def successors(steps: list[AnyStep], index: int) -> list[str | None]:
    """The step ids a step may go to (None: a branch with no target), in the order shown."""
    step = steps[index]
    following = steps[index + 1].id if index + 1 < len(steps) else None
    if isinstance(step, ChooseStep):
        return [option.next for option in step.options]
    if isinstance(step, BranchStep):
        return [case.next for case in step.cases] + [step.default]
    if step.kind in TERMINAL:
        return []
    target = step.next or following
    return [target] if target is not None else []
