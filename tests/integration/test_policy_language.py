"""What the policy language can say (issue 13.7), end to end through validate, import and the runner.

Each construct is written inline as YAML into a fresh `dunflow init` project and then run on SQLite and
PostgreSQL; what the debtor would receive is read back from the outbox and the audit trail.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner, Result

from dunflow.cli.main import main
from tests.integration.test_run import HEADER, Dunflow, write_csv

MODELINE = "# yaml-language-server: $schema=../schemas/policy.schema.json\n"

UNDUNNED_CONSUMERS = MODELINE + """\
apiVersion: dunflow/v1
kind: Policy
metadata: {name: consumers-undunned, description: consumers are collected by the shop itself}
applies_to:
  priority: 10
  match: {customer_type: consumer}
settings: {timezone: Europe/Berlin, calendar: DE, language: de}
dunning: off
"""


def validate(project: Path) -> Result:
    return CliRunner().invoke(main, ["--project", str(project), "validate"], catch_exceptions=False)


def replace_policy(project: Path, old: str | None, name: str, text: str) -> Path:
    if old:
        (project / "policies" / f"{old}.yaml").unlink()
    path = project / "policies" / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def actions_of(cli: Dunflow, number: str) -> list[tuple[str, str, str]]:
    return [(a["kind"], a["step"], a["at"]) for a in cli.invoice(number)["actions"] if a["kind"] != "transition"]


# --- (a) a segment deliberately not dunned -----------------------------------------------------------


def test_a_segment_without_a_policy_is_a_coverage_gap(project_dir: Path) -> None:
    (project_dir / "policies" / "b2c-consumer.yaml").unlink()
    result = validate(project_dir)
    assert result.exit_code == 1 and "no policy covers any consumer debtor" in result.stderr


def test_dunning_off_covers_a_segment_on_purpose(project_dir: Path) -> None:
    replace_policy(project_dir, "b2c-consumer", "consumers-undunned", UNDUNNED_CONSUMERS)
    result = validate(project_dir)
    assert result.exit_code == 0, result.output
    assert "ok: 3 policies valid" in result.stdout


def test_dunning_off_with_steps_is_a_located_error(project_dir: Path) -> None:
    text = UNDUNNED_CONSUMERS + "steps:\n  - {id: reminder, after: {days: 7}, channels: [email], template: b2b/reminder}\n"
    replace_policy(project_dir, "b2c-consumer", "consumers-undunned", text)
    result = validate(project_dir)
    assert result.exit_code == 1
    assert "policies/consumers-undunned.yaml:10:1: error: dunning is off for this policy, yet it has `steps`" \
        in result.stderr
    assert "[not-dunned]" in result.stderr


def test_an_empty_step_list_points_at_dunning_off(project_dir: Path) -> None:
    text = UNDUNNED_CONSUMERS.replace("dunning: off\n", "steps: []\nescalation: {id: handover, after: {days: 9}, "
                                      "to: legal, channels: [letter], template: b2b/handover}\n")
    replace_policy(project_dir, "b2c-consumer", "consumers-undunned", text)
    result = validate(project_dir)
    assert result.exit_code == 1
    assert re.search(r"consumers-undunned.yaml:9:8: error: steps: \[\] should be non-empty", result.stderr), result.stderr
    assert "dunning: off" in result.stderr


def test_invoices_of_an_undunned_segment_are_tracked_but_never_dunned(project_dir: Path, database_url: str,
                                                                        tmp_path: Path) -> None:
    replace_policy(project_dir, "b2c-consumer", "consumers-undunned", UNDUNNED_CONSUMERS)
    cli = Dunflow(project_dir, database_url)
    cli("import", "invoices", str(write_csv(tmp_path, "i.csv", f"""{HEADER}
R-1,B1,EUR,1190.00,,2026-09-01,2026-10-01,Alpha GmbH,business,DE,de,ap@alpha.example
R-3,C1,EUR,99.00,,2026-09-01,2026-10-01,Jan Jansen,consumer,DE,de,jan@example.de
""")))
    for day in ("2026-10-15", "2026-11-02", "2026-12-01", "2027-02-01"):
        cli("run", "--as-of", day)
    invoice = cli.invoice("R-3")
    assert (invoice["policy"], invoice["state"], invoice["actions"]) == ("consumers-undunned", "new", [])
    assert invoice["next"] is not None and "dunning: off" in invoice["next"]["why"]
    assert {code for code, *_ in cli.outbox()} == {"B1"}
    cli("payment", "add", "R-3", "99.00", "--date", "2027-02-02")
    assert cli.invoice("R-3")["state"] == "paid"
