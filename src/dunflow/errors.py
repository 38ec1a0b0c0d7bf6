"""User-facing mistakes as data, and the one exception family the CLI catches.

Input mistakes (a bad policy, a broken CSV row) are collected as `Problem`s so a
user sees all of them at once; a stopping condition raises a `DunflowError`.
Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

# `scheme://user:secret@host` and `password=secret` (a libpq DSN or a URL's query string).
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@", re.IGNORECASE)
_KEY_PASSWORD = re.compile(r"(\b(?:password|passwd|pwd)\s*=\s*)('[^']*'|[^\s&;'\"]+)", re.IGNORECASE)


def masked(text: str) -> str:
    """`text` with every credential it quotes replaced by `***`.

    Messages quote database URLs and driver errors; a message ends up in a terminal scroll-back, a
    CI log or a bug report, none of which may carry the database password."""
    return _KEY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", text))


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake in one input, located as `file:line:col` (1-based; 0 = unknown)."""

    file: str
    line: int
    col: int
    message: str
    hint: str = ""
    rule: str = ""
    level: str = "error"

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", masked(self.message))  # also in JSON and GitHub annotations
        object.__setattr__(self, "hint", masked(self.hint))

    @property
    def location(self) -> str:
        if self.line <= 0:
            return self.file
        if self.col <= 0:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.col}"

    def render(self) -> str:
        rule = f" [{self.rule}]" if self.rule else ""
        text = f"{self.location}: {self.level}: {self.message}{rule}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class DunflowError(Exception):
    """A condition the user can fix; printed as `error: message` plus a hint, exit `exit_code` (1)."""

    exit_code = 1  # 4 for an operational failure (the database went away), see the README's exit codes

    def __init__(self, message: str, hint: str = "") -> None:
        message, hint = masked(message), masked(hint)
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        text = f"error: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class InputProblems(DunflowError):
    """One or more located mistakes in user input; nothing was changed."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = sorted(problems)
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} found; nothing was changed")

    def render(self) -> str:
        errors = [p for p in self.problems if p.level == "error"]
        lines = [p.render() for p in self.problems]
        lines.append(f"{len(errors)} error(s); nothing was changed")
        return "\n".join(lines)


class NotFound(DunflowError):
    """A named thing (invoice, debtor, policy) does not exist."""


def unknown_invoice(number: str) -> NotFound:
    return NotFound(f"unknown invoice '{number}'", "check the number (`dunflow status`) or import the invoice")
