"""What every bank file reader returns: the entries of one file, and what it left out and why.

A reader never drops money silently. Each entry of a statement ends up in exactly one place:
a `PaymentRecord` (incoming money; with a `problem` when a person must look at it), a
`ReturnRecord` (a debit that takes earlier incoming money back), a counter in `skipped`
(debits, pending or informational entries, reversals of our own debits, 0.00 credits), or a
located `Problem` when the file itself is broken.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from dunflow.errors import Problem

PLACEHOLDER_REFS = frozenset({"NONREF", "NOTPROVIDED", "NOT PROVIDED", "NOREF"})  # SEPA/MT940 "no reference"
SKIP_REASONS = ("debit", "pending", "informational", "reversal", "zero")


@dataclass(frozen=True)
class PaymentRecord:
    """One incoming payment as the bank reported it; `source` says where (`file:line`, `file:entry N`).

    `external_id` identifies the bank entry (never the payer's EndToEndId alone: payers reuse it);
    `problem`, when set, is why the entry must wait in `payments unmatched` for a person.
    """

    external_id: str
    booked_on: date
    amount: Decimal
    currency: str
    reference: str
    payer_name: str
    payer_iban: str
    source: str
    end_to_end_id: str = ""
    problem: str = ""


@dataclass(frozen=True)
class ReturnRecord:
    """A booked debit reversing an earlier credit (SEPA return, *Rücklastschrift*, *storno*).

    `original` is what names the returned payment: its EndToEndId, or the bank's reference of it.
    """

    external_id: str
    booked_on: date
    amount: Decimal
    currency: str
    original: str
    reason: str
    source: str


@dataclass
class BankFile:
    """Everything read from one file (or from every statement inside a ZIP)."""

    records: list[PaymentRecord] = field(default_factory=list)
    returns: list[ReturnRecord] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    accounts: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)

    def extend(self, other: BankFile) -> None:
        self.records += other.records
        self.returns += other.returns
        self.skipped.update(other.skipped)
        self.accounts |= other.accounts
        self.problems += other.problems


def real_ref(text: str) -> str:
    """`text` unless it is a bank's placeholder for "no reference"."""
    text = text.strip()
    return "" if text.upper() in PLACEHOLDER_REFS else text


def compact_iban(text: str) -> str:
    return re.sub(r"\s+", "", text).upper()


def position_key(account: str, statement: str, position: str, amount: Decimal, booked_on: date) -> str:
    """The key of an entry without a bank reference: where it stands in which statement, and what it says.

    Re-importing the same statement gives the same key; another statement (next month's, with the same
    EndToEndId) gives another one, so a second instalment is never taken for a re-import.
    """
    return f"{account or '-'}/{statement or '-'}/{position}/{amount}/{booked_on.isoformat()}"
