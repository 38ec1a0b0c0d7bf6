"""`dunflow report`: the README's worked example, computed by hand, on SQLite and PostgreSQL.

The portfolio (one business debtor, EUR), as of 2027-03-31 with the default 90-day period (2027-01-01..03-31):

| invoice | issued | due | amount | paid |
|---|---|---|---:|---|
| W-D | 2026-11-10 | 2026-12-10 | 1500.00 | 2027-01-15 |
| W-E | 2026-12-01 | 2026-12-31 | 500.00 | 2027-01-05 |
| W-A | 2027-01-10 | 2027-02-09 | 1000.00 | 2027-02-20 |
| W-F | 2027-01-05 | 2027-01-20 | 800.00 | open (70 days late) |
| W-G | 2027-01-25 | 2027-02-24 | 600.00 | open (35 days late) |
| W-B | 2027-02-05 | 2027-03-07 | 2000.00 | open (24 days late) |
| W-C | 2027-03-15 | 2027-04-14 | 4000.00 | open (not due) |

AR at the start (2026-12-31) = 1500 + 500 = 2000; credit sales = 1000 + 800 + 600 + 2000 + 4000 = 8400;
AR at the end = 7400, of which current 4000.
DSO standard = 7400 / 8400 x 90 = 79.29 → 79.3. Countback: 7400 - 4000 (March, 31 days) = 3400; - 2000
(February, 28) = 1400; January's 2400 do not fit: 31 x 1400 / 2400 = 18.08 → 31 + 28 + 18.08 = 77.1.
Best possible DSO = 4000 / 8400 x 90 = 42.9; ADD = 79.29 - 42.86 = 36.4.
CEI = (2000 + 8400 - 7400) / (2000 + 8400 - 4000) x 100 = 3000 / 6400 x 100 = 46.9.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_json_output import Dunflow as Cli

WORKED = """\
number,debtor_code,currency,amount,issue_date,due_date,debtor_name,debtor_type,debtor_country,debtor_email
W-D,DW,EUR,1500.00,2026-11-10,2026-12-10,Worked GmbH,business,DE,ap@worked.example
W-E,DW,EUR,500.00,2026-12-01,2026-12-31,Worked GmbH,business,DE,ap@worked.example
W-A,DW,EUR,1000.00,2027-01-10,2027-02-09,Worked GmbH,business,DE,ap@worked.example
W-F,DW,EUR,800.00,2027-01-05,2027-01-20,Worked GmbH,business,DE,ap@worked.example
W-G,DW,EUR,600.00,2027-01-25,2027-02-24,Worked GmbH,business,DE,ap@worked.example
W-B,DW,EUR,2000.00,2027-02-05,2027-03-07,Worked GmbH,business,DE,ap@worked.example
W-C,DW,EUR,4000.00,2027-03-15,2027-04-14,Worked GmbH,business,DE,ap@worked.example
"""
TWO = """\
number,debtor_code,currency,amount,issue_date,due_date,debtor_name,debtor_type,debtor_country,debtor_email
X-1,DX1,EUR,100.00,2026-12-04,2027-01-04,Xi GmbH,business,DE,ap@xi.example
X-2,DX2,EUR,200.00,2026-12-04,2027-01-04,Omikron AG,business,DE,ap@omikron.example
"""


@pytest.fixture
def empty(tmp_path: Path, database_url: str) -> Cli:
    project = tmp_path / "p"
    cli = Cli(project, database_url)
    cli("init", "--no-sample-data", str(project))
    return cli


@pytest.fixture
def worked(empty: Cli) -> Cli:
    empty("import", "invoices", "-", stdin=WORKED)
    for number, amount, on in (("W-D", "1500.00", "2027-01-15"), ("W-E", "500.00", "2027-01-05"),
                               ("W-A", "1000.00", "2027-02-20")):
        empty("payments", "add", number, amount, "--date", on)
    return empty


def test_aging_puts_each_open_amount_in_its_bucket(worked: Cli) -> None:
    data = worked.json("report", "aging", "--as-of", "2027-03-31")
    assert data["rows"] == [{"currency": "EUR", "current": "4000.00", "1-30": "2000.00", "31-60": "600.00",
                             "61-90": "800.00", "90+": "0.00", "total": "7400.00"}]


def test_aging_on_an_earlier_day_adds_back_what_was_paid_later(worked: Cli) -> None:
    data = worked.json("report", "aging", "--as-of", "2026-12-31", "--by", "debtor")
    assert data["rows"] == [{"currency": "EUR", "debtor": "DW", "current": "500.00", "1-30": "1500.00",
                             "31-60": "0.00", "61-90": "0.00", "90+": "0.00", "total": "2000.00"}]


def test_dso_standard_countback_best_possible_and_add_match_the_hand_computed_example(worked: Cli) -> None:
    data = worked.json("report", "dso", "--as-of", "2027-03-31")
    assert data["rows"] == [{"currency": "EUR", "receivables": "7400.00", "current": "4000.00",
                             "credit_sales": "8400.00", "dso_standard": "79.3", "dso_countback": "77.1",
                             "best_possible_dso": "42.9", "add": "36.4"}]


def test_cei_matches_the_hand_computed_example(worked: Cli) -> None:
    data = worked.json("report", "cei", "--as-of", "2027-03-31")
    assert data["rows"] == [{"currency": "EUR", "ar_start": "2000.00", "credit_sales": "8400.00",
                             "ar_end": "7400.00", "current_ar_end": "4000.00", "cei": "46.9"}]


def test_reports_print_as_csv_and_table(worked: Cli) -> None:
    assert worked("report", "cei", "--as-of", "2027-03-31", "--format", "csv").splitlines() == [
        "currency,ar_start,credit_sales,ar_end,current_ar_end,cei", "EUR,2000.00,8400.00,7400.00,4000.00,46.9"]
    assert "46.9" in worked("report", "cei", "--as-of", "2027-03-31")


def test_effectiveness_counts_payments_within_7_and_14_days_after_a_delivered_reminder(empty: Cli) -> None:
    empty("import", "invoices", "-", stdin=TWO)
    empty("run", "--as-of", "2027-01-11", "--send")  # both get the reminder (due + 7), by e-mail
    empty("payments", "add", "X-1", "100.00", "--date", "2027-01-16")  # 5 days after
    empty("payments", "add", "X-2", "200.00", "--date", "2027-01-21")  # 10 days after
    data = empty.json("report", "effectiveness", "--as-of", "2027-02-28")
    assert data["rows"] == [{"step": "reminder", "channel": "email", "invoices": 2, "paid_7": 1, "paid_14": 2,
                             "share_7": "50.0", "share_14": "100.0"}]
    activity = empty.json("report", "activity", "--as-of", "2027-01-31")
    assert activity["rows"] == [{"date": "2027-01-11", "channel": "email", "messages": 2}]
