"""The file sink under the delivery state machine: leftovers cleaned, one bad message alone, outbox commands."""
from __future__ import annotations

from pathlib import Path

from tests.integration.delivery_support import Cli, seed


def loaded(project_dir: Path, database_url: str) -> Cli:
    cli = Cli(project_dir, database_url)
    cli("import", "debtors", str(project_dir / "debtors.csv"))
    return cli


def test_leftover_temp_files_of_a_killed_sender_are_removed_by_the_next_send(
        project_dir: Path, database_url: str) -> None:
    cli = loaded(project_dir, database_url)
    day = project_dir / "outbox" / "2026-12-01"
    day.mkdir(parents=True)
    (day / ".tmp-abc123").write_bytes(b"half a mail")
    seed(cli, 3)
    assert cli.json("send")["sent"] == 3
    assert sorted(p.name.startswith(".tmp-") for p in day.iterdir()) == [False, False, False]


def test_a_subject_with_a_line_break_fails_alone_and_the_rest_is_delivered(
        project_dir: Path, database_url: str) -> None:
    cli = loaded(project_dir, database_url)
    seed(cli, 34)
    cli.query("UPDATE outbox SET subject = 'Mahnung\nBcc: y@z.example' WHERE key = 'seed:7'")
    result = cli("send", code=1)
    assert "delivered 33 message(s)" in result.stdout and "1 dead" in result.stdout
    assert "header injection" in result.stderr
    assert len(list((project_dir / "outbox" / "2026-12-01").glob("*.eml"))) == 33
    dead = cli.json("outbox", "--status", "dead")
    assert len(dead) == 1 and dead[0]["attempts"] == 1 and "header injection" in dead[0]["dead_reason"]
    table = cli("outbox", "--status", "dead").stdout
    assert "dead" in table and "header injection" in table


def test_outbox_retry_requeues_named_or_all_dead_messages_and_refuses_unknown_ids(
        project_dir: Path, database_url: str) -> None:
    cli = loaded(project_dir, database_url)
    seed(cli, 3)
    cli.query("UPDATE outbox SET status = 'dead', attempts = 5, dead_reason = 'x' WHERE key IN ('seed:0', 'seed:1')")
    first, second, third = (r[0] for r in cli.query("SELECT id FROM outbox ORDER BY id"))
    assert cli.json("outbox", "retry", str(first), str(third)) == {"requeued": [first], "skipped": [third]}
    assert "no outbox message 999" in cli("outbox", "retry", "999", code=1).output
    assert "--dead" in cli("outbox", "retry", code=1).output
    assert cli.json("outbox", "retry", "--dead")["requeued"] == [second]
    rows = cli.json("outbox")
    assert {r["status"] for r in rows} == {"pending"} and {r["attempts"] for r in rows} == {0}
    assert cli.json("send")["sent"] == 3


def test_run_then_send_moves_the_ladder_as_before(project_dir: Path, database_url: str) -> None:
    cli = loaded(project_dir, database_url)
    cli("import", "invoices", str(project_dir / "invoices.csv"))
    cli("run", "--as-of", "2026-12-01")
    queued = cli.query("SELECT count(*) FROM outbox")[0][0]
    sent = cli.json("send", "--as-of", "2026-12-02")
    assert sent["sent"] == queued and sent["failed"] == 0
    assert cli.query("SELECT count(*) FROM cases WHERE last_step_on = '2026-12-02'")[0][0] > 0
    assert cli.json("send")["sent"] == 0
    assert cli.query("SELECT count(*) FROM delivery_attempts WHERE outcome = 'sent'")[0][0] == queued
