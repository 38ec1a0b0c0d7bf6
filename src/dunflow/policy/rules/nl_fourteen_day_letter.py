"""NL consumers: collection costs only after the 14-day letter's term has passed unpaid.

FAIL: `charge: [collection_costs]` on a step with no earlier `legal: fourteen_day_letter` step, or planned sooner
than delivery days + 14 days after it (the term runs 14 days from the day after receipt; costs from the next day).
PASS: a 14-day letter, then the costs at least delivery_days + 15 days later."""
from __future__ import annotations

from typing import Iterable

from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile
from dunflow.policy.rules.legal import covers_consumers, covers_country, planned_offsets

ID = "nl-fourteen-day-letter"
LEVEL = "error"
EXPLANATION = ("Dutch consumers owe collection costs only after a 14-day letter whose term (14 days from the day "
               "after receipt) has passed unpaid")
SOURCE = "art. 6:96 lid 6 BW"


def check(pf: PolicyFile) -> Iterable[Problem]:
    policy = pf.policy
    dutch = policy.charges.collection_costs_law == "NL" or covers_country(policy, "NL")
    if not (covers_consumers(policy) and dutch):
        return
    offsets = planned_offsets(policy)
    earliest = policy.charges.delivery_days + 15
    letter = None
    for step in policy.all_steps:
        if "collection_costs" in step.charges:
            yield from _too_soon(pf, step.id, letter, offsets, earliest)
        if step.legal == "fourteen_day_letter":
            letter = step.id


def _too_soon(pf: PolicyFile, step_id: str, letter: str | None, offsets: dict[str, int | None],
              earliest: int) -> Iterable[Problem]:
    path = pf.step_path(step_id) + ("charge",)
    if letter is None:
        yield pf.document.problem(path, f"step '{step_id}' charges collection costs to Dutch consumers without an "
                                  "earlier 14-day letter", "add a step with `legal: fourteen_day_letter` before it "
                                  "(it names the costs and gives 14 days after receipt)", ID)
        return
    sent, charged = offsets[letter], offsets[step_id]
    if sent is not None and charged is not None and charged - sent < earliest:
        yield pf.document.problem(
            path, f"step '{step_id}' charges collection costs {charged - sent} days after the 14-day letter "
            f"'{letter}'; its term has passed only after {earliest} days ({earliest - 15} delivery days + 14 + 1)",
            f"plan it at least {earliest} days after '{letter}' (e.g. after: {{days: {earliest}, from: previous_step}})",
            ID)
