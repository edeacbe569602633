"""Any text a customer or a business can type prints: emoji, CJK, fullwidth and "fancy"
letters, Indic scripts, control characters, lone marks, right-to-left overrides and code
points no font has. A document is issued every time (PDF/A refuses a missing glyph, which is
what made "Lerato 🌸" a 500), and what the fonts can draw comes out as typed."""

# This file is about look-alike letters (fullwidth, mathematical script) on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import dataclasses
import subprocess

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clientcompass.documents import pdf
from clientcompass.documents.fonts import (
    FONT_DIR,
    REPLACEMENT,
    Coverage,
    cmap_coverage,
    coverage,
    font_paths,
)
from clientcompass.documents.pdf import CLEANERS, Renderer, render
from tests.documents.test_pdf import LINES, RECIPIENT, SUPPLIER, credit_note, tax_invoice
from tests.support import factories
from tests.support.accounts import sign_up
from tests.support.documents import BANKING, PROFILE, draft
from tests.support.forms import api_headers

# What South Africans' WhatsApp names and businesses' own text really contain.
NAMES = {
    "emoji": "Lerato 🌸",
    "sparkle": "✨ Sparkle Cleaning",
    "skin tone and flag": "Sipho 👍🏽🇿🇦",
    "family (ZWJ sequence)": "The Naidoos 👨‍👩‍👧",
    "red heart with VS16": "Mom ❤️",
    "chinese": "王小明",
    "japanese": "さくら カフェ",
    "korean": "김민준",
    "fullwidth": "ＬＥＲＡＴＯ",
    "maths bold script": "𝓛𝓮𝓻𝓪𝓽𝓸",
    "devanagari": "प्रिया",
    "tamil": "கவிதா",
    "gujarati": "હેમા",
    "amharic": "ሰላም ተስፋዬ",
    "thai": "สมชาย",
    "arabic": "فاطمة",
    "tshivenda": "Ṱhivhulawi",
}


def pdftotext(content: bytes, *, raw: bool = False) -> str:
    """The PDF's text; `raw` keeps drawing order, which keeps an emoji (drawn from a Type 3
    font, with its own baseline) next to the letters around it."""
    return subprocess.run(
        ["pdftotext", *(["-raw"] if raw else []), "-", "-"],
        input=content,
        capture_output=True,
        check=True,
    ).stdout.decode()


def squashed(text: str) -> str:
    """Without whitespace: poppler guesses spaces from glyph positions, and guesses wrong
    around a bitmap emoji."""
    return "".join(text.split())


def shows(content: bytes, text: str) -> bool:
    return squashed(text) in squashed(pdftotext(content, raw=True))


def font_names(content: bytes) -> set[str]:
    listing = subprocess.run(
        ["pdffonts", "-"], input=content, capture_output=True, check=True
    ).stdout.decode()
    return {line.split()[0].split("+")[-1] for line in listing.splitlines()[2:] if line}


def is_pdf(content: bytes) -> bool:
    return content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_a_customer_name_in_any_script_prints_as_typed(name: str) -> None:
    content = render(tax_invoice(recipient=dataclasses.replace(RECIPIENT, name=name)))
    assert shows(content, name)


def test_a_business_whose_name_has_an_emoji_issues_documents() -> None:
    supplier = dataclasses.replace(SUPPLIER, trading_name="✨ Sparkle Cleaning")
    for document in (tax_invoice(supplier=supplier), credit_note()):
        content = render(dataclasses.replace(document, supplier=supplier))
        # The name heads the page and the footer of every page.
        text = squashed(pdftotext(content, raw=True))
        assert text.count("✨SparkleCleaning") >= 2


def test_emoji_are_drawn_in_colour_and_cjk_from_the_bundled_subset() -> None:
    content = render(
        tax_invoice(
            recipient=dataclasses.replace(RECIPIENT, name="Lerato 🌸 王小明"),
            notes="Thank you 🙏",
        )
    )
    fonts = font_names(content)
    # Colour emoji are bitmaps, which a PDF carries as a Type 3 font (named "[none]").
    assert "[none]" in fonts, fonts
    assert "NotoSansCJKsc-Regular-Identity-H" in fonts, fonts
    # Ordinary text stays in DejaVu Sans: digits and © are not emoji.
    plain = font_names(render(tax_invoice(notes="© 2025 #1 ™")))
    assert plain <= {"DejaVuSans", "DejaVuSans-Bold"}, plain


def test_control_characters_are_dropped_and_line_breaks_kept() -> None:
    notes = "Thanks\x00 for\x1b the\x7f work\tdone\r\nSee you\x0csoon\u2028bye"
    text = pdftotext(render(tax_invoice(notes=notes)))
    assert "Thanks for the work done\nSee you\nsoon\nbye" in text


def test_what_no_font_draws_prints_as_the_replacement_character() -> None:
    # A private-use character, an unassigned one and a noncharacter.
    name = "Bongani \ue000\u0378\uffff!"
    content = render(tax_invoice(recipient=dataclasses.replace(RECIPIENT, name=name)))
    assert shows(content, f"Bongani {REPLACEMENT * 3}!")


def test_printable_keeps_ordinary_text_and_is_idempotent() -> None:
    fonts = coverage()
    for text in ("Nomvula Mthembu-Müller", "R 1 250,00", *NAMES.values()):
        assert fonts.printable(text) == text
    assert fonts.printable("a\x00b") == "ab"
    messy = "x\ud800\U0010ffff\x85y"
    once = fonts.printable(messy)
    assert once == f"x{REPLACEMENT}{REPLACEMENT}\ny" and fonts.printable(once) == once


def test_coverage_comes_from_the_fonts_own_tables() -> None:
    dejavu = cmap_coverage((FONT_DIR / "DejaVuSans.ttf").read_bytes())
    emoji = cmap_coverage((FONT_DIR / "NotoColorEmoji.ttf").read_bytes())
    cjk = cmap_coverage((FONT_DIR / "NotoSansCJKsc-Regular-subset.otf").read_bytes())
    assert ord("Ṱ") in dejavu and ord("🌸") not in dejavu
    assert ord("🌸") in emoji and ord("王") in cjk and ord("Ａ") in cjk
    assert ord("A") not in emoji or ord("A") in dejavu
    assert all(0x10FFFF not in cmap_coverage(path.read_bytes()) for path in font_paths())


def test_the_fonts_stay_a_reasonable_size_and_carry_their_licences() -> None:
    total = sum(path.stat().st_size for path in font_paths())
    assert total < 15 * 1024 * 1024, total
    assert (FONT_DIR / "OFL.txt").read_text().count("SIL OPEN FONT LICENSE") >= 1
    readme = (FONT_DIR / "README.md").read_text()
    for path in font_paths():
        assert path.name in readme, path.name


def test_when_typst_still_refuses_the_render_retries_with_plainer_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A first pass that lets raw text through, as the renderer did before: Typst refuses it
    # (PDF/A allows no missing glyph), which alone is the old 500.
    def raw(_coverage: Coverage, text: str) -> str:
        return text

    document = tax_invoice(recipient=dataclasses.replace(RECIPIENT, name="Lerato 🌸\U0010ffff"))
    monkeypatch.setattr(pdf, "CLEANERS", (raw,))
    with pytest.raises(pdf.RenderError, match="could not be displayed"):
        Renderer().render(document)
    monkeypatch.setattr(pdf, "CLEANERS", (raw, *CLEANERS[1:]))
    content = Renderer().render(document)
    assert is_pdf(content) and shows(content, "Lerato 🌸")


def test_the_last_resort_is_ascii() -> None:
    assert Coverage.ascii("Zoë 🌸\x00\tok") == "Zoe ? ok"


# Every code point, surrogates and controls included (JSON cannot carry a lone surrogate,
# but Python strings from elsewhere can).
ANY_CHARACTER = st.characters(codec=None, exclude_categories=())
ANY_TEXT = st.text(ANY_CHARACTER, max_size=60)
TRICKY = st.sampled_from(
    [
        "\u0301",  # a lone combining mark
        "\u202e",  # right-to-left override
        "\u200d",  # zero-width joiner
        "\ufe0f",  # emoji variation selector
        "\U000e0067",  # a tag character
        "\x00",
        "\ud800",
        "\u0645\u0631\u062d\u0628\u0627",  # Arabic, right to left
        "👩🏽‍💻",
        "\u0e01\u0e34\u0e4a",  # Thai with stacked marks
        "Ａ",
    ]
)
FUZZ_TEXT = st.lists(st.one_of(ANY_TEXT, TRICKY), max_size=4).map("".join)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    customer=FUZZ_TEXT,
    business=FUZZ_TEXT,
    description=FUZZ_TEXT,
    unit=FUZZ_TEXT,
    notes=FUZZ_TEXT,
    terms=FUZZ_TEXT,
    address=FUZZ_TEXT,
)
def test_any_text_in_any_field_gives_a_pdf(
    customer: str,
    business: str,
    description: str,
    unit: str,
    notes: str,
    terms: str,
    address: str,
) -> None:
    document = tax_invoice(
        supplier=dataclasses.replace(SUPPLIER, trading_name=business, address=(address,)),
        recipient=dataclasses.replace(RECIPIENT, name=customer, address=(address,)),
        lines=(dataclasses.replace(LINES[0], description=description, unit=unit), LINES[1]),
        notes=notes,
        terms=terms,
    )
    content = render(document)
    assert is_pdf(content)
    text = pdftotext(content)
    assert "INV-00042" in text
    printable = coverage().printable(customer).strip()
    if printable.isascii() and printable.isalnum():
        assert printable in text


@settings(max_examples=40, deadline=None)
@given(reason=FUZZ_TEXT, description=FUZZ_TEXT)
def test_any_text_on_a_credit_note_gives_a_pdf(reason: str, description: str) -> None:
    document = dataclasses.replace(
        credit_note(),
        reason=reason or "x",
        lines=(dataclasses.replace(LINES[0], description=description),),
    )
    assert is_pdf(render(document))


# -------------------------------------------------------------------- through HTTP

NASTY = "Lerato 🌸 王小明 ＡＢＣ 𝓛𝓮𝓻𝓪𝓽𝓸 \u202eevil\u202c \u0301 \U0010ffff"


def test_a_nasty_name_previews_and_finalises_over_http(client: httpx.Client) -> None:
    account = sign_up(client)
    factories.business_profile(
        factories.settings_of(client),
        account.tenant_id,
        account.user_id,
        {**PROFILE, "trading_name": "✨ Sparkle Cleaning"},
        BANKING,
    )
    headers = api_headers(client)
    lines = [{"description": "Deep clean 🧽 of the 家 ☺", "quantity": "1", "unit_price": "450"}]
    invoice = draft(
        client, headers, "invoices", name=NASTY, lines=lines, notes="Enkosi 🙏\tsee you"
    )
    preview = client.get(f"/api/v1/invoices/{invoice['id']}/pdf")
    assert preview.status_code == 200, preview.text
    finalise = client.post(f"/api/v1/invoices/{invoice['id']}/finalise", headers=headers)
    assert finalise.status_code == 200, finalise.text
    issued = client.get(f"/api/v1/invoices/{invoice['id']}/pdf")
    assert issued.status_code == 200 and is_pdf(issued.content)
    text = squashed(pdftotext(issued.content, raw=True))
    for expected in (
        "✨ Sparkle Cleaning",
        "Lerato 🌸 王小明 ＡＢＣ 𝓛𝓮𝓻𝓪𝓽𝓸",
        "Deep clean 🧽",
        "Enkosi 🙏",
    ):
        assert squashed(expected) in text, expected
