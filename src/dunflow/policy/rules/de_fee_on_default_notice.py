"""DE: no dunning fee for the notice that itself puts the debtor in default (the first Mahnung).

The default notice is the step marked `legal: default_notice`, else the first step after the due date.
FAIL: `fee:` on that step. PASS: the fee on a later notice."""
from __future__ import annotations

from typing import Iterable

from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile
from dunflow.policy.rules.legal import covers_country, default_notice

ID = "de-fee-on-default-notice"
LEVEL = "error"
EXPLANATION = ("the Mahnung that puts the debtor in default is not yet a damage caused by default: no dunning "
               "fee on it")
SOURCE = "§286 Abs. 1, §280 Abs. 2 BGB (fees are damages caused by default, owed only once in default)"


def check(pf: PolicyFile) -> Iterable[Problem]:
    policy = pf.policy
    if not covers_country(policy, "DE"):
        return
    step = default_notice(policy) or next((s for s in policy.all_steps if not s.is_courtesy), None)
    if step is not None and step.fee is not None:
        yield pf.document.problem(pf.step_path(step.id) + ("fee",),
                                  f"dunning fee on '{step.id}', the notice that puts the debtor in default",
                                  "move the fee to a later notice", ID)
