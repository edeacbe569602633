"""Per-tenant settings that later features add without a new column each (key → JSON).

Keys are namespaced by feature, e.g. `documents.rounding` or `reminders.schedule`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from clientcompass.db import UnitOfWork
from clientcompass.models import TenantSetting


async def get_setting(uow: UnitOfWork, key: str, default: Any = None) -> Any:
    assert uow.tenant_id is not None
    value = await uow.session.scalar(
        select(TenantSetting.value)
        .where(TenantSetting.tenant_id == uow.tenant_id)
        .where(TenantSetting.key == key)
    )
    return default if value is None else value


async def set_setting(uow: UnitOfWork, key: str, value: Any) -> None:
    assert uow.tenant_id is not None
    statement = insert(TenantSetting).values(tenant_id=uow.tenant_id, key=key, value=value)
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[TenantSetting.tenant_id, TenantSetting.key],
            set_={"value": statement.excluded.value},
        )
    )
