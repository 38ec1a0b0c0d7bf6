"""How many SMS segments a text takes (pure): GSM-7 when every character is in the GSM 03.38 alphabet, else UCS-2.

GSM-7: 160 septets in one segment, 153 per segment when concatenated; the extension characters (`^{}\\[~]|€` and
form feed) take two septets each. UCS-2: 70 UTF-16 code units in one segment, 67 per concatenated segment (a
character outside the BMP, such as most emoji, takes two).
"""
from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class Segments:
    encoding: str  # "GSM-7" | "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    count: int  # segments; 0 for an empty text

    @property
    def per_segment(self) -> int:
        single, multi = (160, 153) if self.encoding == "GSM-7" else (70, 67)
        return single if self.count <= 1 else multi


def segments(text: str) -> Segments:
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units == 0:
        return Segments(encoding, 0, 0)
    return Segments(encoding, units, 1 if units <= single else -(-units // multi))
