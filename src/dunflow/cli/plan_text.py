"""A plan as text for people (the PR comment, the terminal): diff first, then the impact."""
from __future__ import annotations

from typing import Any

from dunflow.policy.plan import FieldChange, Plan, PolicyChange

SIGN = {"added": "+", "removed": "-", "changed": "~"}
SAMPLE_MOVES = 20


def render_plan(plan: Plan) -> str:
    lines = [f"Plan as of {plan.as_of} (digest {plan.digest[:12]})", ""]
    if not plan.has_changes:
        return "\n".join([*lines, "No changes: the policy files match the versions active in the database."])
    if plan.first_apply:
        lines += ["First apply: from now on `run` and `import` use the database's active versions.", ""]
    lines += _changes(plan) + _moves(plan) + _switches(plan) + _messages(plan)
    lines.append(f"Summary: {len(plan.changes)} policy change(s), {len(plan.moves)} invoice(s) move, "
                 f"{len(plan.switches)} change policy.")
    return "\n".join(lines)


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return "-" if value is None else str(value)


def _field(change: FieldChange, indent: str) -> str:
    return f"{indent}{change.field}: {_value(change.before)} → {_value(change.after)}"


def _changes(plan: Plan) -> list[str]:
    lines = ["Policies:"] if plan.changes else []
    for change in plan.changes:
        lines.append(f"  {SIGN[change.change]} {change.name} {_versions(change)} ({change.file})"
                     + (f", in-flight invoices: migrate {change.migrate}" if change.change == "changed" else ""))
        for step in change.steps:
            lines.append(f"      {SIGN[step.change]} step {step.step}")
            if step.change == "changed":
                lines += [_field(f, "          ") for f in step.fields]
            elif step.change == "added":
                lines += [f"          {f.field}: {_value(f.after)}" for f in step.fields]
        lines += [_field(f, "      ") for f in change.fields]
    return [*lines, ""] if lines else []


def _versions(change: PolicyChange) -> str:
    if change.change == "added":
        return f"v{change.to_version}"
    if change.change == "removed":
        return f"v{change.from_version} removed"
    return f"v{change.from_version} → v{change.to_version}"


def _moves(plan: Plan) -> list[str]:
    if not plan.moves:
        return []
    lines = [f"In-flight invoices that move ({len(plan.moves)}):",
             "  invoice      from                         to                           next step      next action"]
    for move in plan.moves[:SAMPLE_MOVES]:
        source = f"{move.from_policy} v{move.from_version} {move.from_state}"
        target = f"{move.to_policy} v{move.to_version} {move.to_state}"
        lines.append(f"  {move.invoice:<12} {source:<28} {target:<28} {move.next_step or '-':<14} "
                     f"{move.old_next or '-'} → {move.new_next or '-'}")
        lines.append(f"  {'':<12} why: {'; '.join(move.why)}")
    if len(plan.moves) > SAMPLE_MOVES:
        lines.append(f"  … and {len(plan.moves) - SAMPLE_MOVES} more (`--format json` lists all)")
    return [*lines, ""]


def _switches(plan: Plan) -> list[str]:
    if not plan.switches:
        return []
    lines = [f"Invoices whose debtor now falls under another policy ({len(plan.switches)}):"]
    for switch in plan.switches:
        how = "moves" if switch.moved else "stays on its version (migrate: keep)"
        lines.append(f"  {switch.invoice} (debtor {switch.debtor}): {switch.from_policy} → {switch.to_policy}, {how}")
    return [*lines, ""]


def _messages(plan: Plan) -> list[str]:
    if not plan.messages:
        return []
    lines = [f"The next run ({plan.as_of}) would send differently:"]
    for change in plan.messages:
        lines.append(f"  {change.count} × {change.before} → {change.after} (e.g. {change.sample})")
    return [*lines, ""]
