"""The legal lint through `dunflow validate` (text, JSON, GitHub) and `dunflow rules`."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from dunflow.cli.main import main

FINAL = "    legal: final_notice        # it announces the hand-over\n"
ACK = "acknowledge:\n  - {rule: consumer-final-notice, reason: the agency sends its own announcement first}\n"


SHIPPED = Path(__file__).parents[2] / "policies" / "b2c-consumer.yaml"
# the escalation's `to:` line, once the final notice's `legal:` line (before it) is taken out
HANDOVER = next(n for n, line in enumerate(SHIPPED.read_text(encoding="utf-8").replace(FINAL, "").splitlines(), 1)
                if line.strip() == "to: collection_agency")


def run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--project", str(project), *args], catch_exceptions=False)


def consumer_policy(project: Path, text: str) -> None:
    path = project / "policies" / "b2c-consumer.yaml"
    source = path.read_text(encoding="utf-8")
    assert FINAL in source
    path.write_text(source.replace(FINAL, "") + text, encoding="utf-8")


def test_a_broken_legal_rule_fails_validate_located(project_dir: Path) -> None:
    consumer_policy(project_dir, "")
    result = run(project_dir, "validate")
    assert result.exit_code == 1
    assert (f"policies/b2c-consumer.yaml:{HANDOVER}:7: error: hand-over to collection_agency without a final notice "
            "[consumer-final-notice]") in result.stderr


def test_an_acknowledged_rule_is_reported_and_validate_passes(project_dir: Path) -> None:
    consumer_policy(project_dir, ACK)
    text = run(project_dir, "validate")
    assert text.exit_code == 0, text.output
    assert "acknowledged: hand-over to collection_agency without a final notice (acknowledged: the agency sends " \
           "its own announcement first) [consumer-final-notice]" in text.stderr
    assert text.stdout.strip() == "ok: 3 policies valid, 1 acknowledged"
    [problem] = json.loads(run(project_dir, "validate", "--format", "json").stdout)
    assert (problem["rule"], problem["level"], problem["line"]) == ("consumer-final-notice", "acknowledged", HANDOVER)
    github = run(project_dir, "validate", "--format", "github").stdout
    assert github.startswith(f"::notice file=policies/b2c-consumer.yaml,line={HANDOVER},col=7,title=dunflow "
                             "consumer-final-notice::")


def test_the_shipped_policies_are_lawful(project_dir: Path) -> None:
    result = run(project_dir, "validate")
    assert result.exit_code == 0 and result.stdout.strip() == "ok: 3 policies valid" and not result.stderr


def test_rules_lists_every_rule_with_its_source() -> None:
    data = json.loads(CliRunner().invoke(main, ["rules", "--format", "json"], catch_exceptions=False).stdout)
    by_id = {rule["id"]: rule for rule in data["rules"]}
    assert by_id["nl-fourteen-day-letter"] == {
        "id": "nl-fourteen-day-letter", "level": "error", "source": "art. 6:96 lid 6 BW",
        "explanation": "Dutch consumers owe collection costs only after a 14-day letter whose term (14 days from "
                       "the day after receipt) has passed unpaid"}
    assert by_id["high-dunning-fee"]["level"] == "warning"
    table = CliRunner().invoke(main, ["rules"], catch_exceptions=False).stdout
    assert "de-charges-before-default" in table and "§286" in table
