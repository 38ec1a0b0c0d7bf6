"""The commercial interest rate of Directive 2011/7/EU (ECB rate + 8 pp) is not for consumers.

FAIL: `charges.interest: {law: EU}` in a policy that covers consumers.
PASS: `law: DE` or `law: NL`, whose rate follows the debtor type (consumers get the non-commercial rate)."""
from __future__ import annotations

from typing import Iterable

from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile
from dunflow.policy.rules.legal import covers_consumers

ID = "consumer-commercial-interest"
LEVEL = "error"
EXPLANATION = "the commercial interest rate (Directive 2011/7/EU: ECB rate + 8 pp) may not be applied to consumers"
SOURCE = "Directive 2011/7/EU art. 1(2), art. 2(1); §288 Abs. 1 BGB; art. 6:119 BW"


def check(pf: PolicyFile) -> Iterable[Problem]:
    interest = pf.policy.charges.interest
    if interest is not None and interest.law == "EU" and covers_consumers(pf.policy):
        yield pf.document.problem(("charges", "interest", "law"),
                                  "EU commercial interest in a policy that covers consumers",
                                  "use law: DE or law: NL (the rate then follows the debtor type), or limit the "
                                  "policy to customer_type: business", ID)
