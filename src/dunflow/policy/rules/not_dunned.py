"""`dunning: off` says a segment is deliberately not dunned: then the policy must not also list what to send."""
from __future__ import annotations

from typing import Iterable

from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile

ID = "not-dunned"


def check(pf: PolicyFile) -> Iterable[Problem]:
    if pf.document.data.get("dunning", True):
        return
    for key in ("steps", "escalation"):
        if key in pf.document.data:
            yield pf.document.problem(
                (key,), f"dunning is off for this policy, yet it has `{key}`: nothing of it would ever be sent",
                f"remove `{key}` to leave this segment undunned on purpose, or remove `dunning: off`", ID, key=True)
