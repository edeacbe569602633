"""Flows as the business edits them: drafts checked on save, versions frozen on publish.

Only owners and admins build flows. Every save of a draft is validated (validate.py) and
refused whole, with every problem named, so a draft in the database is always runnable;
publishing copies it into the next immutable version under a row lock, so two publishes at
once get numbers n and n+1, never the same one.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from clientcompass.auth.principal import Principal
from clientcompass.db import UnitOfWork
from clientcompass.errors import InvalidInput, NotFound
from clientcompass.flows import content
from clientcompass.flows import definition as d
from clientcompass.flows.starters import STARTERS
from clientcompass.flows.validate import Problem, parse_and_validate
from clientcompass.models import Flow, FlowVersion, User

NAME_MAX = 120
BLANK: dict[str, Any] = {
    "format": d.FORMAT,
    "trigger": {"kind": "manual"},
    "steps": [{"kind": "send", "id": "hello", "title": "Hello", "text": "Hi! How can we help?"}],
}


class FlowInvalid(InvalidInput):
    """A draft refused on save: every problem, each naming its step."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(
            f"The flow has {len(problems)} problem{'s' if len(problems) != 1 else ''}: "
            + "; ".join(str(p) for p in problems)
        )
        self.problems = problems


def check_name(name: str) -> None:
    if not name.strip():
        raise InvalidInput("Give the flow a name.", field="name")
    if len(name.strip()) > NAME_MAX:
        raise InvalidInput(f"Keep the name to {NAME_MAX} characters.", field="name")


async def member_ids(uow: UnitOfWork) -> set[uuid.UUID]:
    """Members a flow may assign to: active and still on the team."""
    rows = await uow.session.scalars(
        select(User.id).where(User.is_active.is_(True), User.removed_at.is_(None))
    )
    return set(rows)


async def check(uow: UnitOfWork, data: Any) -> d.FlowDefinition:
    """The parsed definition, or FlowInvalid with all its problems."""
    definition, problems = parse_and_validate(data, await member_ids(uow))
    if problems or definition is None:
        raise FlowInvalid(problems)
    return definition


async def list_flows(uow: UnitOfWork, actor: Principal) -> list[Flow]:
    actor.require_manager()
    return list(await uow.session.scalars(select(Flow).order_by(Flow.name, Flow.id)))


async def get_flow(
    uow: UnitOfWork, actor: Principal, flow_id: uuid.UUID, *, for_update: bool = False
) -> Flow:
    actor.require_manager()
    statement = select(Flow).where(Flow.tenant_id == actor.tenant_id, Flow.id == flow_id)
    flow = await uow.session.scalar(statement.with_for_update() if for_update else statement)
    if flow is None:
        raise NotFound("There is no such flow.")
    return flow


async def create_flow(
    uow: UnitOfWork,
    actor: Principal,
    name: str,
    *,
    starter: str | None = None,
    definition: dict[str, Any] | None = None,
) -> Flow:
    """A new flow whose draft is a starter's copy, the definition given, or a one-step hello."""
    actor.require_manager()
    check_name(name)
    if starter is not None:
        if starter not in STARTERS:
            raise InvalidInput(f'There is no starter "{starter}".', field="starter")
        data = STARTERS[starter].copy()
    else:
        data = definition if definition is not None else dict(BLANK)
    parsed = await check(uow, data)
    flow = Flow(
        tenant_id=actor.tenant_id,
        id=uuid.uuid4(),
        name=name.strip(),
        trigger_kind=parsed.trigger.kind,
        draft=d.dump(parsed),
        updated_by=actor.user_id,
        updated_at=uow.now,
    )
    uow.session.add(flow)
    await uow.session.flush()
    return flow


async def save_draft(
    uow: UnitOfWork, actor: Principal, flow_id: uuid.UUID, data: Any, *, name: str | None = None
) -> Flow:
    """Replace the draft; refused whole (FlowInvalid) when anything in it is wrong."""
    flow = await get_flow(uow, actor, flow_id, for_update=True)
    parsed = await check(uow, data)
    if name is not None:
        check_name(name)
        flow.name = name.strip()
    flow.draft = d.dump(parsed)
    flow.trigger_kind = parsed.trigger.kind
    flow.updated_by = actor.user_id
    flow.updated_at = uow.now
    await uow.session.flush()
    return flow


async def publish(uow: UnitOfWork, actor: Principal, flow_id: uuid.UUID) -> FlowVersion:
    """Freeze the draft as the next version and make it live; runs already going keep theirs."""
    flow = await get_flow(uow, actor, flow_id, for_update=True)
    parsed = await check(uow, flow.draft)
    latest = await uow.session.scalar(
        select(func.max(FlowVersion.number)).where(
            FlowVersion.tenant_id == actor.tenant_id, FlowVersion.flow_id == flow.id
        )
    )
    version = FlowVersion(
        tenant_id=actor.tenant_id,
        flow_id=flow.id,
        number=(latest or 0) + 1,
        trigger_kind=parsed.trigger.kind,
        definition=d.dump(parsed),
        published_at=uow.now,
        published_by=actor.user_id,
    )
    uow.session.add(version)
    flow.live_version = version.number
    flow.updated_at = uow.now
    await uow.session.flush()
    if any(isinstance(step, d.ChooseStep) for step in parsed.steps):
        uow.defer_job(
            content.PREPARE_TASK,
            tenant_id=str(actor.tenant_id),
            flow_id=str(flow.id),
            version=version.number,
        )
    return version


async def list_versions(uow: UnitOfWork, actor: Principal, flow_id: uuid.UUID) -> list[FlowVersion]:
    flow = await get_flow(uow, actor, flow_id)
    rows = await uow.session.scalars(
        select(FlowVersion)
        .where(FlowVersion.tenant_id == actor.tenant_id, FlowVersion.flow_id == flow.id)
        .order_by(FlowVersion.number.desc())
    )
    return list(rows)


async def get_version(
    uow: UnitOfWork, actor: Principal, flow_id: uuid.UUID, number: int
) -> FlowVersion:
    flow = await get_flow(uow, actor, flow_id)
    version = await uow.session.get(FlowVersion, (actor.tenant_id, flow.id, number))
    if version is None:
        raise NotFound("That flow has no such version.")
    return version


async def members(uow: UnitOfWork) -> list[tuple[uuid.UUID, str]]:
    """(id, name) of the members a flow may assign to, for the builder's picker."""
    rows = await uow.session.execute(
        select(User.id, User.name)
        .where(User.is_active.is_(True), User.removed_at.is_(None))
        .order_by(User.name)
    )
    return [(row[0], row[1]) for row in rows]
