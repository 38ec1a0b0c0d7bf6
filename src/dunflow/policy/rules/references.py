"""Names a policy refers to (event target steps, fallback channels) must make sense."""
from __future__ import annotations

import difflib
from typing import Iterable

from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile

ID = "unknown-step"


def check(pf: PolicyFile) -> Iterable[Problem]:
    yield from _target(pf, ("events", "promise", "on_broken"), pf.policy.events.promise.on_broken)
    yield from _target(pf, ("events", "arrangement", "on_default"), pf.policy.events.arrangement.on_default)
    for removed, target in pf.policy.migrate.step_map:
        yield from _target(pf, ("migrate", "map", removed), target)
        if removed in {step.id for step in pf.policy.all_steps}:
            yield pf.document.problem(("migrate", "map", removed), f"step '{removed}' still exists: its in-flight "
                                      "invoices stay in it and this map entry is never used",
                                      "map only steps this version removes", "unused-map", key=True, level="warning")
    for index, step in enumerate(pf.policy.all_steps):
        if step.fallback and step.fallback in step.channels:
            path = (*pf.step_path(step.id), "fallback")
            yield pf.document.problem(path, f"step '{step.id}' falls back to '{step.fallback}', one of its own channels",
                                      "pick a channel the step does not already use (e.g. letter)", "fallback-loop")


def _target(pf: PolicyFile, path: tuple[str, ...], step_id: str | None) -> Iterable[Problem]:
    ids = [s.id for s in pf.policy.steps]
    if step_id is None or step_id in ids:
        return
    close = difflib.get_close_matches(step_id, ids, n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"steps of this policy: {', '.join(ids)}"
    yield pf.document.problem(path, f"there is no step '{step_id}' in this policy", hint, ID)
