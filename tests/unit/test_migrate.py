"""Where an in-flight case lands on a new version (`migrate: by_step`), on the shipped b2b-standard policy."""
from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any, Callable

from dunflow.domain.policy import Policy
from dunflow.policy.build import build_policy
from dunflow.policy.load import load_yaml
from dunflow.policy.migrate import CaseAt, land
from dunflow.policy.validate import check_policies
from dunflow.policy.versions import business_days
from dunflow.rendering.templates import TemplateStore
from dunflow.resources import resource_path

_LOADED, _ = load_yaml(resource_path("policies", "b2b-standard.yaml"), "b2b-standard.yaml")
assert _LOADED is not None
DOCUMENT = _LOADED
OLD = build_policy(DOCUMENT.data)
DE = business_days("DE")
DUE = date(2026, 10, 15)


def edited(change: Callable[[dict[str, Any]], None]) -> Policy:
    data = copy.deepcopy(DOCUMENT.data)
    data["migrate"] = {"strategy": "by_step"}
    change(data)
    return build_policy(data)


def step(data: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in data["steps"] if s["id"] == step_id)


def without(step_id: str, mapped_to: str | None = None) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["steps"] = [s for s in data["steps"] if s["id"] != step_id]
        if mapped_to:
            data["migrate"]["map"] = {step_id: mapped_to}
    return change


def case(state: str, received: set[str], last: date | None = date(2026, 12, 1), resume: str | None = None) -> CaseAt:
    return CaseAt(state, resume, last, date(2026, 12, 7), DUE, frozenset(received))


def test_a_case_stays_in_its_step_and_gets_the_new_delay() -> None:
    new = edited(lambda d: step(d, "final-notice")["after"].update(days=70))
    landing = land(OLD, new, case("first-notice", {"reminder", "first-notice"}), date(2026, 12, 2), DE)
    assert (landing.state, landing.next_action_at) == ("first-notice", date(2026, 12, 24))  # 2026-10-15 + 70


def test_a_removed_step_continues_with_the_step_the_policy_names() -> None:
    new = edited(without("reminder", mapped_to="first-notice"))
    landing = land(OLD, new, case("reminder", {"reminder"}, last=date(2026, 10, 22)), date(2026, 10, 25), DE)
    assert landing.state == "courtesy"  # reached: the step before first-notice, so first-notice is next
    assert landing.next_action_at == date(2026, 10, 30)  # first-notice due + 14 = 10-29, the reminder's pay-by date: the day after
    assert "migrate.map names first-notice" in landing.why[0]


def test_a_removed_step_without_a_map_continues_with_the_next_one_that_still_exists() -> None:
    new = edited(without("first-notice"))
    landing = land(OLD, new, case("first-notice", {"reminder", "first-notice"}), date(2026, 12, 2), DE)
    assert landing.state == "reminder"
    assert "the next step is final-notice" in landing.why[0]


def test_a_step_already_received_is_never_sent_again() -> None:
    new = edited(without("first-notice", mapped_to="reminder"))
    landing = land(OLD, new, case("first-notice", {"reminder", "first-notice"}), date(2026, 12, 2), DE)
    assert landing.state == "reminder"  # mapping "back" to reminder must not re-send it: next is final-notice
    assert any("already received" in why for why in landing.why)


def test_a_required_step_not_yet_received_is_never_jumped_over() -> None:
    new = edited(without("reminder", mapped_to="final-notice"))
    landing = land(OLD, new, case("reminder", {"reminder"}, last=date(2026, 10, 22)), date(2026, 10, 25), DE)
    assert landing.state == "courtesy"  # first-notice (required, not received) comes next, not final-notice
    assert any("required step first-notice" in why for why in landing.why)


def test_the_next_step_is_never_due_before_the_deadline_the_last_notice_named() -> None:
    new = edited(lambda d: step(d, "final-notice")["after"].update(days=20))  # would be due at once
    landing = land(OLD, new, case("first-notice", {"first-notice"}, last=date(2026, 12, 1)), date(2026, 12, 2), DE)
    # first-notice: pay within 10 days of 2026-12-01, i.e. by 12-11; the day after is a Saturday → Monday
    assert landing.next_action_at == date(2026, 12, 14)
    assert any("deadline" in why for why in landing.why)


def test_a_paused_case_keeps_its_pause_and_timer_and_moves_its_resume_step() -> None:
    new = edited(without("first-notice"))
    paused = CaseAt("disputed", "first-notice", date(2026, 12, 1), None, DUE, frozenset({"first-notice"}))
    landing = land(OLD, new, paused, date(2026, 12, 2), DE)
    assert (landing.state, landing.resume_state, landing.next_action_at) == ("disputed", "reminder", None)


def test_validate_points_at_a_map_target_that_is_no_step_and_a_map_of_a_step_that_still_exists(tmp_path: Path) -> None:
    source = resource_path("policies", "b2b-standard.yaml").read_text(encoding="utf-8")
    policy = tmp_path / "b2b-standard.yaml"
    policy.write_text(source + "\nmigrate:\n  strategy: by_step\n  map: {second-notice: finale, reminder: first-notice}\n",
                      encoding="utf-8")
    _, problems = check_policies([policy], TemplateStore(resource_path("templates")))
    line = source.count("\n") + 4
    assert sorted((p.line, p.col, p.rule, p.level) for p in problems if p.rule in ("unknown-step", "unused-map")) == [
        (line, 24, "unknown-step", "error"), (line, 32, "unused-map", "warning")]  # the value finale; the key reminder
