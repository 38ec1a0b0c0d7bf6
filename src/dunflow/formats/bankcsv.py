"""Bank CSV exports as banks write them, through a profile: a preset or `payments.csv_profiles` in dunflow.yaml.

A bank's CSV is not dunflow's canonical file: ISO-8859-1, `;`, decimal commas, `DD.MM.YY`, a
direction column (`Af/Bij`, `S/H`) instead of a sign, title rows above the header, no entry id.
A profile says how to read one layout; the entries become the same PaymentRecords as any other
file. Only credits are payments; debits are counted as skipped. Without an id column the key of
a row is a digest of what it says plus its occurrence in the file, so re-importing the same export
(or one that overlaps it) records nothing twice while two equal payments on one day stay two.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from dunflow.errors import InputProblems, Problem
from dunflow.formats.entries import BankFile, PaymentRecord, compact_iban
from dunflow.formats.mt940 import Details, dutch_details
from dunflow.formats.tables import BadValue, check_size, require_precision, to_currency

MAX_TITLE_ROWS = 30


@dataclass(frozen=True)
class CsvProfile:
    """How to read one bank's CSV layout; `columns` maps dunflow's field to the bank's header name.

    `reference` may name several columns, joined with a space. `credit` lists the values of the
    `direction` column that mean money in ('Bij', 'H'); without a direction column the amount's sign
    decides.
    """

    columns: Mapping[str, tuple[str, ...]]
    encoding: str = "utf-8-sig"
    delimiter: str = ";"
    decimal: str = ","
    date_format: str = "%d.%m.%Y"
    skip_rows: int = 0
    credit: tuple[str, ...] = ()
    currency: str = ""

    @staticmethod
    def from_config(data: Mapping[str, Any]) -> CsvProfile:
        """A profile from dunflow.yaml (`payments.csv_profiles.NAME`); the schema has checked the keys."""
        columns = {name: (value,) if isinstance(value, str) else tuple(value)
                   for name, value in dict(data.get("columns", {})).items()}
        return CsvProfile(columns, data.get("encoding", "utf-8-sig"), data.get("delimiter", ";"),
                          data.get("decimal", ","), data.get("date_format", "%d.%m.%Y"), int(data.get("skip_rows", 0)),
                          tuple(data.get("credit", ())), data.get("currency", ""))


def _cols(**columns: str | tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {name: (value,) if isinstance(value, str) else value for name, value in columns.items()}


PRESETS: dict[str, CsvProfile] = {
    # ING Nederland "Kommagescheiden" export (new layout with ';').
    "ing-nl": CsvProfile(_cols(date="Datum", amount="Bedrag (EUR)", direction="Af Bij", payer_name="Naam / Omschrijving",
                               payer_iban="Tegenrekening", reference="Mededelingen"),
                         date_format="%Y%m%d", credit=("Bij",), currency="EUR"),
    # Rabobank CSV: comma-separated, signed amounts with a decimal comma ("+1,23"); *Munt* is the currency.
    "rabobank": CsvProfile(_cols(date="Datum", amount="Bedrag", currency="Munt", payer_name="Naam tegenpartij",
                                 payer_iban="Tegenrekening IBAN/BBAN",
                                 reference=("Omschrijving-1", "Omschrijving-2", "Omschrijving-3"), id="Volgnr"),
                           encoding="iso-8859-1", delimiter=",", date_format="%Y-%m-%d"),
    # Sparkasse "CSV-CAMT V2": ISO-8859-1, DD.MM.YY, signed amounts with a decimal comma.
    "sparkasse-camt": CsvProfile(_cols(date="Buchungstag", amount="Betrag", currency="Waehrung",
                                       payer_name="Beguenstigter/Zahlungspflichtiger", payer_iban="Kontonummer/IBAN",
                                       reference="Verwendungszweck"),
                                 encoding="iso-8859-1", date_format="%d.%m.%y"),
    # ING Deutschland: title rows above the header (found by its names), Soll/Haben by sign.
    "ing-de": CsvProfile(_cols(date="Buchung", amount="Betrag", currency="Währung", payer_name="Auftraggeber/Empfänger",
                               reference="Verwendungszweck"),
                         encoding="iso-8859-1"),
    # ABN AMRO "TAB": no header; account, currency, date, opening, closing, value date, amount, description.
    "abn-amro-tab": CsvProfile(_cols(currency="#2", date="#3", amount="#7", reference="#8"),
                               delimiter="\t", date_format="%Y%m%d"),
    # ASN Bank: no header; booking date, own account, counter account, name, …, currency, amount, …, description.
    "asn": CsvProfile(_cols(date="#1", payer_iban="#3", payer_name="#4", currency="#10", amount="#11",
                            reference="#18"),
                      encoding="iso-8859-1", delimiter=",", decimal=".", date_format="%d-%m-%Y"),
    # Knab: a title row, then the header; CreditDebet says C or D.
    "knab": CsvProfile(_cols(date="Transactiedatum", amount="Bedrag", currency="Valutacode", direction="CreditDebet",
                             payer_iban="Tegenrekeningnummer", payer_name="Tegenrekeninghouder",
                             reference="Omschrijving"),
                       date_format="%d-%m-%Y", credit=("C",)),
}


def profile_payments(label: str, data: bytes, name: str, profiles: Mapping[str, CsvProfile]) -> BankFile:
    """The credits of a bank CSV read with profile `name` (project profiles first, then presets)."""
    profile = profiles.get(name) or PRESETS.get(name)
    if profile is None:
        known = ", ".join(sorted({*profiles, *PRESETS}))
        raise InputProblems([Problem(label, 0, 0, f"unknown CSV profile '{name}'",
                                     f"use one of: {known}, or define it under payments.csv_profiles in dunflow.yaml",
                                     "payments/profile")])
    return _Reader(label, data, profile).read()


@dataclass
class _Reader:
    label: str
    data: bytes
    profile: CsvProfile
    found: BankFile = field(default_factory=BankFile)
    seen: Counter[str] = field(default_factory=Counter)

    def read(self) -> BankFile:
        try:
            text = self.data.decode(self.profile.encoding)
        except (UnicodeDecodeError, LookupError) as err:
            raise InputProblems([Problem(self.label, 0, 0, f"cannot decode the file as {self.profile.encoding}: {err}",
                                         "set `encoding` in the profile (ISO-8859-1 for most German banks)",
                                         "input/encoding")]) from None
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=self.profile.delimiter))
        if self.headerless:
            positions = {name: [int(column[1:]) - 1 for column in columns]
                         for name, columns in self.profile.columns.items()}
            first = self.profile.skip_rows
        else:
            header_at = self.header_at(rows)
            positions = self.positions([cell.strip() for cell in rows[header_at]], header_at + 1)
            first = header_at + 1
        for offset, cells in enumerate(rows[first:], start=first + 1):
            if any(cell.strip() for cell in cells):
                self.row(offset, cells, positions)
        return self.found

    @property
    def headerless(self) -> bool:
        """Columns given as `#3` (1-based positions) mean the export has no header (ABN AMRO TAB, ASN)."""
        return all(re.fullmatch(r"#[1-9][0-9]*", c) for columns in self.profile.columns.values() for c in columns)

    def header_at(self, rows: list[list[str]]) -> int:
        """The header's index: the first row from `skip_rows` on naming the date and amount columns.

        Banks put a varying number of title rows (account, period, balance) above the header.
        """
        wanted = {*self.profile.columns.get("date", ()), *self.profile.columns.get("amount", ())}
        for index in range(self.profile.skip_rows, min(len(rows), self.profile.skip_rows + MAX_TITLE_ROWS)):
            if wanted <= {cell.strip() for cell in rows[index]}:
                return index
        if len(rows) <= self.profile.skip_rows:
            raise InputProblems([Problem(self.label, self.profile.skip_rows + 1, 0, "no header line", "",
                                         "input/header")])
        return self.profile.skip_rows  # `positions` names the missing columns

    def positions(self, header: list[str], line: int) -> dict[str, list[int]]:
        """Field → column indexes; a required column the file lacks is one located problem."""
        positions: dict[str, list[int]] = {}
        missing = []
        for name, columns in self.profile.columns.items():
            indexes = [header.index(column) for column in columns if column in header]
            if len(indexes) < len(columns):
                missing += [column for column in columns if column not in header]
            positions[name] = indexes
        if missing or "date" not in positions or "amount" not in positions:
            message = f"missing column(s) {', '.join(repr(m) for m in missing) or 'date/amount'} for this profile"
            raise InputProblems([Problem(self.label, line, 0, message,
                                         "the export's header differs from the profile; adjust `columns`",
                                         "input/missing-column")])
        return positions

    def cell(self, cells: list[str], positions: dict[str, list[int]], name: str) -> str:
        values = [cells[i].strip() for i in positions.get(name, []) if i < len(cells)]
        return " ".join(value for value in values if value)

    def row(self, line: int, cells: list[str], positions: dict[str, list[int]]) -> None:
        get = lambda name: self.cell(cells, positions, name)  # noqa: E731
        try:
            booked_on = datetime.strptime(get("date"), self.profile.date_format).date()
            currency = to_currency(get("currency") or self.profile.currency)
            amount = self.amount(get("amount"), currency)
        except (ValueError, BadValue) as err:
            message = getattr(err, "message", str(err))
            self.found.problems.append(Problem(self.label, line, 0, message, "check the profile's formats", "input/value"))
            return
        credit = get("direction") in self.profile.credit if self.profile.credit else amount > 0
        if not credit:
            self.found.skipped["debit"] += 1
        elif amount == 0:
            self.found.skipped["zero"] += 1
        else:
            self.record(line, booked_on, abs(amount), currency, get)

    def amount(self, text: str, currency: str) -> Decimal:
        """'1.234,56' / '+1,23' / '-12.50' per the profile's decimal mark, exactly."""
        compact = text.replace(" ", "").replace("\u00a0", "")
        if self.profile.decimal == ",":
            compact = compact.replace(".", "").replace(",", ".")
        else:
            compact = compact.replace(",", "")
        try:
            return require_precision(check_size(Decimal(compact), text), currency)
        except InvalidOperation:
            raise BadValue(f"'{text}' is not an amount") from None

    def record(self, line: int, booked_on: date, amount: Decimal, currency: str, get: Any) -> None:
        values = (booked_on.isoformat(), str(amount), currency, get("reference"), get("payer_name"), get("payer_iban"))
        digest = hashlib.sha256("\x1f".join(values).encode()).hexdigest()[:24]
        self.seen[digest] += 1
        key = get("id") or f"csv:{digest}:{self.seen[digest]}"
        details = dutch_details(get("reference")) or Details(get("reference"))  # ABN AMRO writes the SEPA fields
        self.found.records.append(PaymentRecord(
            key, booked_on, amount, currency, details.remittance, get("payer_name") or details.payer_name,
            compact_iban(get("payer_iban")) or details.payer_iban, f"{Path(self.label).name}:{line}",
            details.end_to_end_id))
