"""`dunflow rules`: the legal lint rules `validate` applies, with id, level, explanation and source, so a policy
author can look up what a rule means before acknowledging it."""
from __future__ import annotations

import click

from dunflow.cli.common import output_format, report


@click.command(name="rules")
@output_format("table", "json")
def rules_command(fmt: str) -> None:
    """List the legal lint rules (id, level, explanation, source); acknowledge one in a policy with
    `acknowledge: [{rule: ID, reason: ...}]`."""
    from dunflow.policy.rules.legal import legal_rules

    rules = [{"id": r.id, "level": r.level, "explanation": r.explanation, "source": r.source} for r in legal_rules()]
    report(fmt, {"rules": rules}, lambda data: _print(data["rules"]))


def _print(rules: list[dict[str, str]]) -> None:
    from dunflow.cli.output import emit_table

    emit_table("Legal lint rules", ("id", "level", "explanation", "source"),
               [(r["id"], r["level"], r["explanation"], r["source"]) for r in rules])


COMMANDS = (rules_command,)
