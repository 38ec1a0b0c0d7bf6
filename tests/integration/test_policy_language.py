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
    """The steps taken, in order, once each (a step sent on two channels is recorded once per channel)."""
    steps = [(a["kind"], a["step"], a["at"]) for a in cli.invoice(number)["actions"] if a["kind"] != "transition"]
    return list(dict.fromkeys(steps))


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


# --- (b) issue-date anchors, months, repeating steps ---------------------------------------------------

B2B_HEAD = MODELINE + """\
apiVersion: dunflow/v1
kind: Policy
metadata: {name: b2b-standard}
applies_to:
  priority: 10
  match: {customer_type: business}
settings: {timezone: Europe/Berlin, calendar: DE, language: de}
"""

TIMED = B2B_HEAD + """\
steps:
  - id: reminder
    after: {days: 30, from: issue_date}
    repeat: {every: {days: 14}, times: 3}
    channels: [email]
    template: b2b/reminder
  - id: first-notice
    after: {months: 2}
    channels: [email]
    template: b2b/first-notice
escalation:
  id: handover
  after: {months: 1, from: previous_step}
  to: collection_agency
  channels: [letter]
  template: b2b/handover
"""


def test_issue_date_anchor_months_and_a_repeating_step_through_the_runner(project_dir: Path, database_url: str,
                                                                          tmp_path: Path) -> None:
    replace_policy(project_dir, "b2b-standard", "b2b-standard", TIMED)
    cli = Dunflow(project_dir, database_url)
    cli("validate")
    cli("import", "invoices", str(write_csv(tmp_path, "i.csv", f"""{HEADER}
T-1,B1,EUR,1190.00,,2026-10-01,2026-10-31,Alpha GmbH,business,DE,de,ap@alpha.example
""")))
    for day in ("2026-10-30", "2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23", "2026-11-30", "2026-12-14",
                "2026-12-28", "2026-12-31", "2027-01-29", "2027-02-01"):
        cli("run", "--as-of", day, "--send")  # each notice reaches the debtor on its run day (issue 13.2)
    assert actions_of(cli, "T-1") == [
        ("step", "reminder", "2026-11-02"),  # issue date + 30 days = Sat 10-31, the next business day
        ("step", "reminder", "2026-11-16"),  # again 14 days later
        ("step", "reminder", "2026-11-30"),  # third and last time
        ("step", "first-notice", "2026-12-31"),  # due date + 2 months
        ("escalation", "handover", "2027-02-01"),  # one month after the first notice: Sun 01-31 → Monday
    ]
    rules = [a["rule"] for a in cli.invoice("T-1")["actions"] if a["step"] == "reminder"]
    assert "reminder again (2 of at most 3): every 14 days after the last one (2026-11-02)" in rules[1]


def test_show_invoice_names_the_coming_repetition(project_dir: Path, database_url: str, tmp_path: Path) -> None:
    replace_policy(project_dir, "b2b-standard", "b2b-standard", TIMED)
    cli = Dunflow(project_dir, database_url)
    cli("import", "invoices", str(write_csv(tmp_path, "i.csv", f"""{HEADER}
T-1,B1,EUR,1190.00,,2026-10-01,2026-10-31,Alpha GmbH,business,DE,de,ap@alpha.example
""")))
    cli("run", "--as-of", "2026-11-02")
    cli("send", "--as-of", "2026-11-02")  # a step counts once delivered (issue 13.2)
    assert cli.invoice("T-1")["next"]["step"] == "reminder"
    assert cli.invoice("T-1")["next"]["at"] == "2026-11-16"


def test_mistakes_in_the_new_delays_are_located(project_dir: Path) -> None:
    text = TIMED.replace("after: {days: 30, from: issue_date}", "after: {days: 30, from: issue_dat}") \
        .replace("repeat: {every: {days: 14}, times: 3}", "repeat: {every: {weeks: 2}, times: 1}") \
        .replace("after: {months: 2}", "after: {from: due_date}")
    replace_policy(project_dir, "b2b-standard", "b2b-standard", text)
    err = validate(project_dir).stderr
    assert "policies/b2b-standard.yaml:11:29: error: steps.0.after.from: 'issue_dat' is not allowed here" in err
    assert "did you mean 'issue_date'?" in err
    assert "policies/b2b-standard.yaml:12:22: error: steps.0.repeat.every: unknown key 'weeks'" in err
    assert "policies/b2b-standard.yaml:12:40: error: steps.0.repeat.times: 1 is less than the minimum of 2" in err
    assert "policies/b2b-standard.yaml:16:12: error: steps.1.after: needs 'days' or 'months' [schema/anyOf]" in err


# --- (c) a debtor-level trigger for small invoices -----------------------------------------------------

SMALL = B2B_HEAD.replace("settings: {timezone: Europe/Berlin, calendar: DE, language: de}\n", """\
settings:
  timezone: Europe/Berlin
  calendar: DE
  language: de
  minimum_open_amount: "50.00"
  debtor_minimum: {default: "100.00"}
  group_per_debtor: true
""") + """\
steps:
  - {id: reminder, after: {days: 7}, channels: [email], template: b2b/reminder}
  - {id: first-notice, after: {days: 21}, channels: [email], template: b2b/first-notice}
escalation: {id: handover, after: {days: 60}, to: collection_agency, channels: [letter], template: b2b/handover}
"""


def small_invoices(debtor: str, name: str, first: int, count: int, due: str) -> str:
    return "".join(f"S-{n:03d},{debtor},EUR,9.00,,2026-09-01,{due},{name},business,DE,de,ap@{debtor}.example\n"
                   for n in range(first, first + count))


def test_small_invoices_are_dunned_together_once_the_debtors_total_reaches_the_threshold(
        project_dir: Path, database_url: str, tmp_path: Path) -> None:
    replace_policy(project_dir, "b2b-standard", "b2b-standard", SMALL)
    cli = Dunflow(project_dir, database_url)
    cli("validate")
    cli("import", "invoices", str(write_csv(tmp_path, "a.csv", HEADER + "\n" + small_invoices(
        "B1", "Alpha", 1, 20, "2026-10-01") + small_invoices("B2", "Beta", 101, 3, "2026-10-01"))))
    cli("run", "--as-of", "2026-10-08")
    alpha = [m for m in cli.outbox() if m[0] == "B1"]
    assert [(step, len(numbers)) for _, step, _, numbers in alpha] == [("reminder", 20)]  # 20 × 9.00 = 180.00
    assert "add up to 180.00 EUR, at least the debtor minimum 100.00 EUR" in cli.invoice("S-001")["actions"][0]["rule"]
    beta = cli.invoice("S-101")
    assert (beta["state"], beta["actions"], beta["next"]["at"]) == ("new", [], "2026-10-15")  # waits, not dropped
    assert "dunned once the debtor's overdue invoices in EUR add up to 100.00 EUR" in beta["next"]["why"]
    assert not [m for m in cli.outbox() if m[0] == "B2"]
    cli("import", "invoices", str(write_csv(tmp_path, "b.csv", HEADER + "\n" + small_invoices(
        "B2", "Beta", 104, 9, "2026-10-10"))))
    cli("run", "--as-of", "2026-10-15")  # 12 × 9.00 = 108.00 overdue now
    assert cli.invoice("S-101")["state"] == "reminder"
    beta_notices = [numbers for code, _, _, numbers in cli.outbox() if code == "B2"]
    assert len(beta_notices) == 1 and len(beta_notices[0]) == 12


def test_without_a_debtor_minimum_a_small_invoice_still_stops_being_dunned(project_dir: Path, database_url: str,
                                                                        tmp_path: Path) -> None:
    replace_policy(project_dir, "b2b-standard", "b2b-standard", SMALL.replace('  debtor_minimum: {default: "100.00"}\n', ""))
    cli = Dunflow(project_dir, database_url)
    cli("import", "invoices", str(write_csv(tmp_path, "a.csv", HEADER + "\n" + small_invoices(
        "B1", "Alpha", 1, 20, "2026-10-01"))))
    cli("run", "--as-of", "2026-10-08")
    assert cli.invoice("S-001")["state"] == "below_minimum" and cli.outbox() == []


def test_a_debtor_minimum_not_above_the_invoice_minimum_is_a_located_error(project_dir: Path) -> None:
    replace_policy(project_dir, "b2b-standard", "b2b-standard",
                   SMALL.replace('debtor_minimum: {default: "100.00"}', 'debtor_minimum: {default: "20.00"}'))
    err = validate(project_dir).stderr
    assert "policies/b2b-standard.yaml:13:29: error: debtor minimum 20.00 is not above the invoice minimum 50.00" \
        in err, err
    assert "[debtor-minimum]" in err


# --- (d) weekends and holidays per channel --------------------------------------------------------------

ANY_DAY = B2B_HEAD.replace("settings: {timezone: Europe/Berlin, calendar: DE, language: de}\n", """\
settings:
  timezone: Europe/Berlin
  calendar: DE
  language: de
  send_any_day: [email, sms]
""") + """\
steps:
  - {id: reminder, after: {days: 7}, channels: [email], template: b2b/reminder}
  - {id: first-notice, after: {days: 14}, channels: [email, letter], template: b2b/first-notice}
escalation: {id: handover, after: {days: 60}, to: collection_agency, channels: [letter], template: b2b/handover}
"""


def test_email_goes_out_on_a_weekend_when_the_policy_says_so_letters_wait_for_monday(
        project_dir: Path, database_url: str, tmp_path: Path) -> None:
    replace_policy(project_dir, "b2b-standard", "b2b-standard", ANY_DAY)
    cli = Dunflow(project_dir, database_url)
    cli("validate")
    cli("import", "invoices", str(write_csv(tmp_path, "i.csv", f"""{HEADER}
W-1,B1,EUR,500.00,,2026-09-24,2026-10-24,Alpha GmbH,business,DE,de,ap@alpha.example
""")))
    saturday = json.loads(cli("run", "--as-of", "2026-10-31", "--send", "--format", "json").stdout)  # due + 7: Sat
    assert (saturday["advanced"], saturday["deferred"]) == (1, 0)
    assert cli.invoice("W-1")["next"]["at"] == "2026-11-09"  # due + 14 is a Saturday, and a letter goes too
    late = json.loads(cli("run", "--as-of", "2026-11-14", "--format", "json").stdout)  # runs missed; a Saturday
    assert (late["advanced"], late["deferred"]) == (0, 1)
    cli("run", "--as-of", "2026-11-16", "--send")
    assert actions_of(cli, "W-1") == [("step", "reminder", "2026-10-31"), ("step", "first-notice", "2026-11-16")]


def test_a_channel_that_cannot_go_out_any_day_is_a_located_error(project_dir: Path) -> None:
    replace_policy(project_dir, "b2b-standard", "b2b-standard",
                   ANY_DAY.replace("send_any_day: [email, sms]", "send_any_day: [email, letter]"))
    err = validate(project_dir).stderr
    assert "policies/b2b-standard.yaml:12:25: error: settings.send_any_day.1: 'letter' is not allowed here" in err, err
    assert "use one of: email, sms, webhook" in err


# --- (e) per-invoice contact ------------------------------------------------------------------------------

WITH_EMAIL = HEADER + ",email"


def recipients(cli: Dunflow) -> list[tuple[str, str, list[str]]]:
    rows = cli.query("SELECT channel, recipient, invoice_numbers FROM outbox ORDER BY id")
    return sorted((channel, recipient.splitlines()[0], numbers if isinstance(numbers, list) else json.loads(numbers))
                  for channel, recipient, numbers in rows)


def test_an_invoice_with_its_own_email_is_dunned_there_before_the_debtors_address(
        project_dir: Path, database_url: str, tmp_path: Path) -> None:
    cli = Dunflow(project_dir, database_url)
    cli("import", "invoices", str(write_csv(tmp_path, "i.csv", f"""{WITH_EMAIL}
P-1,B1,EUR,300.00,,2026-10-01,2026-11-02,Alpha GmbH,business,DE,de,ap@alpha.example,po-desk@alpha.example
P-2,B1,EUR,200.00,,2026-10-01,2026-11-02,Alpha GmbH,business,DE,de,ap@alpha.example,
P-3,B2,EUR,100.00,,2026-10-01,2026-11-02,Beta AG,business,DE,de,,billing@beta.example
""")))
    cli("run", "--as-of", "2026-11-09")  # the reminder: e-mail, letter as fallback
    assert recipients(cli) == [("email", "ap@alpha.example", ["P-2"]),
                               ("email", "billing@beta.example", ["P-3"]),  # no debtor e-mail, yet no letter
                               ("email", "po-desk@alpha.example", ["P-1"])]


def test_a_malformed_invoice_email_is_a_located_import_error(project_dir: Path, database_url: str,
                                                              tmp_path: Path) -> None:
    cli = Dunflow(project_dir, database_url)
    result = cli("import", "invoices", str(write_csv(tmp_path, "i.csv", f"""{WITH_EMAIL}
P-1,B1,EUR,300.00,,2026-10-01,2026-11-02,Alpha GmbH,business,DE,de,ap@alpha.example,po-desk at alpha
""")), code=1)
    assert re.search(r"i\.csv:2:\d+: error: email 'po-desk at alpha' is not one e-mail address", result.stderr), \
        result.stderr
    assert cli.query("SELECT count(*) FROM invoices") == [(0,)]
