"""`dunflow --help` answers at once: no database, template or spreadsheet library is imported for it."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("sqlalchemy", "alembic", "jinja2", "babel", "rich", "transitions", "openpyxl", "holidays", "psycopg",
         "yaml", "jsonschema")
PROBE = """
import json, sys
from dunflow.cli import main
try:
    main(sys.argv[1:], prog_name="dunflow")
except SystemExit as done:
    code = done.code
print(json.dumps({"code": code, "heavy": sorted({m.split(".")[0] for m in sys.modules} & set(%r))}))
"""


def _modules_after(*args: str) -> dict[str, object]:
    """Run the CLI in a fresh interpreter and report which heavy top-level packages it imported."""
    done = subprocess.run([sys.executable, "-c", PROBE % (HEAVY,), *args], capture_output=True, text=True,
                          check=True, timeout=60)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [("--help",), ("import", "--help"), ("payments", "add", "--help"),
                                  ("run", "--help"), ("--version",)])
def test_help_imports_no_heavy_library(args: tuple[str, ...]) -> None:
    probe = _modules_after(*args)
    assert probe == {"code": 0, "heavy": []}


def test_the_probe_sees_heavy_libraries_when_a_command_loads_them(tmp_path: Path) -> None:
    """The check above must be able to fail: a command that opens a workspace does import SQLAlchemy."""
    probe = _modules_after("--project", str(tmp_path), "status")  # no project there: exit 1, but after importing
    assert probe["code"] == 1 and "sqlalchemy" in probe["heavy"]  # type: ignore[operator]
