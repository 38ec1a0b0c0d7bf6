"""Notice templates: untrusted text rendered in Jinja2's sandbox with StrictUndefined.

A template lives at `templates/<language>/<name>.j2` and defines two blocks,
`subject` and `body`. Amounts and dates are formatted with Babel in the
notice's language (`{{ total_open|money }}`, `{{ pay_by|date }}`).
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    pass_context,
)
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from dunflow.domain.money import Money
from dunflow.errors import DunflowError, Problem
from dunflow.rendering import formats

REQUIRED_BLOCKS = ("subject", "body")


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    language: str
    template: str


@pass_context
def _money(context: Context, value: Money | Decimal, currency: str | None = None) -> str:
    language = context.get("language", "en")
    if isinstance(value, Money):
        return formats.money(value.amount, value.currency, language)
    return formats.money(value, currency or context.get("currency", "EUR"), language)


@pass_context
def _date(context: Context, value: date, style: str = "long") -> str:
    return formats.day(value, style, context.get("language", "en"))


class TemplateStore:
    """Finds, checks and renders the templates of one project."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = SandboxedEnvironment(
            loader=FileSystemLoader(str(root)), undefined=StrictUndefined, autoescape=False,
            keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True,
        )
        self._exists: dict[tuple[str, str], bool] = {}
        self.env.filters["money"] = _money
        self.env.filters["date"] = _date

    def file_of(self, name: str, language: str) -> Path:
        return self.root / language / f"{name}.j2"

    def exists(self, name: str, language: str) -> bool:
        """Asked for every notice: the answer is kept for the life of the store (one command)."""
        key = (name, language)
        if key not in self._exists:
            self._exists[key] = self.file_of(name, language).is_file()
        return self._exists[key]

    def language_for(self, name: str, wanted: str, default: str) -> str:
        """The debtor's language when the template exists in it, else the policy's default."""
        return wanted if wanted and self.exists(name, wanted) else default

    def render(self, name: str, language: str, context: dict[str, Any]) -> Rendered:
        try:
            template = self.env.get_template(f"{language}/{name}.j2")
            ctx = template.new_context(dict(context, language=language))
            subject = "".join(template.blocks["subject"](ctx)).strip()
            body = "".join(template.blocks["body"](ctx)).strip() + "\n"
        except TemplateNotFound as exc:
            raise DunflowError(f"template '{name}' has no {language} version ({self.file_of(name, language)})",
                               "add the file or change the step's template") from exc
        except (TemplateError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            problem = self._render_problem(name, language, exc)
            raise DunflowError(f"{problem.location}: {problem.message}", problem.hint) from exc
        return Rendered(subject, body, language, name)

    def check(self, name: str, language: str, context: dict[str, Any]) -> list[Problem]:
        """Compile and render one template with a sample context; the problems found."""
        path = self.file_of(name, language)
        if not path.is_file():
            return [Problem(str(path), 0, 0, f"template '{name}' has no {language} version",
                            f"create {path} or fix the template name", "unknown-template")]
        try:
            template = self.env.get_template(f"{language}/{name}.j2")
        except TemplateSyntaxError as exc:
            return [Problem(str(path), exc.lineno or 0, 0, f"template syntax error: {exc.message}",
                            "check {{ }} and {% %} pairs", "template-syntax")]
        missing = [b for b in REQUIRED_BLOCKS if b not in template.blocks]
        if missing:
            return [Problem(str(path), 1, 1, f"template lacks block(s) {', '.join(missing)}",
                            "define {% block subject %}…{% endblock %} and {% block body %}…{% endblock %}",
                            "template-blocks")]
        try:
            self.render(name, language, context)
        except DunflowError as exc:
            problem = self._render_problem(name, language, exc.__cause__ or exc)
            return [problem]
        return []

    def _render_problem(self, name: str, language: str, exc: BaseException) -> Problem:
        path = self.file_of(name, language)
        line = 0
        for frame in traceback.extract_tb(exc.__traceback__):
            if Path(frame.filename).resolve() == path.resolve():
                line = frame.lineno or 0
        message = str(exc) if not isinstance(exc, DunflowError) else exc.message
        hint = "only the documented variables exist (debtor, creditor, invoices, total_open, currency, as_of, " \
               "pay_by, step, policy, language); check the spelling"
        return Problem(str(path), line, 0, f"template error: {message}", hint, "template-render")
