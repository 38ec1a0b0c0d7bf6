"""DE consumers: no default interest, fee or costs before the debtor is in default (§286 BGB).

A consumer is in default by a Mahnung after the due date — the step marked `legal: default_notice` — or 30 days
after due date and receipt of the invoice only when the invoice pointed this out (then acknowledge this rule).
FAIL: `interest_from: due_date`; `interest_from: first_notice` when the first notice after the due date is not the
default notice; a fee or charge on a step before the default notice, or with no default notice at all.
PASS: `legal: default_notice` on the first Mahnung, fees and charges from the next step on; Dutch WIK collection
costs (`collection_costs: {law: NL}`) alone, which a consumer owes only after a Dutch 14-day letter — a letter
that has no legal effect for a German debtor, so they are never booked for one (the engine skips them)."""
from __future__ import annotations

from typing import Iterable

from dunflow.domain.policy import Step
from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile
from dunflow.policy.rules.legal import charges_something, covers_consumers, covers_country, default_notice

ID = "de-charges-before-default"
LEVEL = "error"
EXPLANATION = ("German consumers owe default interest, fees and costs only once in default: after a Mahnung "
               "(legal: default_notice), or 30 days after the due date if the invoice said so")
SOURCE = "§286 Abs. 1 and 3 BGB, §288 BGB"
HINT = ("mark the Mahnung with `legal: default_notice` and charge from a later step; if your invoices point out "
        "default after 30 days (§286 Abs. 3 BGB), acknowledge this rule")


def check(pf: PolicyFile) -> Iterable[Problem]:
    policy = pf.policy
    if not (covers_consumers(policy) and covers_country(policy, "DE")):
        return
    yield from _interest_start(pf)
    marked = default_notice(policy)
    for step in policy.all_steps:
        if step is marked:
            return
        if _charges_german_consumers(pf, step):
            key = "fee" if step.fee is not None else "charge"
            where = "before the default notice" if marked else "with no step marked `legal: default_notice`"
            yield pf.document.problem(pf.step_path(step.id) + (key,),
                                      f"step '{step.id}' charges German consumers {where}", HINT, ID)


def _charges_german_consumers(pf: PolicyFile, step: Step) -> bool:
    if not charges_something(step):
        return False
    dutch_costs_only = (step.fee is None and set(step.charges) == {"collection_costs"}
                        and pf.policy.charges.collection_costs_law == "NL")
    return not dutch_costs_only


def _interest_start(pf: PolicyFile) -> Iterable[Problem]:
    charges = pf.policy.charges
    if charges.interest is None:
        return
    path = ("charges", "interest_from")
    if charges.interest_from == "due_date":
        yield pf.document.problem(path, "interest from the due date: a German consumer is not in default yet",
                                  HINT, ID)
    elif charges.interest_from == "first_notice":
        first = next((s for s in pf.policy.all_steps if not s.is_courtesy), None)
        if first is not None and first.legal != "default_notice":
            yield pf.document.problem(path, f"interest from the first notice '{first.id}', which is not marked "
                                      "`legal: default_notice`", HINT, ID)
