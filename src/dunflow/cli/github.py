"""GitHub Actions workflow commands (`::error file=…,line=…::message`), escaped as GitHub requires.

GitHub's toolkit (`@actions/core`, `command.ts`) escapes the message with `%` → `%25`, CR → `%0D`,
LF → `%0A`, and property values additionally with `:` → `%3A` and `,` → `%2C`; unescaped, a
multi-line hint or a comma in a file name would cut the annotation short.
"""
from __future__ import annotations

from dunflow.errors import Problem


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(problem: Problem) -> str:
    """One problem as an `::error` / `::warning` line, placed on its file, line and column."""
    kind = {"error": "error", "acknowledged": "notice"}.get(problem.level, "warning")  # acknowledged legal rules
    properties = {"file": problem.file, "line": str(problem.line), "col": str(problem.col),
                  "title": f"dunflow {problem.rule}".strip()}
    message = problem.message + (f"\nhint: {problem.hint}" if problem.hint else "")
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{kind} {props}::{escape_data(message)}"
