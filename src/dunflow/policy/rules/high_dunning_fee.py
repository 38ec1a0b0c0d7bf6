"""Dunning fees reflect actual costs (courts accept about 1–3 EUR a letter), not a penalty.

FAIL (warning): a fixed fee above 5.00, or a fee as a percentage of the principal. PASS: `fee: "2.50"`."""
from __future__ import annotations

from decimal import Decimal
from typing import Iterable

from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile

ID = "high-dunning-fee"
LEVEL = "warning"
EXPLANATION = "a dunning fee above a few euro (or a percentage) is hard to defend as actual costs"
SOURCE = "§280, §286 BGB (damages: actual costs only); art. 6:96 BW; German case law: about 1–3 EUR per letter"
LIMIT = Decimal("5.00")


def check(pf: PolicyFile) -> Iterable[Problem]:
    for step in pf.policy.all_steps:
        fee = step.fee
        if fee is None:
            continue
        path = pf.step_path(step.id) + ("fee",)
        if fee.percent is not None:
            yield pf.document.problem(path, f"fee on '{step.id}' is {fee.percent} % of the principal, not the "
                                      "actual cost of the letter", "use a fixed amount of a few euro", ID,
                                      level=LEVEL)
        elif any(amount > LIMIT for _, amount in fee.by_currency):
            high = max(amount for _, amount in fee.by_currency)
            yield pf.document.problem(path, f"fee on '{step.id}' is {high}, more than {LIMIT}",
                                      "charge the actual cost of the letter (a few euro)", ID, level=LEVEL)
