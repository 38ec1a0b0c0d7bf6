"""The legal lint: rules per country and debtor type, each its own module with ID, LEVEL, EXPLANATION, SOURCE and
`check`. A policy may acknowledge a rule it breaks on purpose (`acknowledge: [{rule, reason}]`): the rule's
problems are then reported as "acknowledged" with the reason, and never stop anything.

Which debtors a policy covers comes from `applies_to.match` (customer_type, country): an empty match covers all,
so a consumer policy without a country must satisfy both the Dutch and the German rules."""
from __future__ import annotations

from dataclasses import dataclass, replace
from types import ModuleType
from typing import Iterable

from dunflow.domain.policy import Policy, Step
from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile

UNKNOWN_RULE = "acknowledge-unknown-rule"
UNUSED = "acknowledge-unused"


@dataclass(frozen=True)
class LegalRule:
    id: str
    level: str
    explanation: str
    source: str


def rule_modules() -> tuple[ModuleType, ...]:
    from dunflow.policy.rules import (
        charge_not_configured,
        collection_costs_scale,
        consumer_commercial_interest,
        consumer_compensation,
        consumer_final_notice,
        de_charges_before_default,
        de_fee_on_default_notice,
        high_dunning_fee,
        nl_fourteen_day_letter,
        nl_fourteen_day_term,
    )

    return (nl_fourteen_day_letter, nl_fourteen_day_term, de_charges_before_default, de_fee_on_default_notice,
            consumer_compensation, consumer_commercial_interest, consumer_final_notice, high_dunning_fee,
            collection_costs_scale, charge_not_configured)


def legal_rules() -> tuple[LegalRule, ...]:
    """Every legal rule, for `dunflow rules` and the README."""
    return tuple(LegalRule(m.ID, m.LEVEL, m.EXPLANATION, m.SOURCE) for m in rule_modules())


def check(pf: PolicyFile) -> Iterable[Problem]:
    """Every legal rule over one policy, with its acknowledgements applied."""
    problems = [p for module in rule_modules() for p in module.check(pf)]
    return _acknowledged(pf, problems)


def _acknowledged(pf: PolicyFile, problems: list[Problem]) -> list[Problem]:
    known = {rule.id for rule in legal_rules()}
    reasons = {a.rule: a.reason for a in pf.policy.acknowledged}
    out = [replace(p, level="acknowledged", message=f"{p.message} (acknowledged: {reasons[p.rule]})", hint="")
           if p.rule in reasons else p for p in problems]
    fired = {p.rule for p in problems}
    for index, ack in enumerate(pf.policy.acknowledged):
        path = ("acknowledge", index, "rule")
        if ack.rule not in known:
            out.append(pf.document.problem(path, f"unknown rule '{ack.rule}' acknowledged",
                                           "`dunflow rules` lists the rule ids", UNKNOWN_RULE))
        elif ack.rule not in fired:
            out.append(pf.document.problem(path, f"rule '{ack.rule}' is acknowledged but the policy does not break "
                                           "it", "remove the acknowledgement", UNUSED, level="warning"))
    return out


def covers_consumers(policy: Policy) -> bool:
    types = policy.segment.customer_types
    return not types or "consumer" in types


def only_consumers(policy: Policy) -> bool:
    return policy.segment.customer_types == frozenset({"consumer"})


def covers_country(policy: Policy, country: str) -> bool:
    countries = policy.segment.countries
    return not countries or country in countries


def planned_offsets(policy: Policy) -> dict[str, int | None]:
    """Each step's planned day relative to the due date (None when it cannot be known, e.g. from the issue
    date): previous-step delays add up, months count as at least 28 days. A lower bound, for lint only."""
    offsets: dict[str, int | None] = {}
    previous: int | None = 0
    for step in policy.all_steps:
        delay = step.after
        extra = delay.days + 28 * delay.months
        if delay.anchor == "previous_step":
            offset = None if previous is None else previous + extra
        elif delay.anchor in ("due_date", "end_of_month"):
            offset = extra
        else:
            offset = None
        offsets[step.id] = offset
        previous = offset
    return offsets


def default_notice(policy: Policy) -> Step | None:
    """The step marked `legal: default_notice`, if any."""
    return next((s for s in policy.all_steps if s.legal == "default_notice"), None)


def charges_something(step: Step) -> bool:
    return step.fee is not None or bool(step.charges)
