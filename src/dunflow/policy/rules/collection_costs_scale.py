"""Only Dutch law has a statutory scale for extrajudicial collection costs (WIK); dunflow computes no other.

FAIL: `charges.collection_costs: {law: DE}` or `{law: EU}`. PASS: `{law: NL}`."""
from __future__ import annotations

from typing import Iterable

from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile

ID = "collection-costs-scale"
LEVEL = "error"
EXPLANATION = "collection costs by statutory scale exist only under Dutch law (WIK); elsewhere they are damages"
SOURCE = "art. 6:96 BW and Besluit vergoeding voor buitengerechtelijke incassokosten; §288 Abs. 4 BGB"


def check(pf: PolicyFile) -> Iterable[Problem]:
    law = pf.policy.charges.collection_costs_law
    if law is not None and law != "NL":
        yield pf.document.problem(("charges", "collection_costs", "law"),
                                  f"law {law} has no statutory collection-cost scale",
                                  "use law: NL, or charge a fixed fee on a step", ID)
