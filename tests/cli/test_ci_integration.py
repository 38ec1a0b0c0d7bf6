"""What CI and editors rely on: GitHub annotations escaped as the workflow-command rules say, the schema's
versioned `$id`, and the shipped CI workflow and pre-commit hook."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dunflow.cli.main import main
from dunflow.domain.policy import API_VERSION

ROOT = Path(__file__).parents[2]


def test_validate_github_format_escapes_messages_and_properties(tmp_path: Path, project_dir: Path) -> None:
    broken = tmp_path / "50%, off: policy.yaml"
    source = (project_dir / "policies" / "b2b-standard.yaml").read_text(encoding="utf-8")
    broken.write_text(source.replace("after: {days: 7, from: due_date}", "after: {days: 7, from: due_dat}"),
                      encoding="utf-8")
    result = CliRunner().invoke(main, ["--project", str(project_dir), "validate", "--format", "github", str(broken)],
                                catch_exceptions=False)
    assert result.exit_code == 1
    line = next(line for line in result.stdout.splitlines() if line.startswith("::error "))
    properties, message = line[len("::error "):].split("::", 1)
    assert properties.startswith(f"file={str(broken).replace('%', '%25').replace(',', '%2C').replace(':', '%3A')},")
    assert properties.endswith(",line=39,col=28,title=dunflow schema/enum")  # the value due_dat
    assert "\n" not in message and "%0Ahint: " in message  # the hint stays inside the one annotation


def test_the_schema_id_is_versioned_with_the_api_version() -> None:
    printed = json.loads(CliRunner().invoke(main, ["schema"], catch_exceptions=False).stdout)
    assert printed["$id"] == f"https://dunflow.dev/schemas/{API_VERSION}/policy.schema.json"
    assert printed["properties"]["apiVersion"]["const"] == API_VERSION
