"""Rate files: the shipped table, a project's newer periods, and located mistakes."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from dunflow.domain.law import MissingRate
from dunflow.errors import InputProblems
from dunflow.law.rate_files import load_rate_table


def project_rates(tmp_path: Path, text: str) -> Path:
    (tmp_path / "rates").mkdir()
    (tmp_path / "rates" / "extra.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_the_shipped_table_knows_every_kind_for_2025() -> None:
    table = load_rate_table()
    assert table.rate_on("DE-base", date(2025, 7, 1)).rate == D("1.27")
    assert table.rate_on("ECB-refi", date(2025, 1, 1)).rate == D("3.15")
    assert table.rate_on("NL-commercial", date(2024, 7, 1)).rate == D("12.25")
    assert "Bundesbank" in table.rate_on("DE-base", date(2025, 7, 1)).source
    with pytest.raises(MissingRate):
        table.rate_on("DE-base", date(2022, 12, 31))


def test_a_project_adds_a_newer_period_without_a_code_change(tmp_path: Path) -> None:
    root = project_rates(tmp_path, "kind: DE-base\nperiods:\n"
                                   "  - {from: 2026-07-01, to: 2026-12-31, rate: \"1.50\", source: \"test notice\"}\n")
    assert load_rate_table(root).rate_on("DE-base", date(2026, 8, 1)).rate == D("1.50")


def test_repeating_a_shipped_period_exactly_is_allowed(tmp_path: Path) -> None:
    root = project_rates(tmp_path, "kind: DE-base\nperiods:\n"
                                   "  - {from: 2025-07-01, to: 2025-12-31, rate: \"1.27\", source: \"copy\"}\n")
    assert load_rate_table(root).rate_on("DE-base", date(2025, 8, 1)).rate == D("1.27")


def test_a_contradicting_period_is_a_located_error(tmp_path: Path) -> None:
    root = project_rates(tmp_path, "kind: DE-base\nperiods:\n"
                                   "  - {from: 2026-07-01, to: 2026-12-31, rate: \"1.50\", source: \"a\"}\n"
                                   "  - {from: 2025-12-01, to: 2026-01-31, rate: \"9\", source: \"b\"}\n")
    with pytest.raises(InputProblems) as refused:
        load_rate_table(root)
    [problem] = refused.value.problems
    assert (problem.file.endswith("extra.yaml"), problem.line, problem.col) == (True, 4, 5)
    assert "overlaps 2025-07-01..2025-12-31" in problem.message


def test_a_period_without_source_or_with_a_float_rate_is_a_located_error(tmp_path: Path) -> None:
    root = project_rates(tmp_path, "kind: ECB-refi\nperiods:\n"
                                   "  - {from: 2026-07-01, to: 2026-12-31, rate: 2.15}\n"
                                   "  - {from: 2027-01-01, to: 2027-06-30, rate: \"x\", source: s}\n")
    with pytest.raises(InputProblems) as refused:
        load_rate_table(root)
    assert [(p.line, p.col, p.message.split()[0]) for p in refused.value.problems] == [
        (3, 5, "`source`"), (4, 46, "`rate`"),
    ]


def test_an_unknown_kind_is_a_located_error(tmp_path: Path) -> None:
    root = project_rates(tmp_path, "kind: FR-legal\nperiods: []\n")
    with pytest.raises(InputProblems) as refused:
        load_rate_table(root)
    assert (refused.value.problems[0].line, refused.value.problems[0].col) == (1, 7)
