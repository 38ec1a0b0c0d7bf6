"""Every recorded timestamp and every default date comes from the one injected clock, never the wall clock.

The clock stands in 2031, years away from any date the test passes explicitly, so a value taken from
the wall clock (or from an explicit date) cannot pass for the clock's by accident.
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from dunflow.bootstrap import Workspace
from dunflow.cli.main import main
from dunflow.clock import FixedClock

CLOCK = FixedClock.on(date(2031, 3, 4), time(15, 16, 17))
INVOICES = """\
number,debtor_code,currency,amount,open_amount,issue_date,due_date,debtor_name,debtor_type,debtor_country,debtor_language,debtor_email
C-1,DC1,EUR,1000.00,,2031-01-01,2031-02-01,Alpha GmbH,business,DE,de,ap@alpha.example
C-2,DC2,EUR,300.00,,2031-01-01,2031-02-01,Beta AG,business,DE,en,ar@beta.example
"""


class Cli:
    """The CLI on one project and database, handed the fixed clock the way bootstrap hands it to services."""

    def __init__(self, project: Path, database: str) -> None:
        self.base = ["--project", str(project), "--database", database]
        self.workspace = Workspace.open(project, database, CLOCK)

    def __call__(self, *args: str) -> str:
        result = CliRunner().invoke(main, [*self.base, *args], obj={"clock": CLOCK}, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    def column(self, sql: str) -> list[Any]:
        with self.workspace.store.reading() as uow:
            return [row[0] for row in uow.connection.execute(text(sql))]


def as_utc(value: datetime | str) -> datetime:
    """A stored timestamp as UTC without tzinfo (SQLite gives naive text, PostgreSQL an aware value)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


@pytest.fixture
def cli(project_dir: Path, database_url: str, tmp_path: Path) -> Cli:
    csv = tmp_path / "clock.csv"
    csv.write_text(INVOICES, encoding="utf-8")
    tool = Cli(project_dir, database_url)
    tool("import", "invoices", str(csv))
    return tool


THE_MOMENT = CLOCK.moment.astimezone(timezone.utc).replace(tzinfo=None)


def test_policy_versions_are_stamped_by_the_injected_clock(cli: Cli) -> None:
    assert {as_utc(v) for v in cli.column("SELECT created_at FROM policy_versions")} == {THE_MOMENT}


def test_an_apply_is_stamped_by_the_injected_clock(cli: Cli) -> None:
    cli("apply", "--auto-approve")
    assert {as_utc(v) for v in cli.column("SELECT applied_at FROM policy_applies")} == {THE_MOMENT}
    assert {as_utc(v) for v in cli.column("SELECT created_at FROM policy_versions")} == {THE_MOMENT}


def test_a_run_stamps_actions_outbox_and_run_log_with_the_injected_clock(cli: Cli) -> None:
    cli("run")  # no --as-of: the run date is the clock's today
    assert cli.column("SELECT DISTINCT as_of FROM runs") in ([date(2031, 3, 4)], ["2031-03-04"])
    stamps = (cli.column("SELECT recorded_at FROM actions") + cli.column("SELECT created_at FROM outbox")
              + cli.column("SELECT started_at FROM runs") + cli.column("SELECT finished_at FROM runs"))
    assert stamps and {as_utc(s) for s in stamps} == {THE_MOMENT}
    cli("send")
    assert {as_utc(s) for s in cli.column("SELECT sent_at FROM outbox")} == {THE_MOMENT}


def test_an_event_without_a_date_is_dated_and_stamped_by_the_injected_clock(cli: Cli) -> None:
    cli("dispute", "open", "C-2", "--reason", "goods not delivered")
    at, recorded_at = cli.column("SELECT at FROM actions"), cli.column("SELECT recorded_at FROM actions")
    assert at in ([date(2031, 3, 4)], ["2031-03-04"])
    assert [as_utc(s) for s in recorded_at] == [THE_MOMENT]
    assert cli.column("SELECT opened_on FROM disputes") in ([date(2031, 3, 4)], ["2031-03-04"])


def test_a_payment_is_recorded_at_the_injected_clock_and_booked_on_its_own_date(cli: Cli) -> None:
    cli("payment", "add", "C-1", "400.00", "--date", "2031-02-20")
    assert [as_utc(s) for s in cli.column("SELECT recorded_at FROM payments")] == [THE_MOMENT]
    assert cli.column("SELECT at FROM actions") in ([date(2031, 2, 20)], ["2031-02-20"])  # the booking date
    assert [as_utc(s) for s in cli.column("SELECT recorded_at FROM actions")] == [THE_MOMENT]


def test_as_of_names_the_day_of_an_event_on_every_recording_command(cli: Cli) -> None:
    cli("hold", "DC1", "--reason", "insolvency check", "--as-of", "2031-02-10")
    cli("release", "DC1", "--date", "2031-02-12")  # the older name still works
    cli("promise", "C-2", "--date", "2031-03-20", "--as-of", "2031-02-11")
    days = cli.column("SELECT at FROM actions ORDER BY id")
    assert [str(d) for d in days] == ["2031-02-10", "2031-02-12", "2031-02-11"]
