"""`dunflow plan` as text for a set of realistic policy changes, against the sample portfolio run on 2026-12-01.

Each change is made to a fresh `dunflow init` project (SQLite) and planned for a run on 2026-12-08; the plan's text must match its golden file
(the digest, which covers the database file's exact state, is masked). Rewrite the golden files with
DUNFLOW_UPDATE_GOLDEN=1 after checking the new text.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

import pytest

from tests.integration.test_run import Dunflow

GOLDEN = Path(__file__).parent / "plans"


def _replace(policy: str, old: str, new: str) -> Callable[[Path], None]:
    def change(project: Path) -> None:
        path = project / "policies" / f"{policy}.yaml"
        source = path.read_text(encoding="utf-8")
        assert old in source
        path.write_text(source.replace(old, new, 1), encoding="utf-8")
    return change


def _all(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    def change(project: Path) -> None:
        for one in changes:
            one(project)
    return change


def _by_step(policy: str, extra: str = "") -> Callable[[Path], None]:
    def change(project: Path) -> None:
        with (project / "policies" / f"{policy}.yaml").open("a", encoding="utf-8") as file:
            file.write(f"\nmigrate:\n  strategy: by_step\n{extra}")
    return change


SECOND_NOTICE = """  - id: second-notice
    title: Second dunning notice
    after: {days: 21, from: due_date}
    channels: [email, letter]
    template: b2b/first-notice
    pay_within_days: 7

  - id: final-notice"""
B2C_NOTICE = re.compile(r"  - id: notice\n.*?(?=  - id: final-letter)", re.S)
B2C_COSTS = re.compile(r"    charge: \[collection_costs\].*\n(?: +#.*\n)*")  # no WIK costs without the 14-day letter


def _without_b2c_notice(project: Path) -> None:
    path = project / "policies" / "b2c-consumer.yaml"
    text = B2C_COSTS.sub("", B2C_NOTICE.sub("", path.read_text(encoding="utf-8"))).replace("on_default: notice", "on_default: final-letter")
    path.write_text(text, encoding="utf-8")


CHANGES: dict[str, Callable[[Path], None]] = {
    "delay": _all(_replace("b2b-standard", "after: {days: 28, from: due_date}", "after: {days: 35, from: due_date}"),
                  _by_step("b2b-standard")),
    "new-step": _all(_replace("b2b-standard", "  - id: final-notice", SECOND_NOTICE), _by_step("b2b-standard")),
    "removed-step": _all(_without_b2c_notice, _by_step("b2c-consumer", "  map: {notice: final-letter}\n")),
    "changed-segment": _all(_replace("key-accounts", "tags: [key-account]", "tags: [key-account, wholesale]"),
                            _by_step("key-accounts")),
    "changed-template": _replace("key-accounts", "template: key/notice", "template: key/reminder"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_plan_of_a_realistic_change_reads_as_recorded(change: str, tmp_path: Path) -> None:
    project = tmp_path / "demo"
    cli = Dunflow(project, f"sqlite:///{tmp_path / 'plan.db'}")
    cli("init", str(project))
    cli("import", "debtors", str(project / "debtors.csv"))
    cli("import", "invoices", str(project / "invoices.csv"))
    cli("run", "--as-of", "2026-12-01")
    cli("send", "--as-of", "2026-12-01")  # a step counts once delivered: plan what the debtors received
    CHANGES[change](project)
    text = re.sub(r"digest [0-9a-f]{12}", "digest <digest>", cli("plan", "--as-of", "2026-12-08", code=0).stdout)
    golden = GOLDEN / f"{change}.txt"
    if os.environ.get("DUNFLOW_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")
