"""Send windows from dunflow.yaml: each queued message is deferred to its channel's next opening in its
debtor's zone (country, else the project's `timezone`); a window that makes no sense stops every command."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dunflow.bootstrap import Workspace
from dunflow.cli.main import main
from dunflow.clock import FixedClock
from dunflow.delivery.windows import deferral

INVOICES = """\
number,debtor_code,currency,amount,open_amount,issue_date,due_date,debtor_name,debtor_type,debtor_country,debtor_language,debtor_email
R-1,B1,EUR,1190.00,1190.00,2026-09-01,2026-10-01,Alpha GmbH,business,DE,de,ap@alpha.example
R-2,B2,EUR,500.00,500.00,2026-09-01,2026-10-01,Acme Inc,business,US,en,ap@acme.example
"""
WINDOWS = """
timezone: America/Chicago
channels:
  email: {window: {days: [mon, tue, wed, thu, fri], from: "08:00", to: "20:00"}}
"""


def cli(project: Path, database: str, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(main, ["--project", str(project), "--database", database, *args],
                                catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


@pytest.fixture
def project(project_dir: Path) -> Path:
    with open(project_dir / "dunflow.yaml", "a", encoding="utf-8") as config:
        config.write(WINDOWS)
    return project_dir


def test_messages_wait_for_the_window_in_their_debtors_zone(project: Path, database_url: str,
                                                            tmp_path: Path) -> None:
    (tmp_path / "invoices.csv").write_text(INVOICES, encoding="utf-8")
    cli(project, database_url, "import", "invoices", str(tmp_path / "invoices.csv"))
    cli(project, database_url, "run", "--as-of", "2026-10-08")
    now = datetime(2026, 10, 8, 5, 0, tzinfo=timezone.utc)  # Thursday: 07:00 in Berlin, 00:00 in Chicago
    ws = Workspace.open(project, database_url, FixedClock(now))
    with ws.store.reading() as uow:
        messages = [dict(r._mapping) for r in uow.outbox.newest("pending", 10)]
        later = {m["recipient"]: deferral(uow, m, ws.project.channels, ws.project.timezone, now)
                 for m in messages}
        at_ten = {m["recipient"]: deferral(uow, m, ws.project.channels, ws.project.timezone,
                                           datetime(2026, 10, 8, 10, 0, tzinfo=timezone.utc)) for m in messages}
    assert later == {"ap@alpha.example": datetime(2026, 10, 8, 6, 0, tzinfo=timezone.utc),  # 08:00 CEST
                     "ap@acme.example": datetime(2026, 10, 8, 13, 0, tzinfo=timezone.utc)}  # 08:00 CDT
    assert at_ten == {"ap@alpha.example": None, "ap@acme.example": datetime(2026, 10, 8, 13, 0, tzinfo=timezone.utc)}


def test_a_window_closing_before_it_opens_is_refused(project_dir: Path, database_url: str) -> None:
    with open(project_dir / "dunflow.yaml", "a", encoding="utf-8") as config:
        config.write('\nchannels:\n  sms: {window: {from: "20:00", to: "08:00"}}\n')
    result = cli(project_dir, database_url, "status", code=1)
    assert "channels.sms.window" in result.output and "must be after" in result.output
    assert "Traceback" not in result.output


def send_at(project: Path, database: str, now: datetime) -> dict[str, object]:
    import json

    result = CliRunner().invoke(main, ["--project", str(project), "--database", database, "send", "--format", "json"],
                                obj={"clock": FixedClock(now)}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_send_delivers_each_message_only_once_its_window_is_open_and_counts_no_attempt_before(
        project: Path, database_url: str, tmp_path: Path) -> None:
    (tmp_path / "invoices.csv").write_text(INVOICES, encoding="utf-8")
    cli(project, database_url, "import", "invoices", str(tmp_path / "invoices.csv"))
    cli(project, database_url, "run", "--as-of", "2026-10-08")
    early = send_at(project, database_url, datetime(2026, 10, 8, 5, 0, tzinfo=timezone.utc))  # closed for both
    assert (early["sent"], early["deferred"], early["failed"]) == (0, 2, 0)
    berlin_open = send_at(project, database_url, datetime(2026, 10, 8, 10, 0, tzinfo=timezone.utc))
    assert (berlin_open["sent"], berlin_open["deferred"]) == (1, 0)  # Chicago's waits, unclaimed, till 13:00
    both_open = send_at(project, database_url, datetime(2026, 10, 8, 14, 0, tzinfo=timezone.utc))
    assert (both_open["sent"], both_open["deferred"]) == (1, 0)
    ws = Workspace.open(project, database_url)
    with ws.store.reading() as uow:
        sent = [dict(r._mapping) for r in uow.outbox.newest("sent", 10)]
    assert sorted(m["recipient"] for m in sent) == ["ap@acme.example", "ap@alpha.example"]
    assert all(m["attempts"] == 1 for m in sent)  # waiting for a window is no failed attempt
