"""Printable letters: one PDF per letter, laid out for a window envelope, and one merged print file per day.

Layout (A4, 210 × 297 mm), DIN 5008:2020 Form B ("tiefgestelltes Anschriftfeld", the form for window envelopes):

- the address field (Anschriftfeld) is 85 mm wide and 45 mm high, 20 mm from the left edge and 45 mm from the
  top edge of the sheet, i.e. 45–90 mm from the top;
- its upper 17.7 mm (45–62.7 mm) is the zone for the return address and postal notes (Rücksendeangabe, Zusatz- und
  Vermerkzone; 8 pt recommended, 6 pt at least; written bottom-up), its lower 27.3 mm (62.7–90 mm) the address
  zone (Anschriftzone: at most 6 lines, at least 8 pt, no blank lines, written top-down);
- the information block starts 125 mm from the left edge and 50 mm from the top (Form B);
- fold marks at 105 mm and 210 mm from the top, the punch mark at 148.5 mm (DIN 5008 Form B, DIN 676);
- text from 25 mm on the left, at least 20 mm free on the right.

Sources: DIN 5008:2020 as summarised by din-5008-richtlinien.de ("Anschriftenfeld": 45 × 85 mm field, the line at
62.7 mm for Form B, 17.7 mm + 27.3 mm zones) and korrespondenz-din-5008.de. This field lies inside the window of
the DL and C6/5 window envelopes of DIN 680 / ISO 269 (window 90 × 45 mm, 20 mm from the left edge, 15 mm from the
bottom edge of the envelope), the envelopes Dutch and Belgian mailrooms use too. The Dutch letter standard NEN 1026
places the address for the same envelopes; its text was not available to check, so the letter keeps to the DIN
field, which fits those windows.

Files: `FOLDER/<day>/<id>-<key>.pdf` per letter (written atomically under a name derived from the message key, so a
repeated delivery rewrites the same file), the message beside it as `.json`, and `FOLDER/<day>.pdf`, all of that
day's letters in one file for the printer, rebuilt from the `.json` files (never appended to). `<day>` is the day
the message was queued (`created_on`), as for the file sink. Building the day file takes a moment per letter, so
`deliver` only notes the day; `close()` (the sender calls it after a batch; the channel is also a context manager)
rebuilds every day file that is missing or was built from other letters than its day now has (each build records
its letter files and their modification times), which also repairs a day whose sender died between a letter and
the rebuild. `rebuild_day(folder, day, letterhead)` does one day on its own.
"""
from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any, Callable

from fpdf import FPDF

from dunflow.delivery.errors import PermanentFailure, TemporaryFailure
from dunflow.domain.notice import Creditor
from dunflow.errors import DunflowError
from dunflow.store.uow import UnitOfWork

# DIN 5008 Form B, in mm from the sheet's top-left corner (see the module docstring).
PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0
FIELD_LEFT, FIELD_TOP, FIELD_WIDTH, FIELD_HEIGHT = 20.0, 45.0, 85.0, 45.0
ADDRESS_ZONE_TOP = 62.7  # below: the address (27.3 mm, 6 lines); above: return address and notes (17.7 mm)
ADDRESS_LINES = 6
INFO_LEFT, INFO_TOP = 125.0, 50.0
FOLD_MARKS, PUNCH_MARK = (105.0, 210.0), 148.5
TEXT_LEFT, TEXT_RIGHT = 25.0, 20.0
BOTTOM_MARGIN = 25.0

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
             Path("/usr/local/share/fonts"))
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}

PAGE_LABEL = {"de": "Seite {page} von {pages}", "nl": "Pagina {page} van {pages}", "fr": "Page {page} sur {pages}",
              "en": "Page {page} of {pages}"}
DATE_LABEL = {"de": "Datum", "nl": "Datum", "fr": "Date", "en": "Date"}


@dataclass(frozen=True)
class PostalAddress:
    """Where a letter goes: the lines of the address zone, in order."""

    name: str
    street: str
    postal_code: str
    city: str
    country: str = ""  # ISO 3166 alpha-2; printed as a last line when it is not the creditor's country

    def lines(self, home_country: str = "", language: str = "en") -> list[str]:
        place = " ".join(part for part in (self.postal_code, self.city) if part)
        lines = [line for part in (self.name, self.street, place) for line in part.splitlines() if line.strip()]
        if self.country and home_country and self.country.upper() != home_country.upper():
            lines.append(_country_name(self.country, language).upper())
        return lines


def _country_name(code: str, language: str) -> str:
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(language or "en").territories.get(code.upper(), code))
    except (UnknownLocaleError, ValueError):
        return code


def postal_address(uow: UnitOfWork, message: dict[str, Any]) -> PostalAddress:
    """The debtor's postal address for a letter message, from the debtors table (as last imported)."""
    row = uow.invoices.debtor(message["debtor_id"])
    return PostalAddress(row.name, row.address or "", row.postal_code or "", row.city or "", row.country or "")


def address_from_recipient(message: dict[str, Any]) -> PostalAddress:
    """The address the run wrote into a letter's `recipient` ("name\\nstreet\\npostal code city")."""
    lines = [line for line in str(message.get("recipient", "")).splitlines() if line.strip()]
    name, street = (lines + ["", ""])[:2]
    place = lines[2] if len(lines) > 2 else ""
    code, _, city = place.partition(" ")
    return PostalAddress(name, street, code, city)


def font_dir() -> Path:
    """A folder with DejaVu Sans (Debian's fonts-dejavu-core), which covers ü, ß, é, € and the rest of Latin."""
    for folder in FONT_DIRS:
        if all((folder / name).is_file() for name in FONT_FILES.values()):
            return folder
    raise DunflowError("no DejaVu Sans font found for printable letters (looked in "
                       + ", ".join(str(f) for f in FONT_DIRS) + ")",
                       "install it: apt-get install fonts-dejavu-core")


# What letters print: Latin with its extensions and diacritics, Greek, Cyrillic, punctuation, currency signs (€).
LETTER_UNICODES = (*range(0x20, 0x7F), *range(0xA0, 0x530), *range(0x1E00, 0x1F00), *range(0x2000, 0x2070),
                   *range(0x20A0, 0x20D0), *range(0x2100, 0x2200), 0xFFFD)


@functools.lru_cache(maxsize=1)
def letter_fonts() -> Path:
    """The folder with the fonts letters use: DejaVu Sans cut down to `LETTER_UNICODES`, made once and kept in
    the user's cache folder (a letter then takes about a third of the time; the full font has 6,000 glyphs).
    Where the cache cannot be written, the full fonts are used."""
    source = font_dir()
    stamp = hashlib.sha256("".join(f"{name}:{(source / name).stat().st_size}:{(source / name).stat().st_mtime_ns}"
                                   for name in FONT_FILES.values()).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dunflow" / f"fonts-{stamp}"
    try:
        if not all((cache / name).is_file() for name in FONT_FILES.values()):
            cache.mkdir(parents=True, exist_ok=True)
            for name in FONT_FILES.values():
                _write_atomically(cache / name, _subset(source / name))
    except OSError:
        return source
    return cache


def _subset(path: Path) -> bytes:
    import io

    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.notdef_outline, options.name_IDs, options.drop_tables = True, ["*"], [*options.drop_tables, "FFTM"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=LETTER_UNICODES)
    font = TTFont(str(path))
    subsetter.subset(font)
    data = io.BytesIO()
    font.save(data)
    return data.getvalue()


class _Sheet(FPDF):
    """A4 pages with the creditor's letterhead footer and per-letter page numbers."""

    def __init__(self, letterhead: Creditor, fonts: Path) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.letterhead = letterhead
        for style, name in FONT_FILES.items():
            self.add_font("DejaVu", style, str(fonts / name))
        self.set_margins(TEXT_LEFT, 20.0, TEXT_RIGHT)
        self.set_auto_page_break(True, BOTTOM_MARGIN)
        self.set_title(letterhead.name)
        self.set_creator("dunflow")
        self.letter_start, self.letter_pages, self.language = 1, 0, "en"

    def footer(self) -> None:
        self.set_y(-18)
        self.set_font("DejaVu", "", 7)
        self.set_text_color(80, 80, 80)
        head = self.letterhead
        bank = " · ".join(p for p in (f"IBAN {head.iban}" if head.iban else "", f"BIC {head.bic}" if head.bic else "")
                          if p)
        contact = " · ".join(p for p in (head.contact, head.phone, head.email, head.website) if p)
        for line in (" · ".join(p for p in (head.name, head.address.replace("\n", ", ")) if p), bank, contact):
            if line:
                self.cell(0, 3.2, line, new_x="LMARGIN", new_y="NEXT")
        label = PAGE_LABEL.get(self.language, PAGE_LABEL["en"])
        self.set_xy(TEXT_LEFT, -18)
        self.cell(0, 3.2, label.format(page=self.page_no() - self.letter_start + 1,
                                       pages=self.letter_pages or "{nb}"), align="R")
        self.set_text_color(0, 0, 0)


@dataclass(frozen=True)
class Letter:
    """One letter as printed: the message's text and the address for the window."""

    key: str
    language: str
    on: date
    subject: str
    body: str
    address: PostalAddress

    @classmethod
    def of(cls, message: dict[str, Any], address: PostalAddress) -> Letter:
        on = message["created_on"]
        return cls(str(message["key"]), str(message.get("language") or "en"),
                   on if isinstance(on, date) else date.fromisoformat(str(on)),
                   str(message.get("subject") or ""), str(message.get("body") or ""), address)


def _draw(pdf: _Sheet, letter: Letter, pages: int) -> None:
    """Add the pages of one letter to `pdf`; `pages`: how many it has (0: the document's own count)."""
    pdf.language, pdf.letter_pages = letter.language[:2], pages
    pdf.add_page()
    pdf.letter_start = pdf.page_no()
    head = pdf.letterhead
    pdf.set_xy(TEXT_LEFT, 15)
    pdf.set_font("DejaVu", "B", 15)
    pdf.cell(0, 7, head.name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    for line in head.address.splitlines() or [""]:
        pdf.cell(0, 4.2, line, new_x="LMARGIN", new_y="NEXT")
    _marks(pdf)
    # return address: the bottom line of the 17.7 mm zone above the address
    pdf.set_font("DejaVu", "", 7)
    pdf.set_xy(FIELD_LEFT + 5, ADDRESS_ZONE_TOP - 4.0)
    pdf.cell(FIELD_WIDTH - 5, 3.5, _fit(pdf, " · ".join(p for p in (head.name, head.address.replace("\n", ", "))
                                                          if p), FIELD_WIDTH - 5))
    pdf.set_font("DejaVu", "", 10)
    top = ADDRESS_ZONE_TOP + 1.0
    for number, line in enumerate(letter.address.lines(head.country, letter.language)[:ADDRESS_LINES]):
        pdf.set_xy(FIELD_LEFT + 5, top + number * 4.3)
        pdf.cell(FIELD_WIDTH - 5, 4.3, _fit(pdf, line, FIELD_WIDTH - 5))
    pdf.set_font("DejaVu", "", 9)
    pdf.set_xy(INFO_LEFT, INFO_TOP)
    pdf.cell(0, 4.5, f"{DATE_LABEL.get(letter.language[:2], 'Date')}: {_date(letter.on, letter.language)}")
    pdf.set_xy(TEXT_LEFT, 98.5)
    pdf.set_font("DejaVu", "B", 11)
    pdf.multi_cell(0, 5.5, letter.subject, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", "", 10)
    pdf.multi_cell(0, 5, letter.body.replace("\r\n", "\n").expandtabs(4), align="L", new_x="LMARGIN", new_y="NEXT")


def _marks(pdf: _Sheet) -> None:
    pdf.set_draw_color(120, 120, 120)
    pdf.set_line_width(0.2)
    for at in FOLD_MARKS:
        pdf.line(3, at, 8, at)
    pdf.line(3, PUNCH_MARK, 10, PUNCH_MARK)


def _fit(pdf: _Sheet, text: str, width: float) -> str:
    """Cut a line to the width of the window (an over-long name must not leave it)."""
    while text and pdf.get_string_width(text) > width:
        text = text[:-1]
    return text


def _date(on: date, language: str) -> str:
    from babel.dates import format_date

    try:
        return str(format_date(on, format="long", locale=language or "en"))
    except (ValueError, LookupError):
        return on.isoformat()


def _sheet(letterhead: Creditor) -> _Sheet:
    return _Sheet(letterhead, letter_fonts())


def render_letter(letter: Letter, letterhead: Creditor) -> bytes:
    """One letter as a PDF document."""
    pdf = _sheet(letterhead)
    _draw(pdf, letter, 0)
    return bytes(pdf.output())


def render_letters(letters: list[Letter], letterhead: Creditor) -> bytes:
    """Several letters in one document (the day's print file), each with its own page numbers (counted by
    drawing it once into a scratch document first)."""
    pdf, scratch = _sheet(letterhead), _sheet(letterhead)
    for letter in letters:
        before = scratch.page_no()
        _draw(scratch, letter, 1)
        _draw(pdf, letter, scratch.page_no() - before)
    if not letters:
        pdf.add_page()
    return bytes(pdf.output())


def _safe_name(key: str) -> str:
    return "".join(c if c.isalnum() or c in "_.-" else "_" for c in key)


class PdfLetterChannel:
    """The `pdf` channel: letters as PDF files in a print folder (see the module docstring for the layout)."""

    def __init__(self, folder: Path, letterhead: Creditor,
                 addresses: Callable[[dict[str, Any]], PostalAddress] = address_from_recipient) -> None:
        self.folder, self.letterhead, self.addresses = Path(folder), letterhead, addresses
        self.days: set[str] = set()

    def deliver(self, message: dict[str, Any]) -> str:
        address = self.addresses(message)
        if not (address.name.strip() and address.city.strip()):
            raise PermanentFailure(f"no postal address for a letter to debtor {message.get('debtor_id')} "
                                   "(name, address, postal_code and city are needed)")
        letter = Letter.of(message, address)
        day = letter.on.isoformat()
        folder = self.folder / day
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{int(message['id']):08d}-{_safe_name(letter.key)}"
        path = folder / f"{name}.pdf"
        try:
            data = render_letter(letter, self.letterhead)
        except DunflowError as error:  # no font installed: worth retrying once it is
            raise TemporaryFailure(f"{error.message} ({error.hint})") from error
        _write_atomically(path, data)
        _write_atomically(folder / f"{name}.json", json.dumps(_sidecar(message, address), ensure_ascii=False,
                                                              default=str, indent=2).encode())
        self.days.add(day)
        return str(path)

    def close(self) -> None:
        """Rebuild the print file of every day this channel wrote to, and of any day whose file is stale."""
        for day in sorted(self.days | stale_days(self.folder)):
            rebuild_day(self.folder, day, self.letterhead)
        self.days.clear()

    def __enter__(self) -> PdfLetterChannel:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def _sidecar(message: dict[str, Any], address: PostalAddress) -> dict[str, Any]:
    fields = ("id", "key", "language", "step", "subject", "body", "invoice_numbers", "created_on", "debtor_id")
    return {**{f: message.get(f) for f in fields}, "address": address.__dict__}


def stale_days(folder: Path) -> set[str]:
    """Days whose print file is missing or was built from other letters than the day now has (a letter added or
    rewritten since: each build records which letter files, at which modification time, it contains)."""
    stale: set[str] = set()
    if not folder.is_dir():
        return stale
    for day_folder in folder.iterdir():
        if not day_folder.is_dir() or not _is_day(day_folder.name):
            continue
        letters = _letter_files(day_folder)
        if letters and (not (folder / f"{day_folder.name}.pdf").exists()
                        or _manifest(folder, day_folder.name) != letters):
            stale.add(day_folder.name)
    return stale


def _letter_files(day_folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(day_folder.glob("*.json"))}


def _manifest(folder: Path, day: str) -> dict[str, int] | None:
    try:
        found = json.loads((folder / f".{day}.built.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _is_day(name: str) -> bool:
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return True


def rebuild_day(folder: Path, day: str, letterhead: Creditor) -> Path:
    """Write `FOLDER/<day>.pdf` again from that day's letters, in message order. Rebuilds are serialised by a
    lock file, and each one reads the letters after taking the lock, so the last one includes every letter; which
    letters a build contains is recorded beside it (`.<day>.built.json`) for `stale_days`."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{day}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        files = _letter_files(folder / day) if (folder / day).is_dir() else {}
        letters = []
        for name in files:
            data = json.loads((folder / day / name).read_text(encoding="utf-8"))
            letters.append(Letter.of(data, PostalAddress(**data["address"])))
        target = folder / f"{day}.pdf"
        _write_atomically(target, render_letters(letters, letterhead))
        _write_atomically(folder / f".{day}.built.json", json.dumps(files).encode())
    return target


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def pdf_channel(config: dict[str, Any], project: Any, store: Any = None) -> PdfLetterChannel:
    """Registry factory for `type: pdf` (`letter: {type: pdf, folder: print}`): the folder inside the project,
    the project's creditor as letterhead, and, given the store, debtor addresses from the database (else the
    address the run wrote into the message)."""
    folder = Path(project.root) / str(config.get("folder", "print"))
    if not folder.resolve().is_relative_to(Path(project.root).resolve()):
        raise DunflowError(f"letter folder '{config.get('folder')}' is outside the project ({folder.resolve()})",
                           "use a folder inside the project, e.g. folder: print")
    if store is None:
        return PdfLetterChannel(folder, project.creditor)

    def addresses(message: dict[str, Any]) -> PostalAddress:
        with store.reading() as uow:
            return postal_address(uow, message)

    return PdfLetterChannel(folder, project.creditor, addresses)
