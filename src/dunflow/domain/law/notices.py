"""What a notice marked `legal:` means in which country, and when the Dutch 14-day term ends.

A step's `legal: fourteen_day_letter` is the veertiendagenbrief of art. 6:96 lid 6 BW only for debtors in the
Netherlands: a Belgian consumer gets the same step as an ordinary written notice (its template chosen by country),
and it opens no right to Dutch collection costs. `default_notice` and `final_notice` mean the same everywhere."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

NOTICE_COUNTRIES: dict[str, frozenset[str]] = {"fourteen_day_letter": frozenset({"NL"})}
TERM_DAYS = 14


def has_legal_effect(legal: str | None, country: str) -> bool:
    """Whether a notice marked `legal` counts as such for a debtor in `country` (ISO 3166 alpha-2)."""
    if legal is None:
        return False
    countries = NOTICE_COUNTRIES.get(legal)
    return countries is None or country.upper() in countries


@dataclass(frozen=True)
class FourteenDayTerm:
    received: date
    last_day: date
    costs_from: date


def fourteen_day_term(sent: date, delivery_days: int) -> FourteenDayTerm:
    """The letter is presumed received `delivery_days` after sending (0 for e-mail); the term runs 14 days from
    the day after receipt; costs may be charged from the day after its last day. DOMAIN.md's example: posted
    2026-03-03 with 2 delivery days → received 2026-03-05, term up to 2026-03-19, costs from 2026-03-20."""
    received = sent + timedelta(days=delivery_days)
    last_day = received + timedelta(days=TERM_DAYS)
    return FourteenDayTerm(received, last_day, last_day + timedelta(days=1))
