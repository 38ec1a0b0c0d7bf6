"""`dunflow simulate` on the command line: what-if side by side, a portfolio from files, the formats, and
mistakes reported as user errors (exit 1, nothing changed). SQLite and PostgreSQL."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dunflow.cli.main import main

PERIOD = ("--from", "2026-12-01", "--to", "2027-01-31")


class Cli:
    def __init__(self, project: Path, database: str) -> None:
        self.project, self.base = project, ["--project", str(project), "--database", database]

    def invoke(self, *args: str) -> Result:
        return CliRunner().invoke(main, [*self.base, *args], catch_exceptions=False)

    def __call__(self, *args: str) -> str:
        result = self.invoke(*args)
        assert result.exit_code == 0, result.output
        return result.stdout


@pytest.fixture
def demo(tmp_path: Path, database_url: str) -> Cli:
    cli = Cli(tmp_path / "demo", database_url)
    cli("init", str(cli.project))
    cli("import", "debtors", str(cli.project / "debtors.csv"))
    cli("import", "invoices", str(cli.project / "invoices.csv"))
    return cli


def test_compare_runs_another_policy_set_on_the_same_portfolio_side_by_side(demo: Cli, tmp_path: Path) -> None:
    other = tmp_path / "email-only"
    shutil.copytree(demo.project / "policies", other)
    b2b = other / "b2b-standard.yaml"
    b2b.write_text(b2b.read_text().replace("channels: [email, letter]", "channels: [email]")
                   + "migrate: {strategy: by_step}\n")  # in-flight invoices follow the new version
    data = json.loads(demo("simulate", *PERIOD, "--payments", "none", "--compare", str(other), "--format", "json"))
    assert data["policies"] == "current" and data["compare"]["policies"] == str(other)
    assert data["compare"]["from"] == data["from"] and set(data["compare"]["totals"]) == set(data["totals"])
    letters = data["totals"]["messages_by_channel"]["letter"]
    assert data["compare"]["totals"]["messages_by_channel"]["letter"] < letters  # first notices by e-mail only
    text = demo("simulate", *PERIOD, "--payments", "none", "--compare", str(other))
    assert "Totals" in text and str(other)[:20] in text


def test_the_same_policies_compared_give_the_same_timeline(demo: Cli) -> None:
    data = json.loads(demo("simulate", *PERIOD, "--seed", "2", "--compare", str(demo.project / "policies"),
                           "--format", "json"))
    assert data["compare"]["days"] == data["days"] and data["compare"]["totals"] == data["totals"]


def test_a_portfolio_file_is_simulated_instead_of_the_database(demo: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "portfolio"
    folder.mkdir()
    shutil.copy(demo.project / "debtors.csv", folder / "debtors.csv")
    shutil.copy(demo.project / "invoices.csv", folder / "invoices.csv")
    from_files = json.loads(demo("simulate", *PERIOD, "--payments", "none", "--portfolio", str(folder),
                                 "--format", "json"))
    from_database = json.loads(demo("simulate", *PERIOD, "--payments", "none", "--format", "json"))
    assert from_files["totals"] == from_database["totals"] and from_files["totals"]["messages"] > 0


def test_csv_has_one_row_per_day_and_figure(demo: Cli) -> None:
    lines = demo("simulate", *PERIOD, "--payments", "none", "--format", "csv").splitlines()
    assert lines[0] == "policies,date,kind,name,value"
    assert "current,2026-12-01,step,courtesy,2" in lines


@pytest.mark.parametrize(("args", "message"), [
    (("--from", "2027-01-31", "--to", "2026-12-01"), "is before --from"),
    ((*PERIOD, "--payments", "historical"), "no delivered notices"),
    ((*PERIOD, "--payments", "nonsense.yaml"), "cannot read the payment model"),
])
def test_mistakes_are_user_errors(demo: Cli, args: tuple[str, ...], message: str) -> None:
    result = demo.invoke("simulate", *args)
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.output


def test_a_model_with_a_probability_out_of_range_is_refused_with_its_key(demo: Cli, tmp_path: Path) -> None:
    model = tmp_path / "bad.yaml"
    model.write_text("kind: PaymentModel\nsteps: {reminder: {email: {probability: 1.5, within_days: 7}}}\n")
    result = demo.invoke("simulate", *PERIOD, "--payments", str(model))
    assert result.exit_code == 1 and "steps.reminder.email.probability: 1.5" in result.stderr


def test_a_simulation_cannot_start_before_the_last_run(demo: Cli) -> None:
    demo("run", "--as-of", "2026-12-10", "--send")
    result = demo.invoke("simulate", *PERIOD)
    assert result.exit_code == 1 and "last run was on 2026-12-10" in result.stderr
