"""Quotes, tax invoices and credit notes as PDFs: typed data in, Typst template out.

The layout lives in `typst/document.typ`, apart from the code; this module applies SARS's
naming rules (a VAT vendor's invoice is a "Tax Invoice", reprints say "Copy"), turns a
`DocumentData` into the JSON the template reads, and compiles it. Every amount, date and quantity arrives
already formatted (money formatting belongs to the money module), so the PDF shows exactly
what the rest of the product shows.

Output is deterministic: the PDF's date is the issue date, fonts come only from the
bundled folder (never the host's), so the same data gives the same bytes on any machine.
That is what lets an issued document be stored with its content hash and served
identically afterwards.

No text can stop a document being issued: every string is cut down to what the bundled
fonts draw (fonts.py) before Typst sees it, and should Typst still refuse (a combining mark
no font can put on its letter), the render is retried with plainer text.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import tempfile
import threading
import unicodedata
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal

import structlog
import typst

from clientcompass.documents.fonts import FONT_DIR as FONT_DIR  # the benchmark's fonts too
from clientcompass.documents.fonts import Coverage, coverage, typst_fonts
from clientcompass.errors import InvalidInput

log = structlog.get_logger(__name__)

DocumentKind = Literal["quote", "invoice", "credit_note"]
KINDS: frozenset[str] = frozenset({"quote", "invoice", "credit_note"})

TEMPLATE_DIR = Path(__file__).parent / "typst"
TEMPLATE = "document.typ"
DATA = "data.json"  # what the template reads; rewritten for every render

# PDF/A-2b: the archival profile, because issued invoices must stay readable for at least
# five years; it embeds every font and pins the document's metadata.
PDF_STANDARD: Final = "a-2b"

BAD_LOGO = "The business logo could not be read. Upload it again as a PNG or JPEG image."


@dataclass(frozen=True, slots=True)
class Supplier:
    """The business issuing the document (VAT Act s20(4)(a): name, address, VAT number)."""

    trading_name: str
    address: tuple[str, ...] = ()
    registered_name: str = ""
    registration_number: str = ""
    vat_number: str = ""
    phone: str = ""
    email: str = ""
    logo: bytes | None = None  # PNG or JPEG


@dataclass(frozen=True, slots=True)
class Recipient:
    """The customer; the VAT number is printed when the customer gave one."""

    name: str
    address: tuple[str, ...] = ()
    vat_number: str = ""


@dataclass(frozen=True, slots=True)
class Line:
    """One item, every figure already formatted (e.g. quantity "2,5", amount "R 1 234,56")."""

    description: str
    quantity: str
    unit_price: str
    amount: str
    unit: str = ""
    discount: str = ""
    vat: str = ""  # the rate's label, e.g. "15%", "0%", "Exempt"


@dataclass(frozen=True, slots=True)
class Totals:
    """The totals box; `vat_label` names the VAT row, e.g. "VAT (15%)"."""

    subtotal_excl: str
    vat: str
    total: str
    vat_label: str = "VAT"
    deposit: str = ""
    amount_paid: str = ""
    balance: str = ""


@dataclass(frozen=True, slots=True)
class Banking:
    """Where the customer pays an invoice."""

    bank: str
    account_holder: str
    account_number: str
    branch_code: str
    account_type: str


@dataclass(frozen=True, slots=True)
class DocumentData:
    """Everything one quote, invoice or credit note shows, ready to print.

    `issue_date` (and the other dates) are display strings in the business's time zone;
    `issued_on` is the same day as a date, stamped into the PDF's metadata.
    """

    kind: DocumentKind
    number: str
    issued_on: date
    issue_date: str
    supplier: Supplier
    recipient: Recipient
    lines: tuple[Line, ...]
    totals: Totals
    is_vat_registered: bool
    reprint: bool = False
    due_date: str = ""  # invoices
    valid_until: str = ""  # quotes
    banking: Banking | None = None  # invoices
    payment_reference: str = ""  # invoices; the invoice number when empty
    terms: str = ""
    notes: str = ""
    original_invoice_number: str = ""  # credit notes (s21(3))
    original_invoice_date: str = ""  # credit notes
    reason: str = ""  # credit notes

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown document kind {self.kind!r}")
        if not self.number.strip():
            raise ValueError("a document needs its serial number")
        if not self.lines:
            raise ValueError("a document needs at least one line")
        if self.is_vat_registered and not self.supplier.vat_number.strip():
            raise ValueError("a VAT-registered supplier's documents must show its VAT number")
        if self.kind == "credit_note" and not (
            self.original_invoice_number.strip() and self.reason.strip()
        ):
            raise ValueError("a credit note names the original invoice and the reason")
        if self.kind == "invoice" and not self.due_date.strip():
            raise ValueError("an invoice shows its due date")
        if self.kind == "quote" and not self.valid_until.strip():
            raise ValueError("a quotation shows the date it is valid until")


def document_title(data: DocumentData) -> str:
    """The title SARS expects: "Tax Invoice" only from a VAT vendor, "Credit Note", "Quotation"."""
    if data.kind == "quote":
        return "Quotation"
    if data.kind == "credit_note":
        return "Credit Note"
    return "Tax Invoice" if data.is_vat_registered else "Invoice"


def content_hash(pdf: bytes) -> str:
    """The SHA-256 (hex) an issued document's PDF is stored and verified under."""
    return hashlib.sha256(pdf).hexdigest()


@dataclass(frozen=True, slots=True)
class LogoInfo:
    """What the template needs to size a logo without measuring it: kind and pixel size."""

    kind: str  # "png" or "jpg"
    width: int
    height: int


# JPEG start-of-frame markers carry the image size; C4, C8 and CC are other segments.
JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def logo_info(logo: bytes) -> LogoInfo:
    """Kind and size from a PNG or JPEG header; anything else is refused with a clear error."""
    if len(logo) >= 24 and logo.startswith(b"\x89PNG\r\n\x1a\n") and logo[12:16] == b"IHDR":
        width, height = struct.unpack(">II", logo[16:24])
        return _checked(LogoInfo("png", width, height))
    if logo.startswith(b"\xff\xd8"):
        at = 2
        while at + 9 <= len(logo) and logo[at] == 0xFF:
            marker = logo[at + 1]
            (length,) = struct.unpack(">H", logo[at + 2 : at + 4])
            if marker in JPEG_SOF:
                height, width = struct.unpack(">HH", logo[at + 5 : at + 9])
                return _checked(LogoInfo("jpg", width, height))
            at += 2 + length
    raise InvalidInput(BAD_LOGO, field="logo")


def _checked(info: LogoInfo) -> LogoInfo:
    """Refuse sizes no real logo has (a zero or absurd size means a damaged header)."""
    if not (0 < info.width <= 20_000 and 0 < info.height <= 20_000):
        raise InvalidInput(BAD_LOGO, field="logo")
    return info


# Typst never breaks inside a word it cannot hyphenate, so a 60-character serial number
# or URL would run off the page; such runs get invisible break points (U+200B) every 20
# characters. Ordinary words and amounts are never touched.
LONG_RUN = re.compile(r"\S{41,}")
BREAK_EVERY = 20


def breakable(text: str) -> str:
    """Text whose over-long runs may wrap; unchanged when it has none (the usual case)."""
    if len(text) <= 40 or not LONG_RUN.search(text):
        return text

    def split(match: re.Match[str]) -> str:
        run = match.group(0)
        return "\u200b".join(run[i : i + BREAK_EVERY] for i in range(0, len(run), BREAK_EVERY))

    return LONG_RUN.sub(split, text)


def payload(
    data: DocumentData,
    logo: dict[str, Any] | None = None,
    clean: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """The JSON the template reads; built by hand so the logo's bytes never enter it.

    `logo` is `{"path", "width", "height"}` for a logo the renderer has stored; `clean`
    (by default what the bundled fonts can print) is applied to every string.
    """
    built: dict[str, Any] = _cleaned(_payload(data, logo), clean or coverage().printable)
    lines = built["lines"]
    built["widest"] = {
        # A unit is free text ("m²", "each", "WWW"), so every distinct one is measured.
        key: widest((line[key] for line in lines), keep=50 if key == "unit" else 3)
        for key in FIGURES
    }
    return built


# The lines table's figure columns, each as wide as its widest value (see document.typ).
FIGURES: Final = ("quantity", "unit", "unit_price", "discount", "vat", "amount")


def widest(values: Iterable[str], keep: int = 3) -> list[str]:
    """The few values likely to print widest (wide CJK and emoji count double), for the
    template to measure instead of measuring every line's."""
    return sorted(set(values), key=_estimated_width)[-keep:]


def _estimated_width(text: str) -> tuple[int, str]:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text), text


def _cleaned(value: Any, clean: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {key: _cleaned(item, clean) for key, item in value.items()}
    if isinstance(value, list):
        return [_cleaned(item, clean) for item in value]
    return value


def _payload(data: DocumentData, logo: dict[str, Any] | None) -> dict[str, Any]:
    supplier = data.supplier
    return {
        "kind": data.kind,
        "title": document_title(data),
        "copy": data.reprint,
        "vat_registered": data.is_vat_registered,
        "number": data.number,
        "issued_on": data.issued_on.isoformat(),
        "issue_date": data.issue_date,
        "due_date": data.due_date,
        "valid_until": data.valid_until,
        "supplier": {
            "trading_name": breakable(supplier.trading_name),
            "registered_name": breakable(supplier.registered_name),
            "registration_number": supplier.registration_number,
            # Only a VAT vendor may show a VAT number (and so claim to charge VAT).
            "vat_number": supplier.vat_number if data.is_vat_registered else "",
            "address": [breakable(line) for line in supplier.address],
            "phone": supplier.phone,
            "email": supplier.email,
            "logo": logo,
        },
        "recipient": {
            "name": breakable(data.recipient.name),
            "address": [breakable(line) for line in data.recipient.address],
            "vat_number": data.recipient.vat_number,
        },
        "lines": [
            {
                "description": breakable(line.description),
                # Figures are short; `breakable` only touches a run no real one has.
                "quantity": breakable(line.quantity),
                "unit": breakable(line.unit),
                "unit_price": breakable(line.unit_price),
                "discount": breakable(line.discount),
                "vat": breakable(line.vat),
                "amount": breakable(line.amount),
            }
            for line in data.lines
        ],
        "totals": {
            "subtotal_excl": data.totals.subtotal_excl,
            "vat": data.totals.vat,
            "vat_label": data.totals.vat_label,
            "total": data.totals.total,
            "deposit": data.totals.deposit,
            "amount_paid": data.totals.amount_paid,
            "balance": data.totals.balance,
        },
        "banking": None
        if data.banking is None
        else {
            "bank": data.banking.bank,
            "account_holder": data.banking.account_holder,
            "account_number": data.banking.account_number,
            "branch_code": data.banking.branch_code,
            "account_type": data.banking.account_type,
        },
        "payment_reference": data.payment_reference or data.number,
        "terms": breakable(data.terms),
        "notes": breakable(data.notes),
        "original_invoice_number": data.original_invoice_number,
        "original_invoice_date": data.original_invoice_date,
        "reason": breakable(data.reason),
    }


class RenderError(RuntimeError):
    """The template failed on this data: a bug to fix, not something a user can act on."""


# Each render tries the text as the fonts can print it; only if Typst still refuses does
# it fall back to plainer text, and finally to ASCII, which always prints.
CLEANERS: Final[tuple[Callable[[Coverage, str], str], ...]] = (
    Coverage.printable,
    Coverage.plain,
    lambda _coverage, text: Coverage.ascii(text),
)


class Renderer:
    """One Typst compiler, fonts loaded once, rooted in a private folder.

    Typst reads data and images only from files under its root, so the folder holds a copy
    of the template, the document's data while it renders (a customer's details and the
    business's banking details, so it is removed straight after), and the logos seen so
    far, named by their hash (a logo file never changes under a name Typst may have cached).

    A `typst.Compiler` is not re-entrant, so renders in one process take turns; each takes
    milliseconds and Typst releases the GIL, so async code calls `render` from a worker
    thread. Typst's caches are per process, so a reprint of a document costs a fraction of
    its first render.
    """

    def __init__(self, *, max_logos: int = 64) -> None:
        self.pid = os.getpid()
        self._root = Path(tempfile.mkdtemp(prefix="clientcompass-typst-"))
        weakref.finalize(self, _remove_folder, self._root, self.pid)
        shutil.copytree(
            TEMPLATE_DIR, self._root, dirs_exist_ok=True, ignore=shutil.ignore_patterns("fonts")
        )
        (self._root / "logos").mkdir()
        self._coverage = coverage()
        self._compiler = typst.Compiler(
            self._root / TEMPLATE,
            root=self._root,
            font_paths=typst_fonts(),  # loaded once per process, shared by every renderer
            ignore_system_fonts=True,  # the host's fonts would make output machine-dependent
        )
        self._lock = threading.Lock()
        self._logos: OrderedDict[str, Path] = OrderedDict()
        self._max_logos = max_logos

    def render(self, data: DocumentData) -> bytes:
        """The document as PDF bytes; the same data always gives the same bytes."""
        logo = data.supplier.logo
        info = logo_info(logo) if logo is not None else None
        with self._lock:
            stored = None
            if logo is not None and info is not None:
                path = self._store_logo(logo, info.kind)
                stored = {"path": path, "width": info.width, "height": info.height}
            document = self._root / DATA
            try:
                for attempt, cleaner in enumerate(CLEANERS):
                    clean = self._clean(cleaner)
                    body = json.dumps(payload(data, stored, clean), ensure_ascii=False)
                    document.write_text(body, "utf-8")
                    try:
                        return self._compile()
                    except typst.TypstError as exc:
                        if stored is not None and "image" in exc.message:
                            # The header looked right but the picture itself does not decode.
                            raise InvalidInput(BAD_LOGO, field="logo") from exc
                        # The message may quote the customer's text: log its kind, not it.
                        log.warning("document_text_simplified", kind=data.kind, attempt=attempt + 1)
                        error = exc
                raise RenderError(f"the document template failed: {error.message}") from error
            finally:
                document.unlink(missing_ok=True)

    def _clean(self, cleaner: Callable[[Coverage, str], str]) -> Callable[[str], str]:
        return lambda text: cleaner(self._coverage, text)

    def _compile(self) -> bytes:
        """Compile the template against the data file now in place."""
        pdf = self._compiler.compile(format="pdf", pdf_standards=PDF_STANDARD)
        if not isinstance(pdf, bytes):  # a list would mean one file per page: not a PDF
            raise RenderError("the document template did not produce one PDF")
        return pdf

    def _store_logo(self, logo: bytes, kind: str) -> str:
        """Write the logo once under its hash, keep the most recent few; Typst's path to it."""
        name = f"{hashlib.sha256(logo).hexdigest()}.{kind}"
        if name in self._logos:
            self._logos.move_to_end(name)
        else:
            path = self._root / "logos" / name
            path.write_bytes(logo)
            self._logos[name] = path
            while len(self._logos) > self._max_logos:
                _, oldest = self._logos.popitem(last=False)
                oldest.unlink(missing_ok=True)
        return f"/logos/{name}"


def _remove_folder(folder: Path, pid: int) -> None:
    """Only the process that made the folder removes it; a forked child leaves it alone."""
    if os.getpid() == pid:
        shutil.rmtree(folder, ignore_errors=True)


class _Default:
    """The process's renderer, built on first use: not at import, and anew after a fork."""

    lock = threading.Lock()
    renderer: Renderer | None = None


def default_renderer() -> Renderer:
    """The renderer `render` uses; one per process."""
    with _Default.lock:
        if _Default.renderer is None or _Default.renderer.pid != os.getpid():
            _Default.renderer = Renderer()
        return _Default.renderer


def render(data: DocumentData) -> bytes:
    """Render a quote, invoice or credit note to PDF with the process's renderer."""
    return default_renderer().render(data)
