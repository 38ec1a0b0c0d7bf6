"""`dunflow validate` on a corpus of broken policies, compared with the expected output.

Each case is `tests/policies/invalid/<kind>.yaml` (one policy file) or
`tests/policies/invalid/<kind>/` (several files, for mistakes across policies),
with the expected stderr+stdout in `<kind>.out`. The case replaces the policies/
folder of a fresh `dunflow init` project. Set DUNFLOW_UPDATE_GOLDEN=1 to rewrite
the .out files from the current output, then read the diff before keeping it.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from dunflow.cli.main import main

INVALID = Path(__file__).resolve().parents[1] / "policies" / "invalid"
UPDATE = os.environ.get("DUNFLOW_UPDATE_GOLDEN") == "1"
WARNING_ONLY = {"missing-modeline"}


def cases() -> list[str]:
    files = [p.stem for p in INVALID.glob("*.yaml")]
    folders = [p.name for p in INVALID.iterdir() if p.is_dir()]
    return sorted(files + folders)


def use_policies(project: Path, kind: str) -> None:
    """Replace the project's policies with the case's file or folder."""
    policies = project / "policies"
    shutil.rmtree(policies)
    source = INVALID / kind
    if source.is_dir():
        shutil.copytree(source, policies)
    else:
        policies.mkdir()
        shutil.copy(INVALID / f"{kind}.yaml", policies / f"{kind}.yaml")


def validate(project: Path) -> Result:
    return CliRunner().invoke(main, ["--project", str(project), "validate"], catch_exceptions=False)


def normalised(result: Result, project: Path) -> str:
    text = result.stderr + result.stdout
    for form in {str(project.resolve()), str(project)}:
        text = text.replace(form, "<project>")
    return text


def test_every_case_has_its_expected_output() -> None:
    missing = [kind for kind in cases() if not (INVALID / f"{kind}.out").is_file()]
    assert UPDATE or not missing, f"no .out for {missing}; run with DUNFLOW_UPDATE_GOLDEN=1"


@pytest.mark.parametrize("kind", cases())
def test_validate_reports_the_mistake_as_recorded(project_dir: Path, kind: str) -> None:
    use_policies(project_dir, kind)
    result = validate(project_dir)
    text = normalised(result, project_dir)
    golden = INVALID / f"{kind}.out"
    if UPDATE:
        golden.write_text(text, encoding="utf-8")
    assert "Traceback" not in text
    assert result.exit_code == (0 if kind in WARNING_ONLY else 1), text
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", [k for k in cases() if k not in WARNING_ONLY])
def test_every_error_is_located_as_file_line_col_with_a_hint(project_dir: Path, kind: str) -> None:
    use_policies(project_dir, kind)
    lines = normalised(validate(project_dir), project_dir).splitlines()
    errors = [i for i, line in enumerate(lines) if ": error: " in line]
    assert errors
    for i in errors:
        location = lines[i].split(": error: ")[0]
        file, line, col = location.rsplit(":", 2)
        assert file.startswith("policies/") and file.endswith(".yaml"), lines[i]
        assert int(line) >= 1 and int(col) >= 1, lines[i]
        assert lines[i + 1].startswith("  hint: ") and len(lines[i + 1]) > len("  hint: "), lines[i]


def test_a_missing_modeline_is_only_a_warning(project_dir: Path) -> None:
    use_policies(project_dir, "missing-modeline")
    result = validate(project_dir)
    assert result.exit_code == 0
    assert "warning: the file does not start with the schema modeline" in result.stderr
    assert "ok: 1 policies valid, 1 warning(s)" in result.stdout


def test_a_missing_colon_is_reported_on_the_line_that_lacks_it(project_dir: Path) -> None:
    use_policies(project_dir, "yaml-syntax")
    assert "policies/yaml-syntax.yaml:16:" in validate(project_dir).stderr


def test_the_summary_counts_the_files_that_have_errors(project_dir: Path) -> None:
    use_policies(project_dir, "errors-in-two-files")
    assert "2 error(s) in 2 file(s)" in validate(project_dir).stderr


def test_a_broken_policy_file_does_not_also_raise_a_coverage_gap(project_dir: Path) -> None:
    policy = project_dir / "policies" / "b2b-standard.yaml"
    policy.write_text(policy.read_text().replace("from: due_date}", "from: due_dat}", 1))
    result = validate(project_dir)
    assert result.exit_code == 1
    assert "did you mean 'due_date'?" in result.stderr
    assert "no policy covers" not in result.stderr


def test_a_policy_written_with_anchors_and_merge_keys_validates(project_dir: Path) -> None:
    merged = INVALID.parent / "valid" / "b2b-standard-merged.yaml"
    shutil.copy(merged, project_dir / "policies" / "b2b-standard.yaml")
    result = validate(project_dir)
    assert result.exit_code == 0, normalised(result, project_dir)
    assert "ok: 3 policies valid" in result.stdout and result.stderr == ""
