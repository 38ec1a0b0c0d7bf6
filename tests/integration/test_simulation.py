"""The simulator is the real engine on another clock: simulating the demo portfolio gives exactly what running
`dunflow run --as-of D --send` every day gives, and leaves the database as it was (SQLite and PostgreSQL)."""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Sequence

import pytest
import yaml
from click.testing import CliRunner

from dunflow.bootstrap import Workspace
from dunflow.cli.main import main
from dunflow.simulation.behaviour import NOBODY_PAYS, load_model
from dunflow.simulation.simulate import Scenario, Simulation, simulate
from dunflow.store.uow import Store

START, END = date(2026, 12, 1), date(2027, 3, 31)


def cli(project: Path, database: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["--project", str(project), "--database", database, *args],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def demo(tmp_path: Path, database_url: str) -> tuple[Path, str]:
    """`dunflow init` with its sample data imported, on SQLite or PostgreSQL."""
    project = tmp_path / "demo"
    cli(project, database_url, "init", str(project))
    cli(project, database_url, "import", "debtors", str(project / "debtors.csv"))
    cli(project, database_url, "import", "invoices", str(project / "invoices.csv"))
    return project, database_url


def simulated(project: Path, database: str, scenario: Scenario) -> Simulation:
    ws = Workspace.open(project, database)
    return simulate(ws.engine, scenario, ws.templates, ws.project.creditor, ws.timers)


def snapshot(project: Path, database: str) -> dict[str, Any]:
    """Everything the simulation must not change: the whole audit trail, outbox, cases, payments, runs."""
    ws = Workspace.open(project, database)
    with Store(ws.engine, ws.clock).reading() as uow:
        return {"status": json.loads(cli(project, database, "status", "--as-of", "2026-12-01", "--format", "json")),
                "outbox": uow.outbox.count_by_status(), "messages": uow.reports.delivered_messages(),
                "allocations": uow.reports.allocations(), "next": uow.reports.next_due_on(),
                "runs": uow.cases.last_run_on(), "timeline": uow.reports.notice_timeline(),
                "outbox_files": sorted(p.name for p in (project / "outbox").rglob("*"))}


def real_deliveries(project: Path, database: str) -> list[tuple[date, str, str, tuple[str, ...]]]:
    ws = Workspace.open(project, database)
    with Store(ws.engine, ws.clock).reading() as uow:
        return [(m.delivered_on, m.channel, m.step, tuple(m.invoice_numbers)) for m in uow.reports.delivered_messages()]


def run_every_day(project: Path, database: str, payments: Sequence[tuple[date, str, Any]] = ()) -> None:
    """Every day: its payments (`dunflow payments add`), then what `dunflow run --as-of DAY --send` calls (the
    runner, then delivery into the project's outbox on that day), in-process to keep 121 days quick."""
    from dunflow.delivery.dispatch import send_pending
    from dunflow.engine.run import run_due

    ws = Workspace.open(project, database)
    day = START
    while day <= END:
        for on, number, amount in payments:
            if on == day:
                cli(project, database, "payments", "add", number, str(amount), "--date", str(day))
        run_due(ws.store, ws.templates, ws.project.creditor, day, ws.timers, batch_size=ws.project.batch_size)
        send_pending(ws.store, ws.channel, ws.refresher, on=day)
        day += timedelta(days=1)


def real_charges(project: Path, database: str) -> list[tuple[date, str, str, str, Any, str]]:
    ws = Workspace.open(project, database)
    with Store(ws.engine, ws.clock).reading() as uow:
        return uow.debts.booked_charges()


def ordered(rows: list[tuple[date, str, str, tuple[str, ...]]]) -> list[tuple[date, str, str, tuple[str, ...]]]:
    return sorted(rows)


def test_simulating_the_demo_without_payments_sends_exactly_what_daily_runs_send(demo: tuple[Path, str]) -> None:
    project, database = demo
    before = snapshot(project, database)
    sim = simulated(project, database, Scenario(START, END, NOBODY_PAYS, 0, record=True))
    assert snapshot(project, database) == before  # nothing in the real database or outbox changed
    assert len(sim.deliveries) > 100 and {step for _, _, step, _ in sim.deliveries} >= {"reminder", "handover"}
    # the shipped policies charge: the final notice's fee and the 40 EUR compensation (businesses), WIK collection
    # costs after the Dutch 14-day letter's term (Dutch consumers only); interest needs rates past 2026-06-30
    kinds = {(kind, step) for _, _, kind, step, _, _ in sim.charges}
    assert {("fee", "final-notice"), ("compensation", "final-notice"), ("collection_costs", "final-letter")} <= kinds
    assert not [c for c in sim.charges if c[2] == "compensation" and c[5] != "EUR"]
    run_every_day(project, database)
    assert ordered(sim.deliveries) == ordered(real_deliveries(project, database))
    assert sorted(sim.charges) == sorted(real_charges(project, database))  # the same charges, to the cent


def test_a_simulated_payment_stops_dunning_as_a_real_one_does(demo: tuple[Path, str], tmp_path: Path) -> None:
    project, database = demo
    model = tmp_path / "eager.yaml"
    model.write_text(yaml.safe_dump({"apiVersion": "dunflow/v1", "kind": "PaymentModel",
                                     "steps": {"reminder": {"*": {"probability": 0.7, "within_days": 6}},
                                               "first-notice": {"*": {"probability": 0.5, "within_days": 9}}}}))
    sim = simulated(project, database, Scenario(START, END, load_model(model), 7, record=True))
    assert len(sim.payments) >= 3
    for on, number, _ in sim.payments:  # nothing listing a paid invoice is delivered from its payment day on
        assert not [d for d in sim.deliveries if d[0] >= on and number in d[3]], number
    run_every_day(project, database, sim.payments)
    assert ordered(sim.deliveries) == ordered(real_deliveries(project, database))


def test_the_same_seed_gives_byte_identical_json_and_another_seed_other_payments(demo: tuple[Path, str]) -> None:
    project, database = demo
    args = ("simulate", "--from", "2026-12-01", "--to", "2027-02-28", "--format", "json")
    first, again = cli(project, database, *args, "--seed", "3"), cli(project, database, *args, "--seed", "3")
    assert first == again
    data = json.loads(first)
    assert data["totals"]["paid"] > 0 and data["totals"]["messages_by_step"]["reminder"] > 0
    assert sum(data["totals"]["messages_by_channel"].values()) == data["totals"]["messages"]
    assert sum(d["messages"] for d in data["days"]) == data["totals"]["messages"]
    others = [json.loads(cli(project, database, *args, "--seed", str(seed)))["days"] for seed in (4, 5, 6)]
    assert any(days != data["days"] for days in others)
