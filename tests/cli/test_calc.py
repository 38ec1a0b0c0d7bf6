"""`dunflow calc`: the worked examples through the command line, in text and JSON, and refusals as user errors."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from dunflow.cli.main import main


def calc(*args: str, project: Path | None = None) -> Result:
    prefix = ["--project", str(project)] if project else []
    return CliRunner().invoke(main, [*prefix, "calc", *args], catch_exceptions=False)


def test_german_interest_across_the_base_rate_change_as_json() -> None:
    """1000.00 due 2025-06-14 to 2025-07-14: 16 days at 11.27 % + 14 days at 10.27 % = 8.879452 → 8.88."""
    result = calc("interest", "--principal", "1000.00", "--due", "2025-06-14", "--as-of", "2025-07-14",
                  "--law", "DE", "--debtor-type", "business", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["amount"] == "8.88" and data["start"] == "2025-06-15" and data["days"] == 30
    assert [(p["start"], p["days"], p["rate"], p["amount"]) for p in data["periods"]] == [
        ("2025-06-15", 16, "11.27", "4.940274"), ("2025-07-01", 14, "10.27", "3.939178")]
    assert "Bundesbank" in data["periods"][1]["rate_source"]


def test_interest_text_shows_the_hand_calculation() -> None:
    result = calc("interest", "--principal", "1000.00", "--due", "2025-06-14", "--as-of", "2025-07-14",
                  "--law", "DE")
    assert result.exit_code == 0
    assert "2025-06-15..2025-06-30: 1000.00 × 11.27 % × 16/365 = 4.940274" in result.stdout
    assert result.stdout.startswith("Interest on 1000.00 from 2025-06-15 to 2025-07-14 (both included): 8.88")


def test_contractual_interest_from_a_given_first_day_and_day_count() -> None:
    """1000.00 at 8 % for 2025-06-14..2025-07-14 (31 days): act/360 → 1000 × 0.08 × 31 / 360 = 6.888889 → 6.89."""
    result = calc("interest", "--principal", "1000.00", "--from", "2025-06-14", "--as-of", "2025-07-14",
                  "--rate", "8.00", "--day-count", "act/360", "--format", "json")
    data = json.loads(result.stdout)
    assert (data["amount"], data["days"], data["day_count"]) == ("6.89", 31, "act/360")


def test_a_day_without_a_known_rate_is_a_user_error() -> None:
    result = calc("interest", "--principal", "1000.00", "--due", "2022-12-01", "--as-of", "2023-01-14", "--law", "DE")
    assert result.exit_code == 1
    assert "error: no DE-base rate known for 2022-12-02" in result.stderr and "rates/" in result.stderr


def test_a_project_rates_folder_extends_the_table(tmp_path: Path) -> None:
    (tmp_path / "dunflow.yaml").write_text("database: sqlite:///dunflow.db\n", encoding="utf-8")
    (tmp_path / "rates").mkdir()
    (tmp_path / "rates" / "de-2026-2.yaml").write_text(
        "kind: DE-base\nperiods:\n  - {from: 2026-07-01, to: 2026-12-31, rate: \"1.00\", source: \"test\"}\n",
        encoding="utf-8")
    result = calc("interest", "--principal", "3650.00", "--due", "2026-07-31", "--as-of", "2026-08-10", "--law", "DE",
                  "--format", "json", project=tmp_path)
    assert json.loads(result.stdout)["amount"] == "10.00"  # 3650 × 10 % × 10 / 365


def test_interest_needs_exactly_one_of_law_and_rate() -> None:
    result = calc("interest", "--principal", "1.00", "--due", "2025-01-01", "--as-of", "2025-02-01")
    assert result.exit_code == 1 and "either --law" in result.stderr


def test_collection_costs_with_vat_as_json() -> None:
    """3000.00: 15 % of 2500 = 375.00, 10 % of 500 = 50.00 → 425.00; VAT 21 % = 89.25 → 514.25."""
    data = json.loads(calc("collection-costs", "3000.00", "--law", "NL", "--vat", "21", "--format", "json").stdout)
    assert (data["amount"], data["vat_amount"], data["total"]) == ("425.00", "89.25", "514.25")
    assert [(b["percent"], b["portion"]) for b in data["brackets"]] == [("15", "2500"), ("10", "500.00")]
    assert not data["minimum_applied"] and not data["maximum_applied"]


def test_collection_costs_text_names_the_minimum() -> None:
    result = calc("collection-costs", "125.00", "--law", "NL")
    assert result.stdout.splitlines()[0] == "Collection costs on 125.00: 40.00"
    assert "below the minimum: 40.00" in result.stdout


def test_collection_costs_without_a_statutory_scale_are_refused() -> None:
    result = calc("collection-costs", "3000.00", "--law", "DE")
    assert result.exit_code == 1 and "no statutory collection-cost scale" in result.stderr


def test_compensation_for_a_consumer_is_zero_with_the_reason() -> None:
    data = json.loads(calc("compensation", "--law", "DE", "--debtor-type", "consumer", "--format", "json").stdout)
    assert data["amount"] == "0.00" and "consumers" in data["reason"]
    assert calc("compensation", "--law", "EU").stdout.startswith("Compensation: 40.00 EUR")
