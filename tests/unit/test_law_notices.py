"""The Dutch 14-day letter: its term from the day after receipt, and only for debtors in the Netherlands."""
from __future__ import annotations

from datetime import date

from dunflow.domain.law import fourteen_day_term, has_legal_effect


def test_the_term_runs_fourteen_days_from_the_day_after_receipt() -> None:
    """DOMAIN.md: posted Tuesday 2026-03-03, received Thursday 2026-03-05, term 2026-03-06..2026-03-19."""
    term = fourteen_day_term(date(2026, 3, 3), delivery_days=2)
    assert (term.received, term.last_day, term.costs_from) == (date(2026, 3, 5), date(2026, 3, 19), date(2026, 3, 20))


def test_an_email_is_received_the_day_it_is_sent() -> None:
    assert fourteen_day_term(date(2026, 3, 3), delivery_days=0).costs_from == date(2026, 3, 18)


def test_the_fourteen_day_letter_is_one_only_in_the_netherlands() -> None:
    assert has_legal_effect("fourteen_day_letter", "NL") and has_legal_effect("fourteen_day_letter", "nl")
    assert not has_legal_effect("fourteen_day_letter", "BE")
    assert has_legal_effect("final_notice", "BE") and not has_legal_effect(None, "NL")
