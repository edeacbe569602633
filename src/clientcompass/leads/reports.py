"""The leads page's reports, each a small SVG drawn on the server (no chart library, no
script): leads per source per week, conversion to quote and to won, and the median time to
the first reply.

The first reply is the first outbound message in the lead's conversation after the lead was
made. It is stored on the lead the first time a report finds it (one UPDATE for the tenant's
leads still without one), so the median reads stored values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from clientcompass.db import UnitOfWork
from clientcompass.models import BusinessProfile, LeadSource

WEEKS = 8
SOURCE_COLOURS = {
    LeadSource.FLOW.value: "#1b7f5b",
    LeadSource.AD.value: "#2f6fd0",
    LeadSource.MANUAL.value: "#8a5300",
    LeadSource.IMPORT.value: "#7d4cc2",
}

FIRST_REPLIES = text(
    """
    UPDATE leads l SET first_reply_at = r.at
    FROM (
        SELECT l2.id, min(m.created_at) AS at
        FROM leads l2
        JOIN messages m ON m.tenant_id = l2.tenant_id AND m.conversation_id = l2.conversation_id
        WHERE l2.tenant_id = :tenant AND l2.first_reply_at IS NULL
          AND l2.conversation_id IS NOT NULL
          AND m.direction = 'outbound' AND m.created_at >= l2.created_at
        GROUP BY l2.id
    ) r
    WHERE l.tenant_id = :tenant AND l.id = r.id
    """
)
PER_WEEK = text(
    """
    SELECT (date_trunc('week', created_at AT TIME ZONE :zone))::date AS week, source,
           count(*) AS leads,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM first_reply_at - created_at)
           ) FILTER (WHERE first_reply_at IS NOT NULL) AS median_reply
    FROM leads
    WHERE tenant_id = :tenant AND created_at >= :since
    GROUP BY 1, 2
    """
)
TOTALS = text(
    """
    SELECT count(*) AS leads,
           count(*) FILTER (WHERE stage IN ('quoted', 'won') OR EXISTS (
               SELECT 1 FROM lead_stage_changes c
               WHERE c.tenant_id = l.tenant_id AND c.lead_id = l.id AND c.to_stage = 'quoted'
           )) AS quoted,
           count(*) FILTER (WHERE stage = 'won') AS won,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM first_reply_at - created_at)
           ) FILTER (WHERE first_reply_at IS NOT NULL) AS median_reply
    FROM leads l
    WHERE tenant_id = :tenant AND created_at >= :since
    """
)


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass
class Chart:
    """What a template draws: bars in a 0 0 width height box, with labels under them."""

    title: str
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    labels: list[tuple[float, float, str]] = field(default_factory=list)
    summary: str = ""


@dataclass
class Reports:
    per_source: Chart
    conversion: Chart
    first_reply: Chart
    legend: list[tuple[str, str]]


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "no replies yet"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if hours < 48 else f"{hours // 24} days"


def _weeks(today: date) -> list[date]:
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=WEEKS - 1 - i) for i in range(WEEKS)]


async def build(uow: UnitOfWork) -> Reports:
    """The last eight weeks, in the business's time zone."""
    assert uow.tenant_id is not None
    profile = await uow.session.get(BusinessProfile, uow.tenant_id)
    zone = profile.timezone if profile and profile.timezone else "Africa/Johannesburg"
    await uow.session.execute(FIRST_REPLIES, {"tenant": uow.tenant_id})
    weeks = _weeks(uow.now.astimezone(ZoneInfo(zone)).date())
    since = datetime.combine(weeks[0], datetime.min.time(), ZoneInfo(zone))
    params = {"tenant": uow.tenant_id, "zone": zone, "since": since}
    counts: dict[tuple[date, str], int] = {}
    medians: dict[date, list[tuple[float, int]]] = {}
    for row in await uow.session.execute(PER_WEEK, params):
        counts[(row.week, row.source)] = int(row.leads)
        if row.median_reply is not None:
            medians.setdefault(row.week, []).append((float(row.median_reply), int(row.leads)))
    totals = (await uow.session.execute(TOTALS, params)).one()
    sources = [source.value for source in LeadSource]
    return Reports(
        per_source=_per_source(weeks, sources, counts),
        conversion=_conversion(int(totals.leads), int(totals.quoted), int(totals.won)),
        first_reply=_first_reply(weeks, medians, totals.median_reply),
        legend=[(source.capitalize(), SOURCE_COLOURS[source]) for source in sources],
    )


def _per_source(
    weeks: list[date], sources: list[str], counts: dict[tuple[date, str], int]
) -> Chart:
    chart = Chart("Leads per source per week", 320, 140)
    tallest = max([sum(counts.get((w, s), 0) for s in sources) for w in weeks] + [1])
    step = chart.width / len(weeks)
    plot = chart.height - 20
    for i, week in enumerate(weeks):
        top = float(plot)
        for source in sources:
            count = counts.get((week, source), 0)
            if not count:
                continue
            height = plot * count / tallest
            top -= height
            chart.bars.append(
                Bar(
                    i * step + 4,
                    top,
                    step - 8,
                    height,
                    SOURCE_COLOURS[source],
                    f"Week of {week:%-d %b}: {count} from {source}",
                )
            )
        chart.labels.append((i * step + step / 2, chart.height - 5, f"{week:%-d/%-m}"))
    chart.summary = f"{sum(counts.values())} leads in {len(weeks)} weeks"
    return chart


def _conversion(leads: int, quoted: int, won: int) -> Chart:
    chart = Chart("Conversion", 320, 96)
    rows = [("Leads", leads, "#8a97a6"), ("Quoted", quoted, "#2f6fd0"), ("Won", won, "#1b7f5b")]
    for i, (label, count, colour) in enumerate(rows):
        share = count / leads if leads else 0
        width = max((chart.width - 90) * share, 1 if count else 0)
        chart.bars.append(Bar(60, i * 30 + 4, width, 22, colour, f"{label}: {count} ({share:.0%})"))
        chart.labels.append((2, i * 30 + 20, label))
        chart.labels.append((64 + width, i * 30 + 20, f"{share:.0%}"))
    quote_rate = f"{quoted / leads:.0%}" if leads else "0%"
    won_rate = f"{won / leads:.0%}" if leads else "0%"
    chart.summary = f"{quote_rate} of leads quoted, {won_rate} won"
    return chart


def _first_reply(
    weeks: list[date], medians: dict[date, list[tuple[float, int]]], overall: float | None
) -> Chart:
    chart = Chart("Median time to first reply", 320, 140)
    # A week's median over its sources, weighted by their leads (close enough for a glance).
    per_week = {
        week: sum(m * n for m, n in values) / sum(n for _, n in values)
        for week, values in medians.items()
    }
    tallest = max([*per_week.values(), 60.0])
    step = chart.width / len(weeks)
    plot = chart.height - 20
    for i, week in enumerate(weeks):
        if week in per_week:
            height = max(plot * per_week[week] / tallest, 1)
            chart.bars.append(
                Bar(
                    i * step + 4,
                    plot - height,
                    step - 8,
                    height,
                    "#1b7f5b",
                    f"Week of {week:%-d %b}: {duration_text(per_week[week])}",
                )
            )
        chart.labels.append((i * step + step / 2, chart.height - 5, f"{week:%-d/%-m}"))
    chart.summary = f"Median {duration_text(None if overall is None else float(overall))}"
    return chart
