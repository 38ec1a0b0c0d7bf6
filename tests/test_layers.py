"""The layers hold: import-linter checks the contracts in pyproject.toml `[tool.importlinter]`.

- `pure-domain`: dunflow.domain imports no database, template or I/O library and no other dunflow package;
- `cli-on-top`: nothing imports dunflow.cli;
- `engine-before-delivery`: the engine queues messages, it never imports dunflow.delivery;
- `no-events-cycle`, `allocation-in-ledger`, `timers-handed-in`: the event primitive does not build on
  arrangements, payment allocation lives in the ledger, the engine is handed its pause timers;
- `unit-of-work`: services reach the database only through the unit of work.
"""
from __future__ import annotations

import os
import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

import dunflow

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)} if pythonpath else dict(os.environ)
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def top_level_modules() -> set[str]:
    return {f"dunflow.{m.name}" for m in pkgutil.iter_modules(dunflow.__path__)}


def test_the_layer_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(contracts())} kept, 0 broken." in result.stdout


def test_every_top_level_module_is_named_in_the_contracts() -> None:
    """A new package must not slip past the contracts because nobody listed it."""
    found = contracts()
    domain_may_not_import = {m for m in found["pure-domain"]["forbidden_modules"] if m.startswith("dunflow.")}
    assert domain_may_not_import == top_level_modules() - {"dunflow.domain"}
    assert set(found["cli-on-top"]["source_modules"]) == top_level_modules() - {"dunflow.cli"}


VIOLATIONS = {
    "pure-domain": ("domain/money.py", "import sqlalchemy"),
    "cli-on-top": ("reporting/report.py", "from dunflow.cli import output"),
    "engine-before-delivery": ("engine/advance.py", "import dunflow.delivery.channels"),
    "no-events-cycle": ("events/firing.py", "import dunflow.events.arrangements"),
    "allocation-in-ledger": ("events/holds.py", "import dunflow.ledger.allocation"),
    "timers-handed-in": ("engine/run.py", "import dunflow.events.holds"),
    "unit-of-work": ("reporting/report.py", "import sqlalchemy"),
}


@pytest.mark.parametrize("contract", VIOLATIONS)
def test_an_import_across_a_layer_breaks_its_contract(contract: str, tmp_path: Path) -> None:
    """The check can fail: the same contracts run over a copy of the package with one forbidden import added."""
    copy = tmp_path / "dunflow"
    shutil.copytree(Path(dunflow.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    module, line = VIOLATIONS[contract]
    with (copy / module).open("a", encoding="utf-8") as source:
        source.write(f"\n{line}  # a forbidden import, on purpose\n")
    result = lint_imports(tmp_path, pythonpath=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    flowing = " ".join(result.stdout.split())  # long contract names wrap in lint-imports' report
    assert f"{contracts()[contract]['name']} BROKEN" in flowing
