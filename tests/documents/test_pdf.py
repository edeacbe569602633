"""PDF rendering of quotes, invoices and credit notes, read back the way a person (or SARS)
would: through pdftotext. Every field the VAT Act asks for must be in the text, names in
any South African spelling must survive, and the same data must give the same bytes."""

from __future__ import annotations

import base64
import dataclasses
import re
import struct
import subprocess
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from clientcompass.documents.pdf import (
    BAD_LOGO,
    Banking,
    DocumentData,
    Line,
    Recipient,
    Renderer,
    Supplier,
    Totals,
    breakable,
    content_hash,
    document_title,
    logo_info,
    render,
)
from clientcompass.errors import InvalidInput

NAMES = ("Nomvula Mthembu-Müller", "Zoë van der Walt", "Ṱhivhulawi")

SUPPLIER = Supplier(
    trading_name="Ṱhivhulawi Electrical",
    registered_name="Ṱhivhulawi Electrical (Pty) Ltd",
    registration_number="2019/123456/07",
    vat_number="4123456789",
    address=("12 Voortrekker Road", "Bellville", "Cape Town, 7530"),
    phone="+27 21 555 0123",
    email="accounts@thivhulawi.co.za",
)
RECIPIENT = Recipient(
    name="Nomvula Mthembu-Müller",
    address=("Unit 4, Zoë van der Walt Park", "45 Jan Smuts Avenue", "Rosebank, 2196"),
    vat_number="4987654321",
)
LINES = (
    Line(
        description="Replace geyser element",
        quantity="1",
        unit="ea",
        unit_price="R 1 250,00",
        vat="15%",
        amount="R 1 250,00",
    ),
    Line(
        description="Labour",
        quantity="2,5",
        unit="hrs",
        unit_price="R 450,00",
        discount="10%",
        vat="15%",
        amount="R 1 012,50",
    ),
)
TOTALS = Totals(
    subtotal_excl="R 2 262,50",
    vat="R 339,38",
    vat_label="VAT (15%)",
    total="R 2 601,88",
    deposit="R 1 300,94",
)
BANKING = Banking(
    bank="First National Bank",
    account_holder="Ṱhivhulawi Electrical (Pty) Ltd",
    account_number="62845123456",
    branch_code="250655",
    account_type="Cheque",
)
# A 16 x 8 grey baseline JPEG (made once with Pillow; kept inline so tests need no imaging library).
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxO"
    "QERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/wAALCAAIABABAREA/8QAFQABAQAAAAAAAAAAAAAAAAAAAAX/"
    "xAAUEAEAAAAAAAAAAAAAAAAAAAAA/9oACAEBAAA/AJg//9k="
)


def png(width: int, height: int) -> bytes:
    """A real, decodable RGB PNG, built by hand."""
    row = b"\x00" + bytes([31, 59, 87]) * width
    raw = row * height

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def tax_invoice(**changes: object) -> DocumentData:
    data = DocumentData(
        kind="invoice",
        number="INV-00042",
        issued_on=date(2025, 11, 27),
        issue_date="27 November 2025",
        due_date="27 December 2025",
        supplier=SUPPLIER,
        recipient=RECIPIENT,
        lines=LINES,
        totals=TOTALS,
        is_vat_registered=True,
        banking=BANKING,
        terms="Payment is due within 30 days.\nGoods remain ours until paid in full.",
        notes="Thank you for your business!",
    )
    return dataclasses.replace(data, **changes)  # type: ignore[arg-type]


def plain_invoice() -> DocumentData:
    """A business that is not a VAT vendor, though a VAT number is on its profile."""
    return tax_invoice(
        is_vat_registered=False,
        supplier=dataclasses.replace(SUPPLIER, trading_name="Zoë's Cleaning"),
        recipient=dataclasses.replace(RECIPIENT, vat_number=""),
        lines=tuple(dataclasses.replace(line, vat="") for line in LINES),
        totals=Totals(subtotal_excl="R 2 262,50", vat="", total="R 2 262,50"),
    )


def quotation() -> DocumentData:
    return tax_invoice(
        kind="quote",
        number="QUO-00017",
        due_date="",
        valid_until="27 December 2025",
        banking=None,
    )


def credit_note() -> DocumentData:
    return tax_invoice(
        kind="credit_note",
        number="CN-00003",
        due_date="",
        banking=None,
        original_invoice_number="INV-00041",
        original_invoice_date="20 November 2025",
        reason="Faulty thermostat returned",
        lines=LINES[:1],
        totals=Totals(
            subtotal_excl="R 1 250,00", vat="R 187,50", vat_label="VAT (15%)", total="R 1 437,50"
        ),
    )


def long_invoice(lines: int = 30) -> DocumentData:
    return tax_invoice(
        lines=tuple(
            dataclasses.replace(
                LINES[i % 2], description=f"Item {i:02d}: {LINES[i % 2].description}"
            )
            for i in range(lines)
        )
    )


def pdftotext(pdf: bytes, *, layout: bool = True) -> str:
    """The PDF's text as poppler extracts it; with the layout kept, a row stays a row."""
    result = subprocess.run(
        ["pdftotext", *(["-layout"] if layout else []), "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    return result.stdout.decode()


def pages(pdf: bytes) -> list[str]:
    """One string per page (pdftotext ends each page with a form feed)."""
    return pdftotext(pdf).split("\f")[:-1]


def pair(label: str, value: str) -> re.Pattern[str]:
    """A label followed on the same line by its value."""
    return re.compile(re.escape(label) + r"[ \t]+" + re.escape(value))


def row(*cells: str) -> re.Pattern[str]:
    """A table row: these cells, in this order, on one line."""
    return re.compile(r"[ \t]+".join(re.escape(cell) for cell in cells))


def shown(text: str, pattern: str | re.Pattern[str]) -> bool:
    if isinstance(pattern, re.Pattern):
        return pattern.search(text) is not None
    return pattern in text


def assert_shows(text: str, *patterns: str | re.Pattern[str]) -> None:
    missing = [str(p) for p in patterns if not shown(text, p)]
    assert not missing, f"missing {missing} in:\n{text}"


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return {
        "tax_invoice": pdftotext(render(tax_invoice())),
        "plain_invoice": pdftotext(render(plain_invoice())),
        "quotation": pdftotext(render(quotation())),
        "credit_note": pdftotext(render(credit_note())),
    }


def heading(text: str) -> list[str]:
    """The phrases on the first line of text: the business name, the title, any badge."""
    first = next(line for line in text.splitlines() if line.strip())
    return re.split(r"\s{2,}", first.strip())


# ------------------------------------------------------------------ SARS fields


def test_a_vat_vendors_invoice_is_a_full_tax_invoice(texts: dict[str, str]) -> None:
    text = texts["tax_invoice"]
    assert "Tax Invoice" in heading(text)
    assert_shows(
        text,
        # supplier: name, address, VAT number (s20(4)(a))
        "Ṱhivhulawi Electrical",
        "12 Voortrekker Road",
        "Cape Town, 7530",
        "VAT no. 4123456789",
        # recipient: name, address, VAT number (s20(4)(b))
        "Nomvula Mthembu-Müller",
        "Unit 4, Zoë van der Walt Park",
        "VAT no. 4987654321",
        # serial number and date of issue
        pair("Invoice no.", "INV-00042"),
        pair("Date of issue", "27 November 2025"),
        # description and quantity of each item
        row("Replace geyser element", "1", "ea", "R 1 250,00", "15%", "R 1 250,00"),
        row("Labour", "2,5", "hrs", "R 450,00", "10%", "15%", "R 1 012,50"),
        # value excl. VAT, the VAT, and the total incl. VAT
        pair("Total excl. VAT", "R 2 262,50"),
        pair("VAT (15%)", "R 339,38"),
        pair("Total incl. VAT", "R 2 601,88"),
        # what an invoice adds: due date, banking details, payment reference, deposit
        pair("Due date", "27 December 2025"),
        pair("Bank", "First National Bank"),
        pair("Account holder", "Ṱhivhulawi Electrical (Pty) Ltd"),
        pair("Account number", "62845123456"),
        pair("Branch code", "250655"),
        pair("Account type", "Cheque"),
        pair("Payment reference", "INV-00042"),
        pair("Deposit due", "R 1 300,94"),
        "Goods remain ours until paid in full.",
        "Thank you for your business!",
    )


def test_an_invoice_from_a_business_without_vat_registration_is_an_invoice(
    texts: dict[str, str],
) -> None:
    text = texts["plain_invoice"]
    assert "Invoice" in heading(text)
    assert "Tax Invoice" not in text
    assert "4123456789" not in text  # its VAT number stays off the page
    assert "VAT" not in text  # no VAT column, no VAT totals
    assert_shows(
        text,
        "Zoë's Cleaning",
        "Nomvula Mthembu-Müller",
        pair("Invoice no.", "INV-00042"),
        pair("Date of issue", "27 November 2025"),
        row("Replace geyser element", "1", "ea", "R 1 250,00", "R 1 250,00"),
        pair("Total", "R 2 262,50"),
        pair("Payment reference", "INV-00042"),
    )


def test_a_quotation_shows_its_validity_and_no_banking_details(texts: dict[str, str]) -> None:
    text = texts["quotation"]
    assert "Quotation" in heading(text)
    assert_shows(
        text,
        "VAT no. 4123456789",
        "Nomvula Mthembu-Müller",
        pair("Quotation no.", "QUO-00017"),
        pair("Date of issue", "27 November 2025"),
        pair("Valid until", "27 December 2025"),
        row("Labour", "2,5", "hrs", "R 450,00", "10%", "15%", "R 1 012,50"),
        pair("Total incl. VAT", "R 2 601,88"),
        pair("Deposit required", "R 1 300,94"),
    )
    assert "Due date" not in text
    assert "BANKING DETAILS" not in text


def test_a_credit_note_carries_the_fields_of_section_21_3(texts: dict[str, str]) -> None:
    text = texts["credit_note"]
    assert "Credit Note" in heading(text)
    assert_shows(
        text,
        "Ṱhivhulawi Electrical",
        "12 Voortrekker Road",
        "VAT no. 4123456789",
        "Nomvula Mthembu-Müller",
        "Unit 4, Zoë van der Walt Park",
        "VAT no. 4987654321",
        pair("Credit note no.", "CN-00003"),
        pair("Date of issue", "27 November 2025"),
        pair("Original invoice", "INV-00041"),
        pair("Invoice date", "20 November 2025"),
        "REASON FOR CREDIT",
        "Faulty thermostat returned",
        row("Replace geyser element", "1", "ea", "R 1 250,00", "15%", "R 1 250,00"),
        pair("Total excl. VAT", "R 1 250,00"),
        pair("VAT (15%)", "R 187,50"),
        pair("Total credit incl. VAT", "R 1 437,50"),
    )
    assert "BANKING DETAILS" not in text


def test_titles_follow_the_vat_act() -> None:
    assert document_title(tax_invoice()) == "Tax Invoice"
    assert document_title(plain_invoice()) == "Invoice"
    assert document_title(quotation()) == "Quotation"
    assert document_title(credit_note()) == "Credit Note"


@pytest.mark.parametrize("kind", ["tax_invoice", "quotation", "credit_note"])
def test_non_ascii_names_come_back_intact(texts: dict[str, str], kind: str) -> None:
    for name in NAMES:
        assert name in texts[kind], f"{name!r} not in the {kind}"


def test_the_fonts_are_embedded_so_names_look_the_same_everywhere() -> None:
    fonts = subprocess.run(
        ["pdffonts", "-"], input=render(tax_invoice()), capture_output=True, check=True
    ).stdout.decode()
    rows = [line.split() for line in fonts.splitlines()[2:] if line.strip()]
    assert rows, fonts
    assert {r[0].split("+")[-1] for r in rows} <= {"DejaVuSans", "DejaVuSans-Bold"}, fonts
    assert all(r[-5:-2] == ["yes", "yes", "yes"] for r in rows), fonts  # emb, sub, uni


def test_the_discount_column_appears_only_when_a_line_has_a_discount() -> None:
    without = tax_invoice(lines=LINES[:1])
    assert "Disc." in pdftotext(render(tax_invoice()))
    assert "Disc." not in pdftotext(render(without))


# ------------------------------------------------------------------ copies and pages


def test_a_reprint_is_marked_copy_and_the_original_is_not() -> None:
    original = pdftotext(render(tax_invoice()))
    reprint = pdftotext(render(tax_invoice(reprint=True)))
    assert "copy" not in original.lower()
    assert "Copy" in reprint
    assert "Tax Invoice" in " ".join(heading(reprint))


def test_every_page_of_a_reprint_says_copy() -> None:
    sheets = pages(render(long_invoice(60)))
    reprinted = pages(render(dataclasses.replace(long_invoice(60), reprint=True)))
    assert len(reprinted) == len(sheets) >= 2
    assert all("Copy" in sheet for sheet in reprinted)


def test_a_long_invoice_numbers_its_pages() -> None:
    sheets = pages(render(long_invoice(30)))
    total = len(sheets)
    assert total >= 2
    for number, sheet in enumerate(sheets, start=1):
        assert f"Page {number} of {total}" in sheet, sheet
    continued = sheets[1]
    assert "Ṱhivhulawi Electrical" in continued and "Tax Invoice INV-00042" in continued
    every_line = "\n".join(sheets)
    assert all(f"Item {i:02d}:" in every_line for i in range(30))


def test_the_table_header_repeats_on_every_page_the_lines_run_onto() -> None:
    sheets = pages(render(long_invoice(90)))
    with_items = [sheet for sheet in sheets if "Item " in sheet]
    assert len(with_items) >= 2
    header = row("Description", "Qty", "Unit", "Unit price", "Disc.", "VAT", "Amount excl. VAT")
    assert all(header.search(sheet) for sheet in with_items)


def test_a_one_page_document_carries_no_page_number() -> None:
    sheets = pages(render(tax_invoice()))
    assert len(sheets) == 1
    assert "Page 1" not in sheets[0]


# ------------------------------------------------------------------ identical output


def test_the_same_data_gives_the_same_bytes_and_hash() -> None:
    first = render(tax_invoice())
    again = render(tax_invoice())
    elsewhere = Renderer().render(tax_invoice())  # a fresh compiler, caches empty
    assert first == again == elsewhere
    assert content_hash(first) == content_hash(elsewhere)
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash(first))
    assert pdftotext(first) == pdftotext(elsewhere)


def test_different_data_gives_a_different_hash() -> None:
    assert content_hash(render(tax_invoice())) != content_hash(
        render(tax_invoice(number="INV-00043"))
    )
    assert content_hash(render(tax_invoice())) != content_hash(render(tax_invoice(reprint=True)))


def test_the_pdf_is_dated_by_its_issue_date_not_by_the_clock() -> None:
    info = subprocess.run(
        ["pdfinfo", "-isodates", "-"], input=render(tax_invoice()), capture_output=True, check=True
    ).stdout.decode()
    assert pair("CreationDate:", "2025-11-27T00:00:00").search(info), info
    assert pair("Title:", "Tax Invoice INV-00042").search(info), info


def test_renders_from_many_threads_at_once_keep_their_own_data() -> None:
    renderer = Renderer()
    numbers = [f"INV-{n:05d}" for n in range(12)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        pdfs = list(pool.map(lambda number: renderer.render(tax_invoice(number=number)), numbers))
    for number, pdf in zip(numbers, pdfs, strict=True):
        text = pdftotext(pdf)
        assert pair("Invoice no.", number).search(text)
        assert [n for n in numbers if n in text] == [number]


def test_the_data_file_is_gone_once_a_render_ends() -> None:
    renderer = Renderer()
    renderer.render(tax_invoice())
    with pytest.raises(InvalidInput):
        renderer.render(tax_invoice(supplier=dataclasses.replace(SUPPLIER, logo=png(8, 8)[:40])))
    folder = renderer._root  # the private folder Typst reads from
    assert (folder / "document.typ").is_file()
    assert not (folder / "data.json").exists()


# ------------------------------------------------------------------ logos


def images(pdf: bytes) -> list[tuple[int, int]]:
    """Width and height of every image in the PDF."""
    listing = subprocess.run(
        ["pdfimages", "-list", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    return [
        (int(cols[3]), int(cols[4])) for cols in (line.split() for line in listing.splitlines()[2:])
    ]


@pytest.mark.parametrize(("logo", "size"), [(png(120, 40), (120, 40)), (JPEG, (16, 8))])
def test_a_logo_is_drawn(logo: bytes, size: tuple[int, int]) -> None:
    with_logo = tax_invoice(supplier=dataclasses.replace(SUPPLIER, logo=logo))
    assert images(render(tax_invoice())) == []
    assert images(render(with_logo)) == [size]


def test_old_logos_are_dropped_and_come_back_when_needed() -> None:
    renderer = Renderer(max_logos=2)
    logos = [png(10 + n, 10) for n in range(3)]
    for logo in logos:
        renderer.render(tax_invoice(supplier=dataclasses.replace(SUPPLIER, logo=logo)))
    assert len(list((renderer._root / "logos").iterdir())) == 2
    again = renderer.render(tax_invoice(supplier=dataclasses.replace(SUPPLIER, logo=logos[0])))
    assert images(again) == [(10, 10)]


def test_logo_sizes_are_read_from_the_file_header() -> None:
    assert (logo_info(png(300, 100)).kind, logo_info(png(300, 100)).width) == ("png", 300)
    assert (logo_info(JPEG).kind, logo_info(JPEG).width, logo_info(JPEG).height) == ("jpg", 16, 8)


@pytest.mark.parametrize(
    "logo",
    [
        b"GIF89a\x01\x00\x01\x00",  # not a PNG or JPEG
        png(40, 20)[:20],  # a PNG cut short before its size
        png(40, 20)[:40] + b"\x00" * 40,  # a PNG whose picture does not decode
        b"\xff\xd8\xff\xe0" + b"\x00" * 20,  # a JPEG with no frame header
    ],
)
def test_a_logo_that_cannot_be_read_gives_a_clear_error(logo: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        render(tax_invoice(supplier=dataclasses.replace(SUPPLIER, logo=logo)))
    assert caught.value.message == BAD_LOGO
    assert caught.value.field == "logo"
    assert caught.value.status_code == 422


# ------------------------------------------------------------------ odd input


def test_amounts_keep_their_no_break_spaces() -> None:
    """The money module writes R\u00a01\u00a0234,56; the PDF keeps it whole, on one line."""
    amount = "R\u00a012\u00a0345\u00a0678,90"
    line = dataclasses.replace(LINES[0], unit_price=amount, amount=amount)
    text = pdftotext(render(tax_invoice(lines=(line,)))).replace("\u00a0", " ")
    expected = amount.replace("\u00a0", " ")  # poppler reads a no-break space as a space
    assert row("Replace geyser element", "1", "ea", expected, "15%", expected).search(text), text


def test_text_that_looks_like_typst_markup_prints_literally() -> None:
    name = "*Bob* #emph[x] $x^2$ <b> @ref _u_ `raw` // not a comment"
    text = pdftotext(render(tax_invoice(recipient=dataclasses.replace(RECIPIENT, name=name))))
    assert name in " ".join(text.split())


def test_a_very_long_word_wraps_instead_of_running_off_the_page() -> None:
    serial = "SN" + "0123456789" * 8
    assert breakable("short words stay as they are") == "short words stay as they are"
    assert breakable(serial).replace("\u200b", "") == serial
    assert max(len(part) for part in breakable(serial).split("\u200b")) <= 20
    line = dataclasses.replace(LINES[0], description=f"Meter {serial}")
    text = pdftotext(render(tax_invoice(lines=(line,))), layout=False).replace("\u200b", "")
    assert serial not in text  # split over lines: it wrapped inside its column
    assert serial in "".join(text.split())


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"supplier": dataclasses.replace(SUPPLIER, vat_number="")}, "VAT number"),
        ({"kind": "credit_note", "reason": "", "original_invoice_number": "INV-1"}, "reason"),
        ({"due_date": ""}, "due date"),
        ({"kind": "quote", "valid_until": ""}, "valid until"),
        ({"lines": ()}, "at least one line"),
        ({"kind": "receipt"}, "unknown document kind"),
    ],
)
def test_incomplete_data_is_refused_before_rendering(
    changes: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        tax_invoice(**changes)


# ------------------------------------------------------------------ the lines table


def test_figure_columns_grow_to_their_widest_value_and_rows_stay_rows() -> None:
    """The figures are fixed-width boxes sized from the widest values: a big amount or a
    long unit widens its column instead of wrapping or running into the next one, and a
    wrapped description keeps its figures on its first line."""
    big = Line(
        description="Supply and install solar system, " * 4 + "complete",
        quantity="1 250,125",
        unit="per square metre",
        unit_price="R 1 234 567,89",
        discount="R 12 345,67",
        vat="Exempt",
        amount="R 1 543 209,87",
    )
    text = pdftotext(render(tax_invoice(lines=(big, *LINES))))
    assert_shows(
        text,
        # the description's first line and the figures share a line
        re.compile(r"^Supply and install[^\n]*1 250,125", re.MULTILINE),
        row(
            "1 250,125",
            "per square metre",
            "R 1 234 567,89",
            "R 12 345,67",
            "Exempt",
            "R 1 543 209,87",
        ),
        row("Labour", "2,5", "hrs", "R 450,00", "10%", "15%", "R 1 012,50"),
    )


def test_a_document_of_many_pages_keeps_every_line_once_and_in_order() -> None:
    content = render(long_invoice(400))
    text = pdftotext(content)
    numbers = [int(n) for n in re.findall(r"Item (\d+):", text)]
    assert numbers == list(range(400))
    count = len(pages(content))
    assert count >= 8 and f"Page {count} of {count}" in text


def test_figures_too_wide_for_one_line_go_under_each_description() -> None:
    wide = Line(
        description="Scaffolding hire",
        quantity="999 999,999",
        unit="W" * 20,  # the longest unit the schema allows, in the widest letter
        unit_price="R\u00a0999\u00a0999\u00a0999,99",
        discount="R\u00a0999\u00a0999\u00a0999,99",
        vat="Exempt",
        amount="R\u00a0999\u00a0999\u00a0999\u00a0999,99",
    )
    text = pdftotext(render(tax_invoice(lines=(wide, *LINES))), layout=False)
    # Each line's figures go under its description, labelled, instead of overlapping.
    assert_shows(
        text,
        "Scaffolding hire",
        "Qty 999 999,999",
        "Unit " + "W" * 20,
        "VAT Exempt",
        row("Qty 2,5", "Unit hrs", "Unit price R 450,00", "Disc. 10%"),
    )
