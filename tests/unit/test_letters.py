"""Printable letters: text and address position checked in the PDF itself with poppler's pdftotext."""
from __future__ import annotations

import os
import re
import subprocess
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from dunflow.delivery.errors import PermanentFailure
from dunflow.delivery import letters
from dunflow.delivery.letters import (
    ADDRESS_ZONE_TOP,
    FIELD_HEIGHT,
    FIELD_LEFT,
    FIELD_TOP,
    FIELD_WIDTH,
    PdfLetterChannel,
    PostalAddress,
    rebuild_day,
    stale_days,
)
from dunflow.domain.notice import Creditor

MM_PER_POINT = 25.4 / 72


@pytest.fixture(autouse=True)
def font_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cut-down fonts go to a cache folder of the test session, not the user's."""
    cache = tmp_path_factory.getbasetemp() / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    letters.letter_fonts.cache_clear()
    return cache
LETTERHEAD = Creditor(name="Grün & Söhne GmbH", address="Hauptstraße 1\n10115 Berlin", iban="DE89370400440532013000",
                      bic="COBADEFFXXX", email="forderungen@gruen.example", contact="Frau Weiß", country="DE")


def message(number: int = 1, *, body: str = "", recipient: str = "Jürgen Müller\nStraße 5\n50968 Köln",
            on: date = date(2026, 12, 1)) -> dict[str, Any]:
    return dict(id=number, key=f"case:{number}:r0:first:letter", channel="letter", recipient=recipient,
                language="de", template="b2b/first", step="first", subject=f"1. Mahnung Nr. {number}: 1.190,00 €",
                body=body or "Sehr geehrter Herr Müller,\n\nbitte überweisen Sie 1.190,00 € (Café Größe).\n",
                invoice_numbers=[f"R-{number}"], created_on=on, created_at=datetime(2026, 12, 1, tzinfo=timezone.utc),
                debtor_id=number)


def text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout


def words(pdf: Path) -> list[tuple[str, float, float, float, float, int]]:
    """(word, left, top, right, bottom in mm, page) of every word on the pages."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    found, page = [], 0
    for line in html.splitlines():
        if "<page " in line:
            page += 1
        match = re.search(r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<', line)
        if match:
            x0, y0, x1, y1 = (float(match.group(i)) * MM_PER_POINT for i in range(1, 5))
            found.append((match.group(5), x0, y0, x1, y1, page))
    return found


def test_a_letter_carries_letterhead_address_subject_body_and_unicode(tmp_path: Path) -> None:
    where = PdfLetterChannel(tmp_path / "print", LETTERHEAD).deliver(message())
    printed = text(Path(where))
    for expected in ("Grün & Söhne GmbH", "Hauptstraße 1", "Jürgen Müller", "50968 Köln",
                     "1. Mahnung Nr. 1: 1.190,00 €", "bitte überweisen Sie 1.190,00 € (Café Größe).",
                     "IBAN DE89370400440532013000", "Frau Weiß", "1. Dezember 2026", "Seite 1 von 1"):
        assert expected in printed, expected


def test_the_debtor_address_sits_in_the_address_zone_of_the_window(tmp_path: Path) -> None:
    where = Path(PdfLetterChannel(tmp_path / "print", LETTERHEAD).deliver(message()))
    address = [w for w in words(where) if w[0] in {"Jürgen", "Müller", "Straße", "5", "50968", "Köln"} and w[5] == 1]
    assert len(address) == 6
    for word, left, top, right, bottom, _ in address:
        assert FIELD_LEFT <= left and right <= FIELD_LEFT + FIELD_WIDTH, word
        assert ADDRESS_ZONE_TOP <= top and bottom <= FIELD_TOP + FIELD_HEIGHT, word
    sender = [w for w in words(where) if w[0] == "Söhne" and FIELD_TOP <= w[2] < ADDRESS_ZONE_TOP]
    assert sender, "the return address line sits in the zone above the address"


def test_a_long_letter_numbers_its_pages(tmp_path: Path) -> None:
    body = "".join(f"Zeile {n}: offene Rechnung über 12,50 €.\n" for n in range(120))
    printed = text(Path(PdfLetterChannel(tmp_path / "print", LETTERHEAD).deliver(message(body=body))))
    assert "Seite 1 von 3" in printed and "Seite 3 von 3" in printed
    assert "Zeile 119" in printed


def test_a_letter_abroad_names_the_country(tmp_path: Path) -> None:
    address = PostalAddress("Jan Jansen", "Kerkstraat 1", "1017 GC", "Amsterdam", "NL")
    channel = PdfLetterChannel(tmp_path / "print", LETTERHEAD, addresses=lambda m: address)
    assert "NIEDERLANDE" in text(Path(channel.deliver(message())))


def test_delivering_twice_rewrites_the_same_file(tmp_path: Path) -> None:
    channel = PdfLetterChannel(tmp_path / "print", LETTERHEAD)
    first = channel.deliver(message())
    again = channel.deliver(message())
    assert first == again
    assert sorted(p.name for p in (tmp_path / "print" / "2026-12-01").iterdir()) == [
        "00000001-case_1_r0_first_letter.json", "00000001-case_1_r0_first_letter.pdf"]


def test_the_day_file_holds_each_letter_of_the_day_once(tmp_path: Path) -> None:
    folder = tmp_path / "print"
    with PdfLetterChannel(folder, LETTERHEAD) as channel:
        for number in (1, 2, 3, 2):
            channel.deliver(message(number))
        channel.deliver(message(4, on=date(2026, 12, 2)))
    day = text(folder / "2026-12-01.pdf")
    assert [day.count(f"1. Mahnung Nr. {n}:") for n in (1, 2, 3, 4)] == [1, 1, 1, 0]
    assert day.count("Seite 1 von 1") == 3
    assert "1. Mahnung Nr. 4:" in text(folder / "2026-12-02.pdf")


def test_a_stale_day_file_is_rebuilt_by_the_next_close(tmp_path: Path) -> None:
    folder = tmp_path / "print"
    PdfLetterChannel(folder, LETTERHEAD).deliver(message(1))  # a sender that died before close()
    assert not (folder / "2026-12-01.pdf").exists()
    PdfLetterChannel(folder, LETTERHEAD).close()
    assert "Nr. 1:" in text(folder / "2026-12-01.pdf")
    assert "Nr. 1:" in text(rebuild_day(folder, "2026-12-01", LETTERHEAD))


def test_a_letter_written_after_the_last_build_makes_its_day_stale(tmp_path: Path) -> None:
    folder = tmp_path / "print"
    with PdfLetterChannel(folder, LETTERHEAD) as channel:
        channel.deliver(message(1))
    assert stale_days(folder) == set()
    built = (folder / "2026-12-01.pdf").stat().st_mtime_ns
    PdfLetterChannel(folder, LETTERHEAD).deliver(message(2))  # its sender died before close()
    os.utime(folder / "2026-12-01.pdf", ns=(built + 10**12, built + 10**12))  # even if the print file looks newer
    assert stale_days(folder) == {"2026-12-01"}
    PdfLetterChannel(folder, LETTERHEAD).close()
    assert "Nr. 2:" in text(folder / "2026-12-01.pdf") and stale_days(folder) == set()


def test_a_letter_without_a_postal_address_fails_for_good(tmp_path: Path) -> None:
    with pytest.raises(PermanentFailure, match="no postal address"):
        PdfLetterChannel(tmp_path / "print", LETTERHEAD).deliver(message(recipient="\n\n"))


def test_letters_use_the_cut_down_fonts_and_print_without_a_writable_cache(tmp_path: Path, font_cache: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert letters.letter_fonts().is_relative_to(font_cache)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    letters.letter_fonts.cache_clear()
    assert letters.letter_fonts() == letters.font_dir()
    body = "Ελλάδα, Москва, Łódź, Nguyễn, Straße, café, 12,50 €\n"
    assert body.strip() in text(Path(PdfLetterChannel(tmp_path / "print", LETTERHEAD).deliver(message(body=body))))
