"""JSON log lines with a request id, and secrets masked before anything is written.

Two kinds of masking: values under secret-sounding keys (`redact`), and the arguments of
background jobs, which procrastinate writes into its own lines ("Starting job
send_email[12](to=…, subject=…, body=…)") at info level. An invitation (valid 7 days) or a
password reset (1 hour) is a link in an email job's body, so every such line carried a live
token. `JobArgumentFilter` sits on the one handler and leaves a job's name, id and the ids
among its arguments, nothing else.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

SECRET_KEY_PATTERN = re.compile(
    r"pass(word)?|secret|token|auth|authorization|cookie|csrf|account_number|branch_code|"
    r"bank|api_key|encryption|private_key|jwt",
    re.IGNORECASE,
)
MASK = "[redacted]"


def redact(value: Any, key: str = "") -> Any:
    """Mask values under secret-sounding keys, recursively, so a careless log call leaks nothing."""
    if key and SECRET_KEY_PATTERN.search(key):
        return MASK
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


# A procrastinate call string: `task_name[job id](arguments…)`, to the last parenthesis of the
# line (greedy: an argument may itself hold parentheses or newlines).
_CALL_STRING = re.compile(r"([\w.:-]+\[(?:\d+|None)\])\(.*\)", re.DOTALL)
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
JOB_LOGGER = "procrastinate"


def _job_argument(value: Any) -> Any:
    """Ids (numbers, UUIDs) say which job this was; any other value is masked."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str) and _UUID.fullmatch(value):
        return value
    return MASK


def safe_job(job: Mapping[str, Any]) -> dict[str, Any]:
    """procrastinate's `log_context()` of a job, with its arguments masked."""
    kwargs = job.get("task_kwargs") or {}
    safe_kwargs = {str(k): _job_argument(v) for k, v in dict(kwargs).items()}
    arguments = ", ".join(f"{k}={v!r}" for k, v in safe_kwargs.items())
    call = f"{job.get('task_name')}[{job.get('id')}]({arguments})"
    return {**job, "task_kwargs": safe_kwargs, "call_string": call}


def redact_call_strings(message: str) -> str:
    """`send_email[12](to='a@b', body='…token…') ended …` → `send_email[12]([redacted]) ended …`,
    for a line that does not say which job wrote it."""
    return _CALL_STRING.sub(rf"\1({MASK})", message)


class JobArgumentFilter(logging.Filter):
    """Masks job arguments in procrastinate's records before any formatter sees them: in the
    message, and in the `job` / `jobs` context it attaches (for a formatter that shows it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(JOB_LOGGER):
            return True
        message = record.getMessage()
        job = getattr(record, "job", None)
        if isinstance(job, Mapping) and job.get("call_string"):
            safe = safe_job(job)
            record.job = safe
            # The same Job wrote both: its names and ids stay readable in the line.
            redacted = message.replace(str(job["call_string"]), safe["call_string"])
        else:
            redacted = redact_call_strings(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        jobs = getattr(record, "jobs", None)
        if isinstance(jobs, list):
            record.jobs = [safe_job(j) if isinstance(j, Mapping) else j for j in jobs]
        return True


def _redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key != "event":
            event_dict[key] = redact(event_dict[key], key)
    return event_dict


def configure_logging(level: str = "INFO") -> None:
    """Route structlog and the standard library through one JSON renderer on stderr."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_processor,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        # Filtering in the bound logger drops below-level calls before any processor runs.
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(JobArgumentFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
