"""`dunflow test`: the shipped policy tests pass on the shipped policies, and a broken expectation fails
with expected and actual timelines side by side."""
from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

from dunflow.cli.main import main

GOLDEN = Path(__file__).parents[1] / "golden" / "policy_tests"


def _test(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--project", str(project), "test", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_init_scaffolds_policy_tests_for_every_shipped_policy_and_they_pass(project_dir: Path) -> None:
    shipped = {p.stem for p in (project_dir / "policies").glob("*.yaml")}
    assert {p.stem for p in (project_dir / "tests").glob("*.yaml")} == shipped
    code, output = _test(project_dir)
    assert code == 0, output
    assert output.splitlines()[-1] == "7 passed, 0 failed"


def test_a_policy_change_that_breaks_an_expectation_fails_with_both_timelines(project_dir: Path) -> None:
    policy = project_dir / "policies" / "key-accounts.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("after: {days: 21, from: due_date}",
                                                                 "after: {days: 28, from: due_date}"), encoding="utf-8")
    code, output = _test(project_dir, str(project_dir / "tests" / "key-accounts.yaml"))
    assert code == 1
    golden = GOLDEN / "key-accounts-later-notice.txt"
    if os.environ.get("DUNFLOW_UPDATE_GOLDEN") == "1":
        golden.write_text(output, encoding="utf-8")
    assert output == golden.read_text(encoding="utf-8")


def test_a_malformed_test_case_is_reported_with_its_location(tmp_path: Path, project_dir: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("cases:\n  - name: no runs\n    debtors: []\n    invoices: []\n    expect: []\n", encoding="utf-8")
    code, output = _test(project_dir, str(broken))
    assert code == 1
    assert "broken.yaml:2:5: error: the test case lacks `runs`" in output


def test_the_results_in_json(project_dir: Path) -> None:
    code, output = _test(project_dir, str(project_dir / "tests" / "key-accounts.yaml"), "--format", "json")
    data = json.loads(output)
    assert code == 0 and (data["passed"], data["failed"]) == (len(data["cases"]), 0)
    assert all(case["passed"] and case["file"] == "tests/key-accounts.yaml" for case in data["cases"])
    assert all([a["notice"] for a in case["actual"]] == case["expected"] for case in data["cases"])
