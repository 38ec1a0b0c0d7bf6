"""Timing of the newer policy constructs: issue-date anchors, delays in months, repeating steps."""
from __future__ import annotations

from datetime import date

from dunflow.domain.calendar import weekdays_only
from dunflow.domain.policy import Delay, Escalation, Policy, Repeat, Step
from dunflow.domain.schedule import due_step, explain, next_planned, planned_date

ISSUED, DUE = date(2026, 10, 1), date(2026, 10, 31)


def every_day(day: date) -> bool:
    return True


def policy(*steps: Step) -> Policy:
    return Policy("t", steps, Escalation("handover", Delay(days=90), ("letter",), "b2b/handover"))


def test_a_step_from_the_issue_date_counts_from_the_invoice_date() -> None:
    p = policy(Step("reminder", Delay(days=30, anchor="issue_date"), ("email",), "b2b/reminder"))
    assert planned_date(p, 0, DUE, None, every_day, issue_date=ISSUED) == date(2026, 10, 31)
    assert "30 days after the issue date 2026-10-01 = 2026-10-31" in explain(
        p, p.steps[0], DUE, None, date(2026, 10, 31), issue_date=ISSUED)


def test_a_delay_in_months_keeps_the_day_and_is_clamped_to_the_month_end() -> None:
    p = policy(Step("notice", Delay(months=1), ("email",), "b2b/notice"))
    assert planned_date(p, 0, date(2027, 1, 31), None, every_day) == date(2027, 2, 28)
    assert planned_date(p, 0, date(2028, 1, 31), None, every_day) == date(2028, 2, 29)
    assert planned_date(p, 0, date(2026, 11, 15), None, every_day) == date(2026, 12, 15)


def test_months_and_days_add_up_months_first() -> None:
    p = policy(Step("notice", Delay(days=3, months=1), ("email",), "b2b/notice"))
    assert planned_date(p, 0, date(2027, 1, 31), None, every_day) == date(2027, 3, 3)
    assert "1 month + 3 days after the due date" in explain(p, p.steps[0], date(2027, 1, 31), None, date(2027, 3, 3))


def test_a_month_delay_that_lands_on_a_weekend_moves_to_monday() -> None:
    p = policy(Step("notice", Delay(months=2), ("email",), "b2b/notice"))
    assert planned_date(p, 0, date(2026, 12, 31), None, weekdays_only) == date(2027, 3, 1)  # Feb 28 2027 is a Sunday


REPEATING = policy(
    Step("reminder", Delay(days=7), ("email",), "b2b/reminder", repeat=Repeat(Delay(days=14), 3)),
    Step("notice", Delay(days=60), ("email",), "b2b/notice"),
)


def test_a_repeating_step_goes_out_again_every_interval() -> None:
    due = due_step(REPEATING, 0, DUE, date(2026, 11, 7), date(2026, 11, 21), every_day, repeats=0)
    assert due is not None and (due.step.id, due.repeat, due.planned_on) == ("reminder", 1, date(2026, 11, 21))
    assert due_step(REPEATING, 0, DUE, date(2026, 11, 7), date(2026, 11, 20), every_day) is None


def test_a_repeating_step_stops_after_its_times() -> None:
    assert due_step(REPEATING, 0, DUE, date(2026, 11, 21), date(2026, 12, 5), every_day, repeats=1) is not None
    assert due_step(REPEATING, 0, DUE, date(2026, 12, 5), date(2026, 12, 19), every_day, repeats=2) is None
    assert next_planned(REPEATING, 0, DUE, date(2026, 12, 5), date(2026, 12, 5), every_day,
                        repeats=2) == date(2026, 12, 30)  # only the next step is left


def test_the_next_step_wins_over_a_repetition_due_the_same_day() -> None:
    due = due_step(REPEATING, 0, DUE, date(2026, 12, 16), date(2026, 12, 30), every_day, repeats=1)
    assert due is not None and (due.step.id, due.repeat) == ("notice", 0)


def test_the_next_look_is_the_earlier_of_repetition_and_next_step() -> None:
    assert next_planned(REPEATING, 0, DUE, date(2026, 11, 7), date(2026, 11, 7), every_day) == date(2026, 11, 21)
