"""PDF rendering: the product's Typst path against WeasyPrint on an equivalent HTML invoice.

Both engines render the same invoices (a logo, the same DejaVu Sans files, the same
fields, the same kind of PDF: PDF/A-2b with tags) in one run: a 1-page invoice of 5 lines,
a 5-page invoice of 150 lines and a 20-page invoice of 800 lines. The
Typst side starts from stored rows (a `Document` and its `DocumentLine`s, priced by the
money module) and goes through `render.document_data` and `pdf.render`: the real data path
and template. Every render gets different data (number, customer, line text), as production does,
so Typst's cache cannot replay a whole earlier layout; the parts a business repeats (its
header, banking details, terms) may come from the cache, as in production, which measured
at under 2% here. WeasyPrint is a benchmark-only dependency (`.[bench]`); it needs Pango,
which `make bench` installs when missing.

Typst renders with every bundled font loaded (emoji, CJK and the rest: documents/fonts.py),
as production does; the invoices here are plain Latin text, so this measures what the extra
fonts cost ordinary documents.

The engines take turns in rounds, so a busy machine slows both alike and their ratio
holds; how Typst's time grows with pages compares each size's median with the 1-page one.

Targets (DESIGN.md, issue 10): ≤ 10 ms per 1-page invoice; ≥ 20 times faster than
WeasyPrint on one page (`pdf_ratio_1page`); page count costs linear time, a 20-page invoice
at most 20 times a 1-page one (`pdf_typst_20page_vs_1page`).
"""

from __future__ import annotations

import functools
import html
import itertools
import math
import re
import statistics
import struct
import time
import zlib
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from weasyprint import HTML

from clientcompass.business.schemas import AccountType, BankingDetails
from clientcompass.documents.money import PriceMode, Rounding
from clientcompass.documents.pdf import FONT_DIR, DocumentData, document_title, render
from clientcompass.documents.render import document_data
from clientcompass.documents.schemas import LineIn
from clientcompass.documents.service import price_lines
from clientcompass.models import BusinessProfile, Document, DocumentLine

SIZES = ("1page", "5page", "20page")
TYPST_RUNS = {"1page": 300, "5page": 40, "20page": 12}
WEASYPRINT_RUNS = {"1page": 30, "5page": 6, "20page": 3}
LINES = {"1page": 5, "5page": 150, "20page": 800}

JOBS = [
    ("Replace geyser element (3 kW) and thermostat", "ea", "1250.00"),
    ("Call-out fee, Cape Town metro", "ea", "450.00"),
    (
        "Install double plug point in kitchen, incl. trunking and wiring from the DB board",
        "ea",
        "890.00",
    ),
    ("Certificate of Compliance (CoC) inspection and report", "ea", "1650.00"),
    ("Labour, qualified electrician", "hrs", "520.00"),
    ("LED downlights, 7 W warm white", "ea", "139.00"),
    ("Surge protection device, DIN rail", "ea", "1095.00"),
]


def logo() -> bytes:
    """A 480 x 160 two-colour PNG, about the size of a real business logo."""
    width, height = 480, 160
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            inside = (x - 80) ** 2 + (y - 80) ** 2 < 60**2 or (180 < x < 460 and 55 < y < 105)
            row += bytes((31, 59, 87)) if inside else bytes((255, 255, 255))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


LOGO = logo()


PROFILE = BusinessProfile(
    trading_name="Ṱhivhulawi Electrical",
    registered_name="Ṱhivhulawi Electrical (Pty) Ltd",
    registration_number="2019/123456/07",
    vat_number="4123456789",
    physical_address="12 Voortrekker Road\nBellville\nCape Town, 7530",
    phone="+27 21 555 0123",
    email="accounts@thivhulawi.co.za",
    logo=LOGO,
    timezone="Africa/Johannesburg",
)
BANKING = BankingDetails(
    bank="First National Bank",
    account_holder="Ṱhivhulawi Electrical (Pty) Ltd",
    account_number="62845123456",
    branch_code="250655",
    account_type=AccountType.CHEQUE,
)


@dataclass(frozen=True)
class Stored:
    """An issued invoice as the database holds it: the input to the product's data path."""

    document: Document
    lines: list[DocumentLine]


def invoice(size: str, i: int) -> Stored:
    """A realistic tax invoice priced by the money module; `i` makes every one different."""
    entered = [
        LineIn(
            description=f"{JOBS[(n + i) % len(JOBS)][0]} (job {i}-{n})",
            quantity=Decimal((n % 4) + 1),
            unit=JOBS[(n + i) % len(JOBS)][1],
            unit_price=Decimal(JOBS[(n + i) % len(JOBS)][2]),
            discount_value=Decimal(10 if n % 5 == 3 else 0),
        )
        for n in range(LINES[size])
    ]
    totals = price_lines(
        entered, mode=PriceMode.EXCLUSIVE, rounding=Rounding.PER_LINE, rate=Decimal(15)
    )
    document = Document(
        kind="invoice",
        number=f"INV-2025-{10000 + i}",
        recipient_name=f"Nomvula Mthembu-Müller {i}",
        recipient_vat_number="4987654321",
        billing_address="Unit 4, Zoë van der Walt Park\n45 Jan Smuts Avenue\nRosebank, 2196",
        service_address="",
        job_description="",
        price_mode="exclusive",
        vat_rate_bp=1500,
        issue_date=date(2025, 11, 27),
        due_date=date(2025, 12, 27),
        terms="Payment is due within 30 days of the invoice date.\n"
        "Goods remain the property of Ṱhivhulawi Electrical until paid in full.",
        notes="Thank you for your business!",
        deposit_percent=Decimal(0),
        subtotal_excl_cents=totals.subtotal_excl_cents,
        vat_cents=totals.vat_cents,
        total_cents=totals.total_cents,
        reason="",
    )
    lines = [
        DocumentLine(
            position=n,
            description=line.description,
            quantity=line.quantity,
            unit=line.unit,
            unit_price=line.unit_price,
            discount_kind=line.discount_kind.value,
            discount_value=line.discount_value,
            vat=line.vat.value,
            discount_cents=priced.discount_cents,
            net_cents=priced.net_cents,
            vat_cents=priced.vat_cents,
            gross_cents=priced.gross_cents,
        )
        for n, (line, priced) in enumerate(zip(entered, totals.lines, strict=True))
    ]
    return Stored(document, lines)


def typst_render(stored: Stored) -> bytes:
    """The product's path from stored rows: format every figure, then the Typst template."""
    return render(document_data(stored.document, stored.lines, PROFILE, banking=BANKING))


def as_data(stored: Stored) -> DocumentData:
    return document_data(stored.document, stored.lines, PROFILE, banking=BANKING)


CSS = f"""
@font-face {{ font-family: "DejaVu Sans"; src: url("{(FONT_DIR / "DejaVuSans.ttf").as_uri()}"); }}
@font-face {{ font-family: "DejaVu Sans"; font-weight: bold;
  src: url("{(FONT_DIR / "DejaVuSans-Bold.ttf").as_uri()}"); }}
@page {{ size: A4; margin: 18mm 16mm 20mm;
  @bottom-left {{ content: element(footer); }}
  @bottom-right {{ content: "Page " counter(page) " of " counter(pages);
    font: 7pt "DejaVu Sans"; color: #5b6776; }} }}
body {{ font: 8.5pt/1.35 "DejaVu Sans"; color: #1b1f24; margin: 0; }}
.footer {{ position: running(footer); font-size: 7pt; color: #5b6776; }}
.top {{ display: flex; justify-content: space-between; }}
.top img {{ height: 20mm; }}
.name {{ font-size: 13pt; font-weight: bold; color: #1f3b57; margin: 2mm 0 2.5mm; }}
h1 {{ font-size: 20pt; color: #1f3b57; margin: 0 0 4mm; text-align: right; }}
.meta td {{ text-align: right; padding: 0 0 0 4mm; }} .meta td:first-child {{ color: #5b6776; }}
.label {{ font-size: 7pt; font-weight: bold; color: #5b6776; letter-spacing: .6pt;
  text-transform: uppercase; margin-top: 6mm; }}
table.lines {{ width: 100%; border-collapse: collapse; margin-top: 5mm; }}
table.lines th {{ font-size: 7.5pt; color: #1f3b57; text-align: right;
  border-bottom: .9pt solid #1f3b57; padding: 0 0 5pt 9pt; white-space: nowrap; }}
table.lines td {{ text-align: right; padding: 1.2pt 0 1.2pt 9pt; vertical-align: top;
  white-space: nowrap; line-height: 1.28; }}
table.lines td.l {{ white-space: normal; }} table.lines .l {{ text-align: left; }}
table.lines td:first-child, table.lines th:first-child {{ padding-left: 0; }}
.bottom {{ display: flex; gap: 8mm; margin-top: 3mm; page-break-inside: avoid; }}
.bank {{ flex: 1; border: .6pt solid #d6dce3; border-radius: 2pt; padding: 3mm; }}
.bank td:first-child, .totals td:first-child {{ color: #5b6776; padding-right: 4mm; }}
.totals {{ width: 78mm; }} .totals table {{ width: 100%; }} .totals td + td {{ text-align: right; }}
.grand td {{ background: #1f3b57; color: white !important; font-weight: bold; font-size: 9.5pt;
  padding: 6pt 5pt; }}
"""


def as_html(data: DocumentData) -> str:
    """The same invoice as HTML and CSS, laid out like the Typst template."""
    e = html.escape
    s, r, t, b = data.supplier, data.recipient, data.totals, data.banking
    assert b is not None
    logo_uri = "data:image/png;base64," + b64encode(s.logo or b"").decode()
    rows = "".join(
        f"<tr><td class=l>{e(line.description)}</td><td>{e(line.quantity)}</td>"
        f"<td class=l>{e(line.unit)}</td><td>{e(line.unit_price)}</td><td>{e(line.discount)}</td>"
        f"<td>{e(line.vat)}</td><td>{e(line.amount)}</td></tr>"
        for line in data.lines
    )
    details = "<br>".join(
        e(x)
        for x in (
            s.registered_name,
            "Reg. no. " + s.registration_number,
            *s.address,
            "Tel. " + s.phone,
            s.email,
        )
    )
    title = document_title(data)
    return f"""<!doctype html><html lang=en-ZA><head><meta charset=utf-8>
<title>{title} {e(data.number)}</title><meta name=author content="{e(s.trading_name)}">
<style>{CSS}</style></head><body>
<div class=footer>{e(s.trading_name)} · VAT no. {e(s.vat_number)} · {title} {e(data.number)}</div>
<div class=top><div><img src="{logo_uri}"><div class=name>{e(s.trading_name)}</div>{details}<br>
<b>VAT no. {e(s.vat_number)}</b></div>
<div><h1>{title}</h1><table class=meta>
<tr><td>Invoice no.</td><td><b>{e(data.number)}</b></td></tr>
<tr><td>Date of issue</td><td><b>{e(data.issue_date)}</b></td></tr>
<tr><td>Due date</td><td><b>{e(data.due_date)}</b></td></tr>
<tr><td>Payment reference</td><td><b>{e(data.payment_reference or data.number)}</b></td></tr>
</table></div></div>
<div class=label>Bill to</div><b style="font-size:10pt">{e(r.name)}</b><br>
{"<br>".join(e(x) for x in r.address)}<br>VAT no. {e(r.vat_number)}
<table class=lines><thead><tr><th class=l>Description</th><th>Qty</th><th class=l>Unit</th>
<th>Unit price</th><th>Disc.</th><th>VAT</th><th>Amount excl. VAT</th></tr></thead>
<tbody>{rows}</tbody></table>
<div class=bottom><div class=bank><div class=label style="margin:0 0 1.5mm">Banking details</div>
<table><tr><td>Bank</td><td>{e(b.bank)}</td></tr><tr><td>Account holder</td><td>{e(b.account_holder)}</td></tr>
<tr><td>Account number</td><td>{e(b.account_number)}</td></tr><tr><td>Branch code</td><td>{e(b.branch_code)}</td></tr>
<tr><td>Account type</td><td>{e(b.account_type)}</td></tr>
<tr><td>Payment reference</td><td><b>{e(data.number)}</b></td></tr></table></div>
<div class=totals><table><tr><td>Total excl. VAT</td><td>{e(t.subtotal_excl)}</td></tr>
<tr><td>{e(t.vat_label)}</td><td>{e(t.vat)}</td></tr>
<tr class=grand><td>Total incl. VAT</td><td>{e(t.total)}</td></tr>
<tr><td>Deposit due</td><td>{e(t.deposit)}</td></tr></table></div></div>
<div class=label>Notes</div>{e(data.notes)}
<div class=label>Terms and conditions</div>{e(data.terms).replace(chr(10), "<br>")}
</body></html>"""


def page_count(pdf: bytes) -> int:
    """Pages in a Typst PDF: its page objects are plain `/Type /Page` (the tree is `/Pages`)."""
    return len(re.findall(rb"/Type\s*/Page\b", pdf))


@dataclass
class Job:
    """Renders of one kind, one document each (the first is a warm-up), and how many of them
    go in each round of `interleaved`."""

    name: str
    renders: list[Callable[[], bytes]]
    per_round: int


def interleaved(jobs: list[Job]) -> dict[str, list[float]]:
    """Milliseconds per render, the jobs taking turns in rounds, so that whatever else the
    machine is doing weighs on each job alike and their ratios hold on a busy machine."""
    for job in jobs:
        job.renders[0]()
    queues = {job.name: iter(job.renders[1:]) for job in jobs}
    times: dict[str, list[float]] = {job.name: [] for job in jobs}
    busy = True
    while busy:
        busy = False
        for job in jobs:
            for render_one in itertools.islice(queues[job.name], job.per_round):
                busy = True
                start = time.perf_counter()
                render_one()
                times[job.name].append((time.perf_counter() - start) * 1000)
    return times


def percentile(times: list[float], fraction: float) -> float:
    """Nearest-rank percentile: with few runs p95 is the slowest, never an interpolation."""
    ordered = sorted(times)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


WEASYPRINT_CACHE: dict[str, object] = {}  # decoded images kept between renders, as Typst does


def weasyprint_render(data: DocumentData) -> bytes:
    """The HTML equivalent through WeasyPrint, to the same kind of PDF: PDF/A-2b, tagged."""
    pdf = HTML(string=as_html(data)).write_pdf(
        pdf_variant="pdf/a-2b", pdf_tags=True, cache=WEASYPRINT_CACHE
    )
    return pdf  # type: ignore[no-any-return]


def typst_job(name: str, size: str, runs: int, rounds: int) -> Job:
    # Data is built before the clock starts; each render gets a document of its own.
    # Typst's clock includes formatting the stored rows (render.document_data).
    docs = [invoice(size, i) for i in range(runs + 1)]
    return Job(name, [functools.partial(typst_render, d) for d in docs], -(-runs // rounds))


def main() -> None:
    one_page = 0.0
    for size in SIZES:
        rounds = WEASYPRINT_RUNS[size]
        # WeasyPrint gets its data ready-made, which only flatters WeasyPrint.
        weasy_docs = [as_data(invoice(size, i)) for i in range(rounds + 1)]
        jobs = [
            typst_job("typst", size, TYPST_RUNS[size], rounds),
            Job("weasyprint", [functools.partial(weasyprint_render, d) for d in weasy_docs], 1),
        ]
        times = interleaved(jobs)
        typst_p50 = statistics.median(times["typst"])
        weasy_p50 = statistics.median(times["weasyprint"])
        print(f"BENCH pdf_typst_{size}_p50 {typst_p50:.2f} ms")
        print(f"BENCH pdf_typst_{size}_p95 {percentile(times['typst'], 0.95):.2f} ms")
        print(f"BENCH pdf_weasyprint_{size}_p50 {weasy_p50:.2f} ms")
        print(f"BENCH pdf_weasyprint_{size}_p95 {percentile(times['weasyprint'], 0.95):.2f} ms")
        print(f"BENCH pdf_ratio_{size} {weasy_p50 / typst_p50:.1f} ratio")
        if size == "1page":
            one_page = typst_p50
        else:
            # Linear in pages means at most 5 for 5 pages and 20 for 20.
            print(f"BENCH pdf_typst_{size}_vs_1page {typst_p50 / one_page:.1f} ratio")
        # Both layouts should agree on length, or the comparison is not like for like.
        pages = page_count(typst_render(invoice(size, 0)))
        weasy_pages = len(HTML(string=as_html(weasy_docs[0])).render().pages)
        print(f"BENCH pdf_typst_{size}_pages {pages} pages")
        print(f"BENCH pdf_weasyprint_{size}_pages {weasy_pages} pages", flush=True)


if __name__ == "__main__":
    main()
