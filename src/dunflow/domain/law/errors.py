"""Refusals: the calculators never guess. A day without a known rate, a law or currency the calculation has no
rule for, or two rate periods that contradict each other stop the calculation; the CLI and the engine turn these
into located user errors."""
from __future__ import annotations

from datetime import date


class LawRefusal(Exception):
    """The calculation cannot be done lawfully with what is known; `hint` says what the user can do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class MissingRate(LawRefusal):
    """No rate period of `kind` covers `day`: refused rather than carried forward from an older period."""

    def __init__(self, kind: str, day: date) -> None:
        super().__init__(
            f"no {kind} rate known for {day.isoformat()}",
            "add the period to a rates file (rates/*.yaml next to dunflow.yaml) with its source",
        )
        self.kind = kind
        self.day = day


class UnsupportedLaw(LawRefusal):
    """The law (or currency, or debtor type) has no rule for this calculation."""


class OverlappingRates(LawRefusal):
    """Two periods of one kind cover the same day: which one holds is a question, not a choice for the code."""

    def __init__(self, kind: str, first: date, second: date) -> None:
        super().__init__(
            f"{kind} rate periods starting {first.isoformat()} and {second.isoformat()} overlap",
            "each day may have one rate per kind; end the older period the day before the newer one starts",
        )
        self.kind = kind
        self.first = first
        self.second = second
