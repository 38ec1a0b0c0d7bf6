"""The fixed 40 EUR compensation is for commercial transactions only, never for consumers.

FAIL: a policy for consumers only with `charges.compensation` or `charge: [compensation]`.
PASS: the same in a business policy (a policy for both types charges it to businesses only)."""
from __future__ import annotations

from typing import Iterable

from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile
from dunflow.policy.rules.legal import only_consumers

ID = "consumer-compensation"
LEVEL = "error"
EXPLANATION = "the fixed 40 EUR compensation per late invoice may not be charged to consumers"
SOURCE = "§288 Abs. 5 BGB, art. 6:96 lid 4 BW, Directive 2011/7/EU art. 6"


def check(pf: PolicyFile) -> Iterable[Problem]:
    policy = pf.policy
    if not only_consumers(policy):
        return
    if policy.charges.compensation_law is not None:
        yield pf.document.problem(("charges", "compensation"), "the fixed compensation in a consumer policy",
                                  "remove it: consumers owe no fixed compensation", ID, key=True)
    for step in policy.all_steps:
        if "compensation" in step.charges:
            yield pf.document.problem(pf.step_path(step.id) + ("charge",),
                                      f"step '{step.id}' charges the fixed compensation to consumers",
                                      "remove compensation from `charge:`", ID)
