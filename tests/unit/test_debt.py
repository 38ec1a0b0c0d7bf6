"""The debt of an invoice: allocation across costs, interest and principal, reversal, rounding, interest start."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from dunflow.domain.debt import (
    Debt,
    Line,
    Share,
    accrued_interest,
    allocate,
    interest_start,
    reversal,
    rounded,
)
from dunflow.domain.law import MissingRate
from dunflow.domain.policy import Charges, InterestRule
from dunflow.law.rate_files import load_rate_table

D = Decimal
ON = date(2025, 7, 1)


def debt(open_principal: str = "1000.00", *lines: Line) -> Debt:
    return Debt("EUR", D("1000.00"), D(open_principal), tuple(lines))


def line(line_id: int, kind: str, amount: str, paid: str = "0", on: date = ON) -> Line:
    return Line(line_id, kind, "s", D(amount), D(paid), on)


def test_a_partial_payment_pays_costs_then_interest_then_principal() -> None:
    owed = debt("1000.00", line(1, "fee", "5.00"), line(2, "compensation", "40.00"), line(3, "interest", "7.50"))
    assert allocate(owed, D("50.00")) == (Share(1, "fee", D("5.00")), Share(2, "compensation", D("40.00")),
                                          Share(3, "interest", D("5.00")))
    assert allocate(owed, D("1000.00")) == (Share(1, "fee", D("5.00")), Share(2, "compensation", D("40.00")),
                                            Share(3, "interest", D("7.50")), Share(None, "principal", D("947.50")))


def test_a_payment_larger_than_the_debt_leaves_the_rest_unallocated() -> None:
    owed = debt("100.00", line(1, "fee", "5.00", paid="2.00"))
    shares = allocate(owed, D("200.00"))
    assert sum(s.amount for s in shares) == D("103.00") == owed.total_due


def test_the_policy_order_can_put_the_principal_first() -> None:
    owed = debt("100.00", line(1, "collection_costs", "40.00"), line(2, "interest", "3.00"))
    assert allocate(owed, D("120.00"), ("principal", "interest", "costs")) == (
        Share(None, "principal", D("100.00")), Share(2, "interest", D("3.00")), Share(1, "collection_costs", D("17.00")))


def test_the_oldest_cost_line_is_paid_first() -> None:
    owed = debt("10.00", line(7, "fee", "5.00", on=date(2025, 8, 1)), line(9, "fee", "5.00", on=date(2025, 7, 1)))
    assert allocate(owed, D("6.00")) == (Share(9, "fee", D("5.00")), Share(7, "fee", D("1.00")))


def test_accrued_interest_takes_no_money_until_it_is_booked() -> None:
    owed = debt("10.00", Line(None, "interest", "", D("1.00"), D(0), ON))
    assert allocate(owed, D("5.00")) == (Share(None, "principal", D("5.00")),)


def test_a_reversal_reopens_the_last_paid_share_first() -> None:
    shares = (Share(1, "fee", D("5.00")), Share(3, "interest", D("2.00")), Share(None, "principal", D("10.00")))
    assert reversal(shares) == (Share(None, "principal", D("-10.00")), Share(3, "interest", D("-2.00")),
                                Share(1, "fee", D("-5.00")))


@pytest.mark.parametrize(("amount", "currency", "expected"), [
    ("2.345", "EUR", "2.35"), ("2.344999", "EUR", "2.34"), ("0.005", "EUR", "0.01"), ("10.5", "JPY", "11"),
    ("1.0005", "KWD", "1.001"),
])
def test_a_line_is_rounded_half_up_to_the_minor_unit(amount: str, currency: str, expected: str) -> None:
    assert str(rounded(D(amount), currency)) == expected


def test_total_due_is_open_principal_plus_open_charges() -> None:
    owed = debt("600.00", line(1, "fee", "5.00", paid="5.00"), line(2, "interest", "3.33", paid="1.00"))
    assert (owed.principal_paid, owed.open_charges, owed.total_due) == (D("400.00"), D("2.33"), D("602.33"))


DUE = date(2025, 6, 14)


def test_interest_from_due_date_starts_the_day_after() -> None:
    assert interest_start(Charges(interest=InterestRule(law="DE"), interest_from="due_date"), DUE, None,
                          "business") == date(2025, 6, 15)


def test_german_default_starts_with_the_notice_or_thirty_days_for_a_business() -> None:
    charges = Charges(interest=InterestRule(law="DE"))
    assert interest_start(charges, DUE, None, "consumer") is None
    assert interest_start(charges, DUE, date(2025, 6, 20), "consumer") == date(2025, 6, 21)
    assert interest_start(charges, DUE, None, "business") == date(2025, 7, 15)
    assert interest_start(charges, DUE, date(2025, 8, 1), "business") == date(2025, 7, 15)


def test_german_interest_accrues_across_the_base_rate_change() -> None:
    """1000.00 due 2025-06-14, business, to 2025-07-14: 16 days at 11.27 % (2.27 + 9) and 14 days at 10.27 %
    (1.27 + 9): 4.940274 + 3.939178 = 8.879452 → 8.88."""
    charges = Charges(interest=InterestRule(law="DE"), interest_from="due_date")
    accrual = accrued_interest(charges, debt(), date(2025, 6, 15), None, date(2025, 7, 14), "business",
                               load_rate_table())
    assert accrual is not None and accrual.amount == D("8.88")
    assert [p["days"] for p in accrual.basis["periods"]] == [16, 14]


def test_interest_already_booked_is_not_accrued_again() -> None:
    charges = Charges(interest=InterestRule(rate=D("3.65")), interest_from="due_date")
    accrual = accrued_interest(charges, debt(), date(2025, 6, 15), date(2025, 7, 4), date(2025, 7, 14), "consumer",
                               load_rate_table())
    assert accrual is not None and (accrual.start, accrual.amount) == (date(2025, 7, 5), D("1.00"))  # 10 days


def test_a_day_without_a_known_rate_is_refused_not_guessed() -> None:
    charges = Charges(interest=InterestRule(law="DE"), interest_from="due_date")
    with pytest.raises(MissingRate):
        accrued_interest(charges, debt(), date(2026, 6, 1), None, date(2026, 7, 15), "business", load_rate_table())
