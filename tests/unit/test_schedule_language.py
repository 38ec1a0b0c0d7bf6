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


# --- weekends and holidays per channel; the business-day shift does not drift the schedule ---------------

def test_an_email_step_goes_out_on_a_saturday_when_the_policy_allows_email_any_day() -> None:
    from dataclasses import replace

    from dunflow.policy.versions import business_days

    germany = business_days("DE")
    base = policy(Step("reminder", Delay(days=7), ("email",), "b2b/reminder"),
                  Step("notice", Delay(days=14), ("email",), "b2b/notice", fallback="letter"))
    anyday = replace(base, settings=replace(base.settings, send_any_day=frozenset({"email", "sms"})))
    due = date(2026, 10, 24)  # + 7 days = Saturday 10-31
    assert planned_date(base, 0, due, None, germany) == date(2026, 11, 2)
    assert planned_date(anyday, 0, due, None, germany) == date(2026, 10, 31)
    assert planned_date(anyday, 1, due, None, germany) == date(2026, 11, 9)  # its letter fallback waits for Monday


def _ascension_policy(anchor: str) -> Policy:
    return policy(Step("reminder", Delay(days=10), ("email",), "b2b/reminder",
                       repeat=Repeat(Delay(days=7), 3)),
                  Step("notice", Delay(days=14 if anchor == "previous_step" else 40, anchor=anchor),  # type: ignore[arg-type]
                       ("email",), "b2b/notice"))


ASCENSION_DUE = date(2026, 5, 4)  # + 10 days = Thursday 2026-05-14, Ascension Day: moved to Friday 05-15


def test_a_step_after_a_holiday_shift_counts_from_the_day_it_was_planned_for() -> None:
    from dunflow.policy.versions import business_days

    p, germany = _ascension_policy("previous_step"), business_days("DE")
    assert planned_date(p, 0, ASCENSION_DUE, None, germany) == date(2026, 5, 15)
    assert planned_date(p, 1, ASCENSION_DUE, date(2026, 5, 15), germany) == date(2026, 5, 28)  # 05-14 + 14
    assert planned_date(p, 1, ASCENSION_DUE, date(2026, 5, 18), germany) == date(2026, 6, 1)  # sent late: from then
    assert "14 days after the previous step (2026-05-14)" in explain(
        p, p.steps[1], ASCENSION_DUE, date(2026, 5, 15), date(2026, 5, 28), is_business_day=germany)


def test_repetitions_keep_their_rhythm_after_a_holiday_shift() -> None:
    from dunflow.policy.versions import business_days

    p, germany = _ascension_policy("due_date"), business_days("DE")
    assert next_planned(p, 0, ASCENSION_DUE, date(2026, 5, 15), date(2026, 5, 15), germany) == date(2026, 5, 21)
    assert next_planned(p, 0, ASCENSION_DUE, date(2026, 5, 21), date(2026, 5, 21), germany,
                        repeats=1) == date(2026, 5, 28)
