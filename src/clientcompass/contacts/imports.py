"""Starting an import: a small file in the request, a large one as a job with progress.

Up to SYNC_ROW_LIMIT rows are imported while the request waits (a second or so). A larger file
waits in Redis (an hour at most) for the job, which checks the rows a batch at a time and
writes its progress next to it, so the page can show "Checked 1,250 of 8,000 rows" while it
polls. The job is all or nothing like the request: every row is checked first, and the rows
are written in one transaction only if none is bad. Keys carry the tenant, so an import's
status is readable only inside its own tenant.
"""

from __future__ import annotations

import uuid

import structlog
from redis.asyncio import Redis

from clientcompass.contacts import csv_io
from clientcompass.contacts.schemas import ImportResult, ImportState, ImportStatus
from clientcompass.db import UnitOfWork
from clientcompass.errors import InvalidInput, NotFound
from clientcompass.work import Resources

log = structlog.get_logger(__name__)

IMPORT_TASK = "contacts.import_csv"
SYNC_ROW_LIMIT = 500
BATCH = 250
KEEP_SECONDS = 3600


def _key(tenant_id: uuid.UUID, import_id: uuid.UUID) -> str:
    return f"contacts-import:{tenant_id}:{import_id}"


async def start_import(uow: UnitOfWork, redis: Redis, data: bytes) -> ImportResult | ImportStatus:
    """The result of a small file (imported in `uow`), or the status of a queued large one."""
    table = csv_io.read_table(data)
    if len(table.rows) <= SYNC_ROW_LIMIT:
        return await csv_io.import_table(uow, table)
    tenant_id = uow.tenant_id
    if tenant_id is None:
        raise RuntimeError("an import needs a tenant-scoped unit of work")
    status = ImportStatus(
        id=uuid.uuid4(), state=ImportState.QUEUED, checked=0, total=len(table.rows)
    )
    key = _key(tenant_id, status.id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(f"{key}:file", data, ex=KEEP_SECONDS)
        pipe.set(key, status.model_dump_json(), ex=KEEP_SECONDS)
        await pipe.execute()
    uow.defer_job(IMPORT_TASK, tenant_id=str(tenant_id), import_id=str(status.id))
    return status


async def read_status(redis: Redis, tenant_id: uuid.UUID, import_id: uuid.UUID) -> ImportStatus:
    raw = await redis.get(_key(tenant_id, import_id))
    if raw is None:
        raise NotFound("That import is not known here; results are kept for an hour.")
    return ImportStatus.model_validate_json(raw)


async def _save(redis: Redis, tenant_id: uuid.UUID, status: ImportStatus) -> None:
    await redis.set(_key(tenant_id, status.id), status.model_dump_json(), ex=KEEP_SECONDS)


async def _fail(redis: Redis, tenant_id: uuid.UUID, status: ImportStatus, problem: str) -> None:
    status.state, status.problem = ImportState.FAILED, problem
    await _save(redis, tenant_id, status)


async def run_import(resources: Resources, tenant_id: uuid.UUID, import_id: uuid.UUID) -> None:
    """The job: check every row (reporting progress), then write them all in one transaction."""
    redis = resources.redis
    try:
        status = await read_status(redis, tenant_id, import_id)
    except NotFound:
        log.warning("contacts import expired before it ran", import_id=str(import_id))
        return
    if status.finished:  # a job run twice: the first run's answer stands
        return
    data = await redis.get(f"{_key(tenant_id, import_id)}:file")
    try:
        if not isinstance(data, bytes):
            raise InvalidInput("The upload expired before it could be imported. Upload it again.")
        table = csv_io.read_table(data)
    except InvalidInput as exc:
        await _fail(redis, tenant_id, status, exc.message)
        return
    checker = csv_io.RowChecker(table.columns)
    status.state = ImportState.CHECKING
    for start in range(0, len(table.rows), BATCH):
        checker.check(table.rows[start : start + BATCH])
        status.checked = min(start + BATCH, len(table.rows))
        await _save(redis, tenant_id, status)
    if checker.errors:
        status.result = ImportResult(created=0, updated=0, errors=checker.errors)
    else:
        status.state = ImportState.SAVING
        await _save(redis, tenant_id, status)
        try:
            async with resources.unit_of_work(tenant_id) as uow:
                status.result = await csv_io.save_rows(uow, checker.parsed)
        except InvalidInput as exc:
            await _fail(redis, tenant_id, status, exc.message)
            return
        except Exception:
            # Rolled back: say so on the page rather than leave it "saving" for an hour.
            await _fail(redis, tenant_id, status, "Saving failed, so nothing was imported.")
            raise
    status.state = ImportState.DONE
    await _save(redis, tenant_id, status)
    await redis.delete(f"{_key(tenant_id, import_id)}:file")
