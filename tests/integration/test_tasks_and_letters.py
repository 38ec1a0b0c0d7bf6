"""The queue channel and printable letters behind the real send path, and `dunflow tasks` closing a task
("contacted" pauses or resumes the ladder as the step's `on_contacted` says), on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from dunflow.bootstrap import Workspace
from dunflow.clock import FixedClock
from dunflow.cli.main import main
from dunflow.delivery.channels import Channel, FileSink
from dunflow.delivery.dispatch import send_pending
from dunflow.delivery.letters import PdfLetterChannel, postal_address
from dunflow.delivery.queue import QueueChannel, open_task

DEBTORS = """\
code,name,type,country,language,email,phone,address,postal_code,city
B1,Grünwald GmbH,business,DE,de,ap@gruenwald.example,+49 30 1234567,Weißdornweg 7,10115,Berlin
"""
INVOICES = """\
number,debtor_code,currency,amount,open_amount,issue_date,due_date
R-1,B1,EUR,1190.00,1190.00,2026-09-01,2026-10-01
"""
REMINDER = """    channels: [email]
    fallback: letter
    template: b2b/reminder"""


class Dunflow:
    def __init__(self, project: Path, database: str) -> None:
        self.project, self.database = project, database

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(main, ["--project", str(self.project), "--database", self.database, *args],
                                    catch_exceptions=False)
        assert result.exit_code == code, result.output
        assert "Traceback" not in result.output
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--format", "json").stdout)

    def send(self, on: date, channels: dict[str, Channel]) -> None:
        """`dunflow send`'s path (claim, refresh, deliver, mark) with these channels, the file sink for the rest."""
        ws = Workspace.open(self.project, self.database, FixedClock.on(on))
        sink = FileSink(ws.project.outbox_dir)
        send_pending(ws.store, lambda name: channels.get(name, sink), ws.refresher, on=on)
        for channel in channels.values():
            getattr(channel, "close", lambda: None)()

    def workspace(self, on: date) -> Workspace:
        return Workspace.open(self.project, self.database, FixedClock.on(on))


@pytest.fixture(autouse=True)
def font_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Letters cut their fonts into a cache folder of the test session, not the user's."""
    from dunflow.delivery import letters

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
    letters.letter_fonts.cache_clear()


def project_with(project_dir: Path, reminder: str) -> Path:
    policy = project_dir / "policies" / "b2b-standard.yaml"
    text = policy.read_text(encoding="utf-8")
    assert REMINDER in text
    policy.write_text(text.replace(REMINDER, reminder), encoding="utf-8")
    return project_dir


@pytest.fixture
def dunflow(project_dir: Path, database_url: str, tmp_path: Path) -> Dunflow:
    (tmp_path / "debtors.csv").write_text(DEBTORS, encoding="utf-8")
    (tmp_path / "invoices.csv").write_text(INVOICES, encoding="utf-8")
    cli = Dunflow(project_with(project_dir, "    channels: [task]\n    template: b2b/reminder\n"
                                            "    on_contacted: {pause: 14d}"), database_url)
    cli("import", "debtors", str(tmp_path / "debtors.csv"))
    cli("import", "invoices", str(tmp_path / "invoices.csv"))
    return cli


def queue(cli: Dunflow, on: date) -> dict[str, Channel]:
    return {"task": QueueChannel(cli.workspace(on).store)}


def test_a_task_step_becomes_one_call_task_however_often_it_is_delivered(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-10-08")
    dunflow.send(date(2026, 10, 8), queue(dunflow, date(2026, 10, 8)))
    [task] = dunflow.json("tasks")
    assert (task["kind"], task["debtor"], task["phone"], task["invoice"], task["step"], task["status"]) == (
        "call", "B1", "+49 30 1234567", "R-1", "reminder", "open")
    ws = dunflow.workspace(date(2026, 10, 8))
    with ws.store.reading() as uow:
        [message] = [dict(r._mapping) for r in uow.outbox.newest("sent", 10)]
    assert QueueChannel(ws.store).deliver(message) == f"task:{task['id']}"  # a repeated delivery
    with ws.store.writing() as uow:
        again = open_task(uow, kind="delivery_failed", debtor_id=message["debtor_id"], invoice_id=None,
                          message_key=message["key"], reason="dead")
    assert again == task["id"]
    assert len(dunflow.json("tasks", "--status", "all")) == 1


def test_contacted_pauses_the_ladder_for_the_days_the_step_says(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-10-08")
    dunflow.send(date(2026, 10, 8), queue(dunflow, date(2026, 10, 8)))
    [task] = dunflow.json("tasks")
    done = dunflow.json("tasks", "done", str(task["id"]), "--note", "pays on the 20th", "--outcome", "contacted",
                        "--as-of", "2026-10-09")
    assert (done["status"], done["outcome"], done["note"], done["ladder"]) == (
        "done", "contacted", "pays on the 20th", "paused until 2026-10-23")
    assert dunflow.json("tasks") == []
    assert dunflow.json("run", "--as-of", "2026-10-16")["messages"] == 0  # first notice due, but held
    assert dunflow.json("show", "invoice", "R-1")["state"] == "held"
    resumed = dunflow.json("run", "--as-of", "2026-10-23")
    assert resumed["steps"] == {"first-notice": 1}


def test_closing_a_task_twice_or_an_unknown_one_is_refused(dunflow: Dunflow) -> None:
    dunflow("run", "--as-of", "2026-10-08")
    dunflow.send(date(2026, 10, 8), queue(dunflow, date(2026, 10, 8)))
    [task] = dunflow.json("tasks")
    dunflow("tasks", "done", str(task["id"]), "--note", "no answer", "--outcome", "no_answer")
    assert "already done" in dunflow("tasks", "done", str(task["id"]), "--note", "x", code=1).output
    assert "no task 999" in dunflow("tasks", "done", "999", "--note", "x", code=1).output
    [closed] = dunflow.json("tasks", "--status", "done")
    assert (closed["outcome"], closed["note"]) == ("no_answer", "no answer")
    assert dunflow.json("show", "invoice", "R-1")["state"] != "held"  # no_answer leaves the ladder alone
    assert "pays" not in dunflow("tasks", "--status", "all").output


def test_contacted_with_resume_releases_a_hold(project_dir: Path, database_url: str, tmp_path: Path) -> None:
    (tmp_path / "invoices.csv").write_text(INVOICES, encoding="utf-8")
    (tmp_path / "debtors.csv").write_text(DEBTORS, encoding="utf-8")
    cli = Dunflow(project_with(project_dir, "    channels: [task]\n    template: b2b/reminder\n"
                                            "    on_contacted: resume"), database_url)
    cli("import", "debtors", str(tmp_path / "debtors.csv"))
    cli("import", "invoices", str(tmp_path / "invoices.csv"))
    cli("run", "--as-of", "2026-10-08")
    cli.send(date(2026, 10, 8), queue(cli, date(2026, 10, 8)))
    cli("hold", "B1", "--reason", "waiting for the call", "--as-of", "2026-10-09")
    [task] = cli.json("tasks")
    done = cli.json("tasks", "done", str(task["id"]), "--note", "sorted out", "--outcome", "contacted",
                    "--as-of", "2026-10-10")
    assert done["ladder"] == "resumed (hold released)"
    assert cli.json("show", "invoice", "R-1")["state"] != "held"


def test_a_letter_goes_through_send_with_the_imported_postal_address(dunflow: Dunflow, tmp_path: Path) -> None:
    dunflow("run", "--as-of", "2026-10-08")
    dunflow.send(date(2026, 10, 8), queue(dunflow, date(2026, 10, 8)))
    dunflow("run", "--as-of", "2026-10-16")  # the first notice: e-mail and letter
    ws = dunflow.workspace(date(2026, 10, 16))

    def address(message: dict[str, Any]) -> Any:
        with ws.store.reading() as uow:
            return postal_address(uow, message)

    folder = tmp_path / "print"
    dunflow.send(date(2026, 10, 16), {"letter": PdfLetterChannel(folder, ws.project.creditor, address)})
    [letter] = list((folder / "2026-10-16").glob("*.pdf"))
    printed = subprocess.run(["pdftotext", "-layout", str(letter), "-"], capture_output=True, text=True,
                             check=True).stdout
    assert "Grünwald GmbH" in printed and "Weißdornweg 7" in printed and "10115 Berlin" in printed
    assert "R-1" in printed
    assert (folder / "2026-10-16.pdf").exists()
    statuses = {r["channel"]: r["status"] for r in dunflow.json("outbox") if r["step"] == "first-notice"}
    assert statuses == {"email": "sent", "letter": "sent"}


def test_the_registry_factories_build_working_channels(dunflow: Dunflow) -> None:
    from dunflow.delivery.letters import pdf_channel
    from dunflow.delivery.queue import queue_channel
    from dunflow.errors import DunflowError

    ws = dunflow.workspace(date(2026, 10, 8))
    dunflow("run", "--as-of", "2026-10-08")
    dunflow.send(date(2026, 10, 8), {"task": queue_channel({"due_days": 2}, ws.project, ws.store)})
    [task] = dunflow.json("tasks")
    assert task["due_on"] == "2026-10-10"
    letters = pdf_channel({"folder": "print"}, ws.project, ws.store)
    assert letters.folder == ws.project.root / "print"
    with pytest.raises(DunflowError, match="outside the project"):
        pdf_channel({"folder": "../elsewhere"}, ws.project, ws.store)


def test_two_senders_delivering_one_task_message_at_once_make_one_task(dunflow: Dunflow) -> None:
    import threading

    dunflow("run", "--as-of", "2026-10-08")
    ws = dunflow.workspace(date(2026, 10, 8))
    with ws.store.reading() as uow:
        [message] = [dict(r._mapping) for r in uow.outbox.newest("pending", 10)]
    start, results, errors = threading.Barrier(4), [], []

    def deliver() -> None:
        channel = QueueChannel(dunflow.workspace(date(2026, 10, 8)).store)
        start.wait()
        try:
            results.append(channel.deliver(message))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(results)) == 1
    assert len(dunflow.json("tasks", "--status", "all")) == 1


def test_a_project_switches_letters_to_pdf_and_tasks_to_the_queue_in_dunflow_yaml(dunflow: Dunflow) -> None:
    with (dunflow.project / "dunflow.yaml").open("a", encoding="utf-8") as config:
        config.write("channels:\n  letter: {type: pdf, folder: print}\n  task: {type: queue, due_days: 1}\n")
    dunflow("run", "--as-of", "2026-10-08")
    dunflow("send", "--as-of", "2026-10-08")
    [task] = dunflow.json("tasks")  # the reminder step's channel is `task`
    assert (task["kind"], task["due_on"]) == ("call", "2026-10-09")
    dunflow("run", "--as-of", "2026-10-16")  # the first notice: e-mail (file sink) and letter (PDF)
    dunflow("send", "--as-of", "2026-10-16")
    letters = sorted((dunflow.project / "print").rglob("*.pdf"))
    assert [p.name for p in letters if p.parent.name == "2026-10-16"], letters
    assert not list((dunflow.project / "outbox").rglob("*letter*.json"))
    assert list((dunflow.project / "outbox").rglob("*.eml"))
