"""The fonts a document is set in, and text cut down to what they can draw.

Issued documents are PDF/A-2b, and PDF/A forbids a character drawn as "no glyph" (tofu), so
Typst refuses to write a PDF with one: a customer called "Lerato 🌸" used to fail the whole
render with a 500. The bundled fonts (typst/fonts/, see its README) now draw emoji, CJK,
fullwidth and "fancy" letters, Indic scripts and Ethiopic; whatever none of them draws, and
every control character, is replaced here before Typst sees it, so no text can stop a
document being issued. Coverage is read from the fonts' own `cmap` tables once per process,
so adding a font needs no list kept by hand.
"""

from __future__ import annotations

import re
import struct
import threading
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import typst

FONT_DIR: Final = Path(__file__).parent / "typst" / "fonts"
FONT_FILES: Final = ("*.ttf", "*.otf")

# Drawn when no bundled font has the character: the replacement character every reader
# recognises (DejaVu Sans draws it), rather than a silent gap in a customer's name.
REPLACEMENT: Final = "\ufffd"

# Characters that draw nothing and that Typst needs no glyph for (Unicode's
# Default_Ignorable_Code_Point): zero-width joiners and spaces, variation selectors
# (an emoji's U+FE0F), bidirectional marks and the tag characters of flags such as 🏴󠁧󠁢󠁳󠁣󠁴󠁿.
DEFAULT_IGNORABLE: Final = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)

# Line breaks of every kind become "\n" (which the template prints as a break); a tab is a
# space; any other control character (NUL, ESC, C1 controls) is dropped.
NEWLINES: Final = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
CONTROL: Final = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
NOT_PLAIN_ASCII: Final = re.compile("[\x00-\x09\x0b-\x1f\x7f]")


def cmap_coverage(font: bytes) -> set[int]:
    """The code points a TrueType/OpenType font maps to a real glyph (cmap formats 4 and 12)."""
    (tables,) = struct.unpack_from(">H", font, 4)
    for i in range(tables):
        tag, _, offset, _ = struct.unpack_from(">4sIII", font, 12 + 16 * i)
        if tag == b"cmap":
            break
    else:
        return set()
    (_, count) = struct.unpack_from(">HH", font, offset)
    found: dict[int, int] = {}
    for i in range(count):
        platform, encoding, at = struct.unpack_from(">HHI", font, offset + 4 + 8 * i)
        (kind,) = struct.unpack_from(">H", font, offset + at)
        if (platform, encoding) in {(0, 3), (0, 4), (0, 6), (3, 1), (3, 10)} and kind in {4, 12}:
            found.setdefault(kind, offset + at)
    if 12 in found:
        return _format12(font, found[12])
    if 4 in found:
        return _format4(font, found[4])
    return set()


def _format12(font: bytes, at: int) -> set[int]:
    (groups,) = struct.unpack_from(">I", font, at + 12)
    covered: set[int] = set()
    for i in range(groups):
        start, end, glyph = struct.unpack_from(">III", font, at + 16 + 12 * i)
        covered.update(range(start + (glyph == 0), end + 1))
    return covered


def _format4(font: bytes, at: int) -> set[int]:
    (segments,) = struct.unpack_from(">H", font, at + 6)
    segments //= 2
    ends = struct.unpack_from(f">{segments}H", font, at + 14)
    starts = struct.unpack_from(f">{segments}H", font, at + 16 + 2 * segments)
    deltas = struct.unpack_from(f">{segments}h", font, at + 16 + 4 * segments)
    range_at = at + 16 + 6 * segments
    offsets = struct.unpack_from(f">{segments}H", font, range_at)
    covered: set[int] = set()
    for n, (start, end, delta, offset) in enumerate(
        zip(starts, ends, deltas, offsets, strict=True)
    ):
        for code in range(start, min(end, 0xFFFE) + 1):
            if offset == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                where = range_at + 2 * n + offset + 2 * (code - start)
                (glyph,) = struct.unpack_from(">H", font, where)
                glyph = (glyph + delta) & 0xFFFF if glyph else 0
            if glyph:
                covered.add(code)
    return covered


def font_paths(folder: Path = FONT_DIR) -> list[Path]:
    """The bundled font files, in a stable order."""
    return sorted(path for pattern in FONT_FILES for path in folder.glob(pattern))


class Coverage:
    """What the bundled fonts draw, and text made safe to print with them."""

    def __init__(self, fonts: Iterable[Path]) -> None:
        drawn: set[int] = set()
        for path in fonts:
            drawn |= cmap_coverage(path.read_bytes())
        for low, high in DEFAULT_IGNORABLE:
            drawn.update(range(low, high + 1))
        drawn -= {ord(c) for c in "\x00\t\n\r"} | set(range(0xD800, 0xE000))
        self.drawn: frozenset[int] = frozenset(drawn)
        self.replacement = REPLACEMENT if ord(REPLACEMENT) in drawn else "?"

    def printable(self, text: str) -> str:
        """`text` with line breaks as "\\n", no control characters, and what no font draws
        replaced; ordinary text comes back as it was (the usual, fast case)."""
        if text.isascii() and not NOT_PLAIN_ASCII.search(text):
            return text
        text = CONTROL.sub("", NEWLINES.sub("\n", text)).replace("\t", " ")
        if text.isascii():
            return text
        drawn, replacement = self.drawn, self.replacement
        if drawn.issuperset(map(ord, text.replace("\n", ""))):
            return text  # the usual non-ASCII case (an amount's no-break spaces, a name's ë)
        return "".join(
            c if c == "\n" or ord(c) in drawn or c.isascii() else replacement for c in text
        )

    def plain(self, text: str) -> str:
        """A stricter form, for when the fonts still could not set `printable` text (a mark
        on a letter from another font): no combining marks, no joiners."""
        text = unicodedata.normalize("NFC", self.printable(text))
        return "".join(
            c
            for c in text
            if not unicodedata.category(c).startswith("M") and unicodedata.category(c) != "Cf"
        )

    @staticmethod
    def ascii(text: str) -> str:
        """The last resort: letters without their accents, anything else as "?"."""
        decomposed = unicodedata.normalize("NFKD", text)
        kept = "".join(c for c in decomposed if not unicodedata.combining(c))
        kept = CONTROL.sub("", NEWLINES.sub("\n", kept)).replace("\t", " ")
        return "".join(c if c.isascii() else "?" for c in kept)


class _Loaded:
    """The process's fonts and coverage, read once (font files are parsed lazily by Typst)."""

    lock = threading.Lock()
    fonts: typst.Fonts | None = None
    coverage: Coverage | None = None


def typst_fonts() -> typst.Fonts:
    """The bundled fonts as one Typst font book, shared by every renderer in the process.

    Neither the host's fonts nor Typst's embedded ones: output must not depend on the machine
    or on the version of the typst package.
    """
    with _Loaded.lock:
        if _Loaded.fonts is None:
            _Loaded.fonts = typst.Fonts(
                include_system_fonts=False,
                include_embedded_fonts=False,
                font_paths=[str(FONT_DIR)],
            )
        return _Loaded.fonts


def coverage() -> Coverage:
    """What the bundled fonts draw, read from their files once per process."""
    with _Loaded.lock:
        if _Loaded.coverage is None:
            _Loaded.coverage = Coverage(font_paths())
        return _Loaded.coverage
