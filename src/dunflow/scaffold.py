"""`dunflow init`: a working project from the shipped policies, templates, schemas and sample data."""
from __future__ import annotations

import shutil
from pathlib import Path

from dunflow.errors import DunflowError
from dunflow.resources import resource_path

CONFIG = """\
# yaml-language-server: $schema=schemas/project.schema.json
# dunflow project settings. The database can be overridden with --database or DUNFLOW_DATABASE_URL.
database: sqlite:///dunflow.db
outbox: outbox
batch_size: 1000
creditor:
  name: Muster Maschinenbau GmbH
  address: "Industriestraße 12\\n70565 Stuttgart\\nDeutschland"
  email: buchhaltung@muster-maschinenbau.example
  phone: "+49 711 123456-0"
  iban: DE89370400440532013000
  bic: COBADEFF700
  website: www.muster-maschinenbau.example
"""

SAMPLE_FILES = ("debtors.csv", "invoices.csv", "payments.csv", "camt053-sample.xml")


def init_project(directory: Path, sample_data: bool = True) -> list[Path]:
    """Create the project folder; refuses to touch a folder that already has files in it."""
    if directory.exists() and any(directory.iterdir()):
        raise DunflowError(f"{directory} exists and is not empty", "choose a new folder name")
    directory.mkdir(parents=True, exist_ok=True)
    for folder in ("policies", "templates", "schemas"):
        shutil.copytree(resource_path(folder), directory / folder)
    shutil.copytree(resource_path("examples", "policy-tests"), directory / "tests")  # `dunflow test` runs them
    (directory / "dunflow.yaml").write_text(CONFIG, encoding="utf-8")
    (directory / "outbox").mkdir()
    if sample_data:
        for name in SAMPLE_FILES:
            shutil.copy(resource_path("examples", name), directory / name)
    return sorted(p for p in directory.rglob("*") if p.is_file())
