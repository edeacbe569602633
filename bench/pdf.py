"""PDF rendering: the product's Typst path against WeasyPrint on an equivalent HTML invoice.

Both engines render the same invoices (a logo, the same DejaVu Sans files, the same
fields, the same kind of PDF: PDF/A-2b with tags) in one run: a 1-page invoice of 5 lines and a 5-page invoice of 150 lines. The
Typst side goes through `clientcompass.documents.pdf.render`, the real template and data
path. Every render gets different data (number, customer, line text), as production does,
so Typst's cache cannot replay a whole earlier layout; the parts a business repeats (its
header, banking details, terms) may come from the cache, as in production, which measured
at under 2% here. WeasyPrint is a benchmark-only dependency (`.[bench]`); it needs Pango,
which `make bench` installs when missing.

Target (DESIGN.md): ≤ 10 ms per 1-page invoice and ≥ 20 times faster than WeasyPrint.
"""

from __future__ import annotations

import html
import math
import re
import statistics
import struct
import time
import zlib
from base64 import b64encode
from collections.abc import Callable
from datetime import date

from weasyprint import HTML

from clientcompass.documents.pdf import (
    FONT_DIR,
    Banking,
    DocumentData,
    Line,
    Recipient,
    Supplier,
    Totals,
    document_title,
    render,
)

TYPST_RUNS = {"1page": 300, "5page": 40}
WEASYPRINT_RUNS = {"1page": 30, "5page": 6}
LINES = {"1page": 5, "5page": 150}

JOBS = [
    ("Replace geyser element (3 kW) and thermostat", "ea", "R 1 250,00"),
    ("Call-out fee, Cape Town metro", "ea", "R 450,00"),
    (
        "Install double plug point in kitchen, incl. trunking and wiring from the DB board",
        "ea",
        "R 890,00",
    ),
    ("Certificate of Compliance (CoC) inspection and report", "ea", "R 1 650,00"),
    ("Labour, qualified electrician", "hrs", "R 520,00"),
    ("LED downlights, 7 W warm white", "ea", "R 139,00"),
    ("Surge protection device, DIN rail", "ea", "R 1 095,00"),
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


def rand(value: int) -> str:
    """Cents as South African rands, e.g. R 12 345,67 (the money module's format)."""
    whole, cents = divmod(value, 100)
    return "R " + f"{whole:,}".replace(",", " ") + f",{cents:02d}"


def invoice(size: str, i: int) -> DocumentData:
    """A realistic tax invoice; `i` makes every one different."""
    lines = []
    subtotal = 0
    for n in range(LINES[size]):
        description, unit, price = JOBS[(n + i) % len(JOBS)]
        quantity = (n % 4) + 1
        cents = int(price[2:].replace(" ", "").replace(",", "")) * quantity
        subtotal += cents
        lines.append(
            Line(
                description=f"{description} (job {i}-{n})",
                quantity=str(quantity),
                unit=unit,
                unit_price=price,
                discount="10%" if n % 5 == 3 else "",
                vat="15%",
                amount=rand(cents),
            )
        )
    vat = round(subtotal * 0.15)
    return DocumentData(
        kind="invoice",
        number=f"INV-{10000 + i}",
        issued_on=date(2025, 11, 27),
        issue_date="27 November 2025",
        due_date="27 December 2025",
        is_vat_registered=True,
        supplier=Supplier(
            trading_name="Ṱhivhulawi Electrical",
            registered_name="Ṱhivhulawi Electrical (Pty) Ltd",
            registration_number="2019/123456/07",
            vat_number="4123456789",
            address=("12 Voortrekker Road", "Bellville", "Cape Town, 7530"),
            phone="+27 21 555 0123",
            email="accounts@thivhulawi.co.za",
            logo=LOGO,
        ),
        recipient=Recipient(
            name=f"Nomvula Mthembu-Müller {i}",
            address=("Unit 4, Zoë van der Walt Park", "45 Jan Smuts Avenue", "Rosebank, 2196"),
            vat_number="4987654321",
        ),
        lines=tuple(lines),
        totals=Totals(
            subtotal_excl=rand(subtotal),
            vat=rand(vat),
            vat_label="VAT (15%)",
            total=rand(subtotal + vat),
            deposit=rand((subtotal + vat) // 2),
        ),
        banking=Banking(
            bank="First National Bank",
            account_holder="Ṱhivhulawi Electrical (Pty) Ltd",
            account_number="62845123456",
            branch_code="250655",
            account_type="Cheque",
        ),
        terms="Payment is due within 30 days of the invoice date.\n"
        "Goods remain the property of Ṱhivhulawi Electrical until paid in full.",
        notes="Thank you for your business!",
    )


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


def timed(
    render_one: Callable[[DocumentData], bytes], documents: list[DocumentData]
) -> list[float]:
    """Milliseconds per render, one document after another, after one warm-up render."""
    render_one(documents[0])
    times = []
    for data in documents[1:]:
        start = time.perf_counter()
        render_one(data)
        times.append((time.perf_counter() - start) * 1000)
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


def main() -> None:
    for size in ("1page", "5page"):
        # Data is built before the clock starts; each render gets a document of its own.
        typst_docs = [invoice(size, i) for i in range(TYPST_RUNS[size] + 1)]
        weasy_docs = [invoice(size, i) for i in range(WEASYPRINT_RUNS[size] + 1)]
        typst_times = timed(render, typst_docs)
        weasy_times = timed(weasyprint_render, weasy_docs)
        typst_p50, weasy_p50 = statistics.median(typst_times), statistics.median(weasy_times)
        print(f"BENCH pdf_typst_{size}_p50 {typst_p50:.2f} ms")
        print(f"BENCH pdf_typst_{size}_p95 {percentile(typst_times, 0.95):.2f} ms")
        print(f"BENCH pdf_weasyprint_{size}_p50 {weasy_p50:.2f} ms")
        print(f"BENCH pdf_weasyprint_{size}_p95 {percentile(weasy_times, 0.95):.2f} ms")
        print(f"BENCH pdf_ratio_{size} {weasy_p50 / typst_p50:.1f} ratio")
        # Both layouts should agree on length, or the comparison is not like for like.
        pages = page_count(render(typst_docs[0]))
        weasy_pages = len(HTML(string=as_html(weasy_docs[0])).render().pages)
        print(f"BENCH pdf_typst_{size}_pages {pages} pages")
        print(f"BENCH pdf_weasyprint_{size}_pages {weasy_pages} pages", flush=True)


if __name__ == "__main__":
    main()
