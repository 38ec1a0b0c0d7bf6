"""What CI and editors rely on: GitHub annotations escaped as the workflow-command rules say, the schema's
versioned `$id`, and the shipped CI workflow and pre-commit hook."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner
from pre_commit.clientlib import load_manifest

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
    at = next(n for n, text in enumerate(broken.read_text(encoding="utf-8").splitlines(), 1) if "due_dat}" in text)
    assert properties.endswith(f",line={at},col=28,title=dunflow schema/enum")  # the value due_dat
    assert "\n" not in message and "%0Ahint: " in message  # the hint stays inside the one annotation


def test_the_schema_id_is_versioned_with_the_api_version() -> None:
    printed = json.loads(CliRunner().invoke(main, ["schema"], catch_exceptions=False).stdout)
    assert printed["$id"] == f"https://dunflow.dev/schemas/{API_VERSION}/policy.schema.json"
    assert printed["properties"]["apiVersion"]["const"] == API_VERSION


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo, check=True,
                   capture_output=True)


def _pre_commit(repo: Path, hook: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([sys.executable, "-m", "pre_commit", "run", hook, "--all-files"], cwd=repo, env=env,
                          capture_output=True, text=True)


def test_the_pre_commit_hooks_run_under_pre_commit_and_catch_a_broken_policy(project_dir: Path) -> None:
    """The shipped manifest passes pre-commit's own schema; its hooks, run by pre-commit (as local hooks on the
    installed dunflow instead of a fresh virtualenv), pass on a good project and fail on a broken policy."""
    hooks = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    assert {hook["id"] for hook in hooks} == {"dunflow-validate", "dunflow-test"}
    local = [{key: hook[key] for key in ("id", "name", "entry", "files", "pass_filenames")} | {"language": "system"}
             for hook in hooks]
    (project_dir / ".pre-commit-config.yaml").write_text(
        yaml.safe_dump({"repos": [{"repo": "local", "hooks": local}]}), encoding="utf-8")
    _git(project_dir, "init", "-q")
    _git(project_dir, "add", "-A")
    _git(project_dir, "commit", "-qm", "policies")
    passed = _pre_commit(project_dir, "dunflow-validate")
    assert passed.returncode == 0 and "dunflow validate" in passed.stdout and "Passed" in passed.stdout, passed.stdout
    policy = project_dir / "policies" / "key-accounts.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("channels: [task]", "channels: [fax]"), encoding="utf-8")
    failed = _pre_commit(project_dir, "dunflow-validate")
    assert failed.returncode == 1 and "Failed" in failed.stdout
    assert "policies/key-accounts.yaml:" in failed.stdout and "fax" in failed.stdout


def test_the_github_actions_example_validates_tests_and_plans_on_pull_requests_and_applies_on_main() -> None:
    workflow = yaml.safe_load((ROOT / "examples" / "ci" / "github-actions.yml").read_text(encoding="utf-8"))
    steps = {name: " ".join(step.get("run", "") for step in job["steps"]) for name, job in workflow["jobs"].items()}
    assert steps["plan"].index("dunflow validate --format github") < steps["plan"].index("dunflow test") \
        < steps["plan"].index("dunflow plan")
    assert "--out plan.json" in steps["plan"] and "GITHUB_STEP_SUMMARY" in steps["plan"]
    assert "dunflow apply plan.json --auto-approve" in steps["apply"]
    assert workflow["jobs"]["apply"]["if"] == "github.ref == 'refs/heads/main' && github.event_name == 'push'"
