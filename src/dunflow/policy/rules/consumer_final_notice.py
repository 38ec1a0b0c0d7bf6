"""A consumer is told before the claim goes to a collection agency or to court.

FAIL: a policy covering consumers whose escalation `to: collection_agency` (or `legal`) has no earlier step marked
`legal: final_notice`. PASS: the last notice marked `legal: final_notice`."""
from __future__ import annotations

from typing import Iterable

from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile
from dunflow.policy.rules.legal import covers_consumers

ID = "consumer-final-notice"
LEVEL = "error"
EXPLANATION = ("a consumer's claim is handed to a collection agency or to court only after a final notice that "
               "announces it")
SOURCE = ("duty to limit the damage (§254 Abs. 2 BGB, art. 6:101 BW): agency costs the debtor was not warned of "
          "may be refused; collection codes of conduct")


def check(pf: PolicyFile) -> Iterable[Problem]:
    policy = pf.policy
    escalation = policy.escalation
    if escalation is None or escalation.to not in ("collection_agency", "legal") or not covers_consumers(policy):
        return
    if not any(step.legal == "final_notice" for step in policy.steps):
        yield pf.document.problem(("escalation", "to"), f"hand-over to {escalation.to} without a final notice",
                                  "mark the last notice before it with `legal: final_notice` (it announces the "
                                  "hand-over)", ID)
