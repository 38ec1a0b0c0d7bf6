"""A step's `charge:` books an amount the policy's `charges:` block defines; without it there is no amount.

FAIL: `charge: [collection_costs]` with no `charges.collection_costs`. PASS: both."""
from __future__ import annotations

from typing import Iterable

from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile

ID = "charge-not-configured"
LEVEL = "error"
EXPLANATION = "a step charges compensation or collection costs that `charges:` does not define (no law, no amount)"
SOURCE = "dunflow policy language (charges:)"


def check(pf: PolicyFile) -> Iterable[Problem]:
    charges = pf.policy.charges
    defined = {"compensation": charges.compensation_law, "collection_costs": charges.collection_costs_law}
    for step in pf.policy.all_steps:
        for charge in step.charges:
            if defined.get(charge) is None:
                yield pf.document.problem(pf.step_path(step.id) + ("charge",),
                                          f"step '{step.id}' charges {charge}, but `charges.{charge}` is not set",
                                          f"define `charges.{charge}` with its law (`dunflow rules` says which laws have one)", ID)
