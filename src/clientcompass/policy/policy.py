"""The privacy policy: its current version, and its plain-text source rendered to HTML.

The source is a text file per version (`privacy-<version>.txt`) so a change is a new file and a
new `CURRENT_VERSION`, which shows every signed-in person a notice on their next visit. Its
structure is minimal: `#`-prefixed headings, `- ` list items, every other line a paragraph.
The operator's details are `{placeholders}` filled from settings, so a deployment names its
own Responsible Party without editing the policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from html import escape
from importlib import resources

from markupsafe import Markup

from clientcompass.config import Settings
from clientcompass.models import User

CURRENT_VERSION = "2025-12-13"


@dataclass(frozen=True)
class Upcoming:
    """A newer version, added to the repo (`privacy-<version>.txt`) before it takes effect.

    From the release that names it until `effective`, /privacy links it and a daily job
    emails every business's owners once (lifecycle/policy_notice.py): the policy's "prior to the
    change". The release on or after `effective` makes it CURRENT_VERSION (and clears this),
    which shows everyone the notice on their next visit."""

    version: str
    effective: date


# None, or the version announced: e.g. Upcoming("2026-03-01", date(2026, 3, 1)).
UPCOMING: Upcoming | None = None


def upcoming(today: date, announced: Upcoming | None = None) -> Upcoming | None:
    """The version announced and not yet in effect on `today`, if any."""
    found = announced if announced is not None else UPCOMING
    return found if found is not None and found.effective > today else None


_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Paths in the text that are pages of this app, linked when rendered.
_LINKED_PATHS = ("/deletion.html",)


@cache
def source(version: str = CURRENT_VERSION) -> str:
    return resources.files(__package__).joinpath(f"privacy-{version}.txt").read_text("utf-8")


def operator_details(settings: Settings) -> dict[str, str]:
    return {
        "operator_name": settings.operator_name,
        "operator_address": settings.operator_address,
        "operator_email": settings.operator_email,
        "operator_phone": settings.operator_phone,
        "information_officer": settings.information_officer,
    }


def _inline(line: str, details: dict[str, str]) -> str:
    """Escape one line, then fill placeholders (escaped too) and link the app's own pages."""
    html = escape(line, quote=False)
    for path in _LINKED_PATHS:
        html = html.replace(path, f'<a href="{path}">{path}</a>')
    # A placeholder the settings don't name raises KeyError: a typo must not reach the page.
    return _PLACEHOLDER.sub(lambda m: escape(details[m.group(1)], quote=False), html)


def render_html(settings: Settings, version: str = CURRENT_VERSION) -> Markup:
    """The policy as HTML: h1 to h4, p and ul/li, every piece of text escaped."""
    details = operator_details(settings)
    out: list[str] = []
    in_list = False
    for raw in source(version).splitlines():
        line = raw.strip()
        if not line:
            continue
        is_item = line.startswith("- ")
        if in_list and not is_item:
            out.append("</ul>")
            in_list = False
        if is_item:
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{_inline(line[2:], details)}</li>")
        elif line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 4)
            out.append(f"<h{level}>{_inline(line.lstrip('#').strip(), details)}</h{level}>")
        else:
            out.append(f"<p>{_inline(line, details)}</p>")
    if in_list:
        out.append("</ul>")
    return Markup("\n".join(out))  # noqa: S704 (every piece of text was escaped above)


def record_acceptance(user: User, at: datetime) -> None:
    """Keep which version this person accepted (at sign-up) or read (the notice), and when."""
    user.policy_version = CURRENT_VERSION
    user.policy_accepted_at = at


def is_outdated(user: User) -> bool:
    """Whether this person has yet to see the current version (shown once, as a notice)."""
    return user.policy_version != CURRENT_VERSION
