"""plan → apply round trips through the CLI, on SQLite and PostgreSQL: versions, moves, stale plans, the lock."""
from __future__ import annotations

import hashlib
import json
import re
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from dunflow.bootstrap import Workspace
from dunflow.cli.main import main
from dunflow.errors import DunflowError
from dunflow.policy.apply import SavedPlan, apply_plan, take_apply_lock
from dunflow.policy.plan import compute_plan
from tests.integration.test_run import Dunflow

AS_OF = "2026-12-02"


@pytest.fixture
def dunflow(tmp_path: Path, database_url: str) -> Dunflow:
    """`dunflow init` (which applies the scaffold), the sample data imported and run on 2026-12-01."""
    project = tmp_path / "demo"
    cli = Dunflow(project, database_url)
    cli("init", str(project))
    cli("import", "debtors", str(project / "debtors.csv"))
    cli("import", "invoices", str(project / "invoices.csv"))
    cli("run", "--as-of", "2026-12-01")
    return cli


def edit(project: Path, policy: str, old: str, new: str) -> None:
    path = project / "policies" / f"{policy}.yaml"
    source = path.read_text(encoding="utf-8")
    assert old in source
    path.write_text(source.replace(old, new), encoding="utf-8")


def by_step(project: Path, policy: str, extra: str = "") -> None:
    with (project / "policies" / f"{policy}.yaml").open("a", encoding="utf-8") as file:
        file.write(f"\nmigrate:\n  strategy: by_step\n{extra}")


def plan_json(cli: Dunflow, *extra: str, code: int = 0) -> dict[str, Any]:
    return json.loads(cli("plan", "--as-of", AS_OF, "--format", "json", *extra, code=code).stdout)


def cases_by_invoice(cli: Dunflow) -> dict[str, tuple[Any, ...]]:
    rows = cli.query("SELECT i.number, v.name, v.version, c.state, c.next_action_at, c.revision FROM cases c "
                     "JOIN invoices i ON i.id = c.invoice_id JOIN policy_versions v ON v.id = c.policy_version_id")
    return {row[0]: (row[1], row[2], row[3], str(row[4]) if row[4] else None, row[5]) for row in rows}


def test_init_applies_the_scaffold_so_a_plan_right_after_shows_no_changes(dunflow: Dunflow) -> None:
    result = dunflow("plan", "--detailed-exitcode")
    assert "No changes" in result.stdout
    listed = json.loads(dunflow("policies", "list", "--format", "json").stdout)
    assert [(p["name"], p["version"], p["message"]) for p in listed] == [
        ("b2b-standard", 1, "dunflow init"), ("b2c-consumer", 1, "dunflow init"), ("key-accounts", 1, "dunflow init")]


def test_a_changed_delay_moves_in_flight_cases_exactly_as_the_plan_said(dunflow: Dunflow, tmp_path: Path) -> None:
    edit(dunflow.project, "b2b-standard", "after: {days: 28, from: due_date}", "after: {days: 49, from: due_date}")
    edit(dunflow.project, "b2b-standard", "after: {days: 42, from: due_date}", "after: {days: 63, from: due_date}")
    by_step(dunflow.project, "b2b-standard")
    saved = tmp_path / "plan.json"
    plan = plan_json(dunflow, "--out", str(saved), "--detailed-exitcode", code=2)
    assert [(c["name"], c["change"], c["from_version"], c["to_version"]) for c in plan["changes"]] == [
        ("b2b-standard", "changed", 1, 2)]
    assert plan["moves"] and {m["from_policy"] for m in plan["moves"]} == {"b2b-standard"}
    before = cases_by_invoice(dunflow)
    dunflow("apply", str(saved), "--auto-approve", "-m", "later final notice")
    after = cases_by_invoice(dunflow)
    for move in plan["moves"]:
        assert before[move["invoice"]][3] == move["old_next"]
        assert after[move["invoice"]][1:4] == (2, move["to_state"], move["new_next"])
    assert plan_json(dunflow, "--detailed-exitcode")["has_changes"] is False
    history = json.loads(dunflow("policies", "history", "b2b-standard", "--format", "json").stdout)
    assert [(h["version"], h["change"], h["message"]) for h in history] == [
        (1, "added", "dunflow init"), (2, "changed", "later final notice")]


def test_a_removed_step_maps_as_declared(dunflow: Dunflow) -> None:
    """b2c-consumer without `notice`: its cases continue with the final letter the map names."""
    source = (dunflow.project / "policies" / "b2c-consumer.yaml").read_text(encoding="utf-8")
    start = source.index("  - id: notice")
    end = source.index("  - id: final-letter")
    without = re.sub(r"    charge: \[collection_costs\].*\n(?: +#.*\n)*", "", source[:start] + source[end:])  # no WIK
    (dunflow.project / "policies" / "b2c-consumer.yaml").write_text(without, encoding="utf-8")  # without the letter
    edit(dunflow.project, "b2c-consumer", "on_default: notice", "on_default: final-letter")
    by_step(dunflow.project, "b2c-consumer", "  map: {notice: final-letter}\n")
    plan = plan_json(dunflow)
    in_notice = [m for m in plan["moves"] if m["from_state"] == "notice"]
    assert in_notice, "the sample data has b2c invoices at the notice step"
    assert {m["to_state"] for m in in_notice} == {"reminder"}  # reached: the step before final-letter
    assert all("migrate.map names final-letter" in m["why"][0] for m in in_notice)
    dunflow("apply", "--auto-approve")
    after = cases_by_invoice(dunflow)
    assert all(after[m["invoice"]][2:4] == ("reminder", m["new_next"]) for m in in_notice)


def test_a_stale_saved_plan_is_refused_and_changes_nothing(dunflow: Dunflow, tmp_path: Path) -> None:
    edit(dunflow.project, "b2b-standard", "after: {days: 28, from: due_date}", "after: {days: 35, from: due_date}")
    by_step(dunflow.project, "b2b-standard")
    saved = tmp_path / "plan.json"
    dunflow("plan", "--as-of", AS_OF, "--out", str(saved))
    dunflow("run", "--as-of", "2026-12-07")  # the database moves on after the plan was made
    before = cases_by_invoice(dunflow)
    refused = dunflow("apply", str(saved), "--auto-approve", code=1)
    assert "the saved plan is stale: the database changed" in refused.stderr
    edit(dunflow.project, "key-accounts", "priority: ", "priority: 1")
    refused = dunflow("apply", str(saved), "--auto-approve", code=1)
    assert "policy files changed since the plan: key-accounts;" in refused.stderr
    assert cases_by_invoice(dunflow) == before
    assert [p["version"] for p in json.loads(dunflow("policies", "list", "--format", "json").stdout)] == [1, 1, 1]


def test_plan_and_apply_take_the_project_folder_as_argument(dunflow: Dunflow) -> None:
    by_step(dunflow.project, "key-accounts")
    runner = CliRunner()
    planned = runner.invoke(main, ["--database", dunflow.database, "plan", str(dunflow.project), "--detailed-exitcode"])
    assert planned.exit_code == 2 and "~ key-accounts v1 → v2" in planned.stdout, planned.output
    applied = runner.invoke(main, ["--database", dunflow.database, "apply", str(dunflow.project), "--auto-approve"])
    assert applied.exit_code == 0 and "Applied: 1 policy change(s)" in applied.stdout, applied.output
    again = runner.invoke(main, ["--database", dunflow.database, "apply", str(dunflow.project)])
    assert again.exit_code == 0 and "No changes" in again.stdout, again.output  # nothing to ask about


def test_apply_reports_in_json_with_the_plan_on_stderr(dunflow: Dunflow) -> None:
    by_step(dunflow.project, "key-accounts")
    applied = dunflow("apply", "--auto-approve", "--format", "json")
    data = json.loads(applied.stdout)  # stdout is the one JSON document
    assert data["applied"] is True and data["moved"] > 0
    assert data["changes"] == [{"policy": "key-accounts", "change": "changed", "from_version": 1, "to_version": 2}]
    assert "~ key-accounts v1 → v2" in applied.stderr
    assert [data["digest"], data["moved"]] == list(
        dunflow.query("SELECT plan_digest, cases_moved FROM policy_applies ORDER BY id DESC")[0])
    again = json.loads(dunflow("apply", "--auto-approve", "--format", "json").stdout)
    assert again["applied"] is False and again["changes"] == []


def test_apply_without_a_terminal_or_approval_is_refused(dunflow: Dunflow) -> None:
    by_step(dunflow.project, "key-accounts")
    refused = dunflow("apply", code=1)
    assert "no terminal to ask on" in refused.stderr


def test_after_an_apply_run_uses_the_active_versions_and_reports_drift(dunflow: Dunflow) -> None:
    edit(dunflow.project, "b2b-standard", "after: {days: 28, from: due_date}", "after: {days: 35, from: due_date}")
    result = dunflow("run", "--as-of", "2026-12-03")
    assert "1 policy changed since the last apply: b2b-standard (changed); run `dunflow plan`" in result.stderr
    assert "changed since the last apply" in dunflow("status", "--as-of", "2026-12-03").stderr
    new_invoice = dunflow.project / "late.csv"
    new_invoice.write_text("number,debtor_code,currency,amount,issue_date,due_date\n"
                           "LATE-1,D-1001,EUR,100.00,2026-12-01,2026-12-31\n", encoding="utf-8")
    dunflow("import", "invoices", str(new_invoice))
    assert dunflow.query("SELECT count(*) FROM policy_versions")[0][0] == 3  # no version created behind apply's back
    assert cases_by_invoice(dunflow)["LATE-1"][:2] == ("b2b-standard", 1)  # new invoices get the active version


def test_plan_with_a_broken_policy_exits_1_with_located_errors(dunflow: Dunflow) -> None:
    edit(dunflow.project, "key-accounts", "channels: [task]", "channels: [fax]")
    result = dunflow("plan", "--detailed-exitcode", code=1)
    assert "policies/key-accounts.yaml:" in result.stderr and "fax" in result.stderr


def test_policies_show_prints_the_exact_stored_text_with_its_hash(dunflow: Dunflow) -> None:
    source = (dunflow.project / "policies" / "key-accounts.yaml").read_text(encoding="utf-8")
    shown = json.loads(dunflow("policies", "show", "key-accounts@1", "--format", "json").stdout)
    assert (shown["version"], shown["source"]) == (1, source)
    assert shown["hash"] == hashlib.sha256(source.encode("utf-8")).hexdigest()
    assert "no stored version key-accounts@2" in dunflow("policies", "show", "key-accounts@2", code=1).stderr


def test_a_failing_apply_leaves_the_database_unchanged(dunflow: Dunflow) -> None:
    edit(dunflow.project, "b2b-standard", "after: {days: 28, from: due_date}", "after: {days: 35, from: due_date}")
    by_step(dunflow.project, "b2b-standard")
    engine = create_engine(dunflow.database)
    with engine.begin() as connection:  # the last write of an apply fails, as a full disk would
        if connection.dialect.name == "postgresql":
            connection.execute(text("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                                    "RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql"))
            connection.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON actions FOR EACH ROW "
                                    "WHEN (NEW.kind = 'migration') EXECUTE FUNCTION refuse()"))
        else:
            connection.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON actions WHEN NEW.kind = 'migration' "
                                    "BEGIN SELECT RAISE(ABORT, 'disk full'); END"))
    engine.dispose()
    before = (cases_by_invoice(dunflow), dunflow.counts(),
              dunflow.query("SELECT count(*) FROM policy_versions"), dunflow.query("SELECT count(*) FROM policy_applies"))
    ws = Workspace.open(dunflow.project, dunflow.database)
    with ws.store.reading() as uow:
        plan = compute_plan(uow, ws.policies, date(2026, 12, 2))
    assert plan.moves
    with pytest.raises(Exception, match="disk full"):
        apply_plan(ws.store, ws.policies, SavedPlan.of(plan), "test", "")
    ws.engine.dispose()
    assert before == (cases_by_invoice(dunflow), dunflow.counts(),
                      dunflow.query("SELECT count(*) FROM policy_versions"),
                      dunflow.query("SELECT count(*) FROM policy_applies"))


def test_two_applies_at_once_one_wins_and_the_other_is_refused(dunflow: Dunflow) -> None:
    edit(dunflow.project, "b2b-standard", "after: {days: 28, from: due_date}", "after: {days: 35, from: due_date}")
    by_step(dunflow.project, "b2b-standard")
    ws = Workspace.open(dunflow.project, dunflow.database)
    with ws.store.reading() as uow:
        saved = SavedPlan.of(compute_plan(uow, ws.policies, date(2026, 12, 2)))
    start, outcomes = threading.Barrier(2), []

    def one_apply() -> None:
        start.wait()
        try:
            apply_plan(ws.store, ws.policies, saved, "worker", "")
            outcomes.append("applied")
        except DunflowError as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=one_apply) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ws.engine.dispose()
    assert outcomes.count("applied") == 1 and len(outcomes) == 2, outcomes
    refusal = next(o for o in outcomes if o != "applied")
    assert "another `dunflow apply` is running" in refusal or "stale" in refusal, outcomes
    assert dunflow.query("SELECT count(*) FROM policy_applies")[0][0] == 2  # init's and the winner's


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # SQLite queues applies instead (above)
def test_an_apply_while_another_holds_the_lock_is_refused_at_once_on_postgresql(dunflow: Dunflow) -> None:
    assert dunflow.database.startswith("postgresql")
    by_step(dunflow.project, "key-accounts")
    ws = Workspace.open(dunflow.project, dunflow.database)
    with ws.store.reading() as uow:
        saved = SavedPlan.of(compute_plan(uow, ws.policies, date(2026, 12, 2)))
    with ws.store.writing() as holder:
        take_apply_lock(holder)
        holder.discard()  # rolled back (and the lock released) at the end of the block
        with pytest.raises(DunflowError, match="another `dunflow apply` is running"):
            apply_plan(ws.store, ws.policies, saved, "second", "")
    apply_plan(ws.store, ws.policies, saved, "after", "")  # once released, it goes
    ws.engine.dispose()
