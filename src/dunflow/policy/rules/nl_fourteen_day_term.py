"""The 14-day letter must give 14 days after receipt: its pay-by date counts the assumed delivery days too.

FAIL: `legal: fourteen_day_letter` with `pay_within_days` below `charges.delivery_days` (default 2) + 14.
PASS: pay_within_days: 16 with the default two delivery days."""
from __future__ import annotations

from typing import Iterable

from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile

ID = "nl-fourteen-day-term"
LEVEL = "error"
EXPLANATION = ("a 14-day letter names a pay-by date at least 14 days after the day the debtor receives it "
               "(delivery days + 14)")
SOURCE = "art. 6:96 lid 6 BW; Hoge Raad 2019 ruling on the 14-day letter (the term runs from the day after receipt)"


def check(pf: PolicyFile) -> Iterable[Problem]:
    needed = pf.policy.charges.delivery_days + 14
    for step in pf.policy.all_steps:
        if step.legal == "fourteen_day_letter" and step.pay_within_days < needed:
            path = pf.step_path(step.id)
            written = path + ("pay_within_days",) in pf.document.key_marks
            yield pf.document.problem(
                path + (("pay_within_days",) if written else ("legal",)),
                f"the 14-day letter '{step.id}' gives {step.pay_within_days} days; it must give at least {needed} "
                f"({needed - 14} delivery days + 14 days after receipt)", f"set pay_within_days: {needed}", ID)
