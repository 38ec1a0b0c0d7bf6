"""The runner gets its pause timers from bootstrap, explicitly: forgetting them is refused, not silent."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from dunflow.bootstrap import Workspace
from dunflow.domain.calendar import weekdays_only
from dunflow.domain.policy import HELD
from dunflow.engine.advance import CaseFacts, UnwiredTimer, decide
from dunflow.engine.pauses import fires
from dunflow.engine.run import run_due
from dunflow.events.timers import pause_timers
from dunflow.policy.compile import compile_policy
from dunflow.policy.validate import load_policies
from dunflow.rendering.templates import TemplateStore
from dunflow.resources import resource_path

POLICY = load_policies(resource_path("policies"), TemplateStore(resource_path("templates"))).policies[0]
HELD_CASE = CaseFacts(1, 1, 1, 1, HELD, "reminder", date(2026, 11, 9), 3, "INV-1", "EUR", Decimal("100.00"),
                      Decimal("100.00"), date(2026, 10, 1), date(2026, 11, 2))


def test_a_held_case_decided_without_timers_is_refused() -> None:
    with pytest.raises(UnwiredTimer, match="held"):
        decide(compile_policy(POLICY), weekdays_only, HELD_CASE, date(2026, 12, 1), None)


def test_a_held_case_whose_hold_ended_resumes_with_the_bootstrap_timers() -> None:
    outcome = decide(compile_policy(POLICY), weekdays_only, HELD_CASE, date(2026, 12, 1), None,
                     fires(pause_timers()))
    assert outcome is not None and outcome.state not in (HELD, "new")
    assert outcome.records[0].rule == "hold ended: dunning resumes"


def test_a_runner_without_pause_timers_refuses_before_reading_any_case(project_dir: Path, database_url: str) -> None:
    ws = Workspace.open(project_dir, database_url)
    timers = dict(ws.timers)
    del timers[HELD]
    with pytest.raises(UnwiredTimer, match="held"):
        run_due(ws.store, ws.templates, ws.project.creditor, date(2026, 12, 1), timers)
    ws.engine.dispose()
