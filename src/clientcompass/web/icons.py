"""The app icons (static/icons/*.png), drawn from the brand mark in static/favicon.svg.

Pure Python (a zlib PNG writer), so regenerating them needs nothing installed:
`python -m clientcompass.web.icons src/clientcompass/static/icons`. The app never runs this;
the PNGs are committed.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

Rgba = tuple[int, int, int, int]
Point = tuple[float, float]
GREEN = (0x0B, 0x7A, 0x55)
WHITE = (255, 255, 255)
GOLD = (0xF2, 0xB1, 0x34)
CLEAR: Rgba = (0, 0, 0, 0)
# The compass needle, in the SVG's 32-unit box.
DIAMOND: list[Point] = [(16, 5), (20, 16), (16, 27), (12, 16)]
TOP: list[Point] = [(16, 5), (20, 16), (12, 16)]
ICONS = [
    ("icon-192.png", 192, "plain"),
    ("icon-512.png", 512, "plain"),
    ("maskable-512.png", 512, "maskable"),
    ("apple-touch-icon.png", 180, "maskable"),
    ("badge-96.png", 96, "badge"),
]


def inside(poly: list[Point], x: float, y: float) -> bool:
    found = False
    for i, (x1, y1) in enumerate(poly):
        x2, y2 = poly[(i + 1) % len(poly)]
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            found = not found
    return found


def colour(x: float, y: float, style: str) -> Rgba:
    if style == "badge":
        # Android draws a badge from its alpha only: the needle, in white.
        on = inside(DIAMOND, 16 + (x - 16) / 1.25, 16 + (y - 16) / 1.25)
        return (*WHITE, 255) if on else CLEAR
    if style == "maskable":
        # The safe zone is the centre circle of radius 40%: the mark shrinks into it.
        mx, my = 16 + (x - 16) / 0.72, 16 + (y - 16) / 0.72
        if inside(TOP, mx, my):
            return (*GOLD, 255)
        return (*WHITE, 255) if inside(DIAMOND, mx, my) else (*GREEN, 255)
    if inside(TOP, x, y):
        return (*GOLD, 255)
    if inside(DIAMOND, x, y):
        return (*WHITE, 255)
    return (*GREEN, 255) if (x - 16) ** 2 + (y - 16) ** 2 <= 15**2 else CLEAR


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return struct.pack(">I", len(data)) + kind + data + crc


def render(size: int, style: str, supersample: int = 3) -> bytes:
    """An RGBA PNG, each pixel the average of supersample² points (smooth edges)."""
    rows = []
    for py in range(size):
        row = bytearray([0])
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(supersample):
                for sx in range(supersample):
                    x = (px + (sx + 0.5) / supersample) * 32 / size
                    y = (py + (sy + 0.5) / supersample) * 32 / size
                    r, g, b, a = colour(x, y, style)
                    acc = [acc[0] + r * a, acc[1] + g * a, acc[2] + b * a, acc[3] + a]
            alpha = acc[3]
            row += bytes(
                [
                    *(channel // alpha if alpha else 0 for channel in acc[:3]),
                    alpha // supersample**2,
                ]
            )
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )


def main(folder: str) -> None:
    for name, size, style in ICONS:
        (Path(folder) / name).write_bytes(render(size, style))
        print(name)


if __name__ == "__main__":
    main(sys.argv[1])
