"""Notice templates: untrusted text rendered in Jinja2's sandbox with StrictUndefined.

A template lives at `templates/<language>/<name>.j2` and defines two blocks,
`subject` and `body`. Amounts and dates are formatted with Babel in the
notice's language (`{{ total_open|money }}`, `{{ pay_by|date }}`).
"""
from __future__ import annotations

from functools import cached_property

import re
import traceback
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    pass_context,
)
from jinja2.loaders import split_template_path
from jinja2.runtime import Context
from markupsafe import Markup, escape
from dunflow.domain.money import Money
from dunflow.domain.notice import ChargeLine, Creditor, Debtor, InvoiceLine
from dunflow.domain.policy import Branding
from dunflow.errors import DunflowError, Problem
from dunflow.rendering import formats
from dunflow.rendering.sandbox import MAX_TEXT, BoundedEnvironment, TemplateLimit, wrap_filters

REQUIRED_BLOCKS = ("subject", "body")
MAX_TEMPLATE_CHARS = 100_000  # a notice template is ~2 kB
# The schema's `templateName` pattern: plain path segments, none starting with a dot.
TEMPLATE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")


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


def _joined(chunks: Iterable[str]) -> str:
    """The block's text, stopped as soon as it grows past `MAX_TEXT` (not after it is all in memory)."""
    parts: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_TEXT:
            raise TemplateLimit(f"the rendered text is longer than {MAX_TEXT:,} characters")
        parts.append(chunk)
    return "".join(parts)


def _paragraph(block: str) -> dict[str, Any]:
    """One paragraph of the plain text as the e-mail layout sees it: its `lines`, whether it is a `table` (columns
    aligned with spaces), its `text`, and its `html`: the lines escaped and joined with `<br>`, made here once
    instead of by a loop in the layout (a loop step per line was most of the layout's cost)."""
    text = block.strip("\n")
    return {"lines": text.split("\n"), "table": "  " in block.strip(), "text": text,
            "html": Markup(str(escape(text)).replace("\n", "<br>"))}  # escaping leaves line ends alone


class TemplateOutsideProject(DunflowError):
    """A template file that resolves outside the templates folder (a symlink to a system file): never read."""

    def __init__(self, file: Path, target: Path, root: Path) -> None:
        super().__init__(f"template file {file} leads outside the templates folder (to {target})",
                         f"templates must be real files under {root}; replace the link by a copy of the template")
        self.file, self.target = file, target


def valid_name(name: str) -> bool:
    """Template names are relative paths of plain segments (the same pattern as the policy schema): no `..`,
    no absolute paths, no hidden files."""
    return bool(TEMPLATE_NAME.fullmatch(name))


FALLBACK_LANGUAGE = "en"


def valid_country(code: str) -> bool:
    """An ISO 3166 alpha-2 code as a folder name: two upper-case letters, so it never clashes with a
    template folder (those are lower case, like b2c/)."""
    return len(code) == 2 and code.isascii() and code.isalpha() and code.isupper()


class ProjectLoader(FileSystemLoader):
    """Jinja2's FileSystemLoader, confined: a file whose real path lies outside the folder is refused before it
    is read, whether the link is the file itself or a folder on the way (this also covers `{% include %}`)."""

    def __init__(self, root: Path) -> None:
        super().__init__(str(root))
        self.root = root

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        self.locate(template)
        source, filename, uptodate = super().get_source(environment, template)
        if len(source) > MAX_TEMPLATE_CHARS:
            raise TemplateSyntaxError(f"the template is longer than {MAX_TEMPLATE_CHARS:,} characters", 1,
                                      template, filename)
        return source, filename, uptodate

    def locate(self, template: str) -> Path | None:
        """The template's file if it exists; raises `TemplateOutsideProject` if it resolves outside the root."""
        candidate = self.root.joinpath(*split_template_path(template))
        if not candidate.exists() and not candidate.is_symlink():
            return None
        resolved, root = candidate.resolve(), self.root.resolve()
        if not resolved.is_relative_to(root):
            raise TemplateOutsideProject(candidate, resolved, self.root)
        return candidate if resolved.is_file() else None


EMAIL_LAYOUT = "email-layout.html.j2"  # at the top of templates/: one layout for every language
PLAIN_TYPES = (Money, Debtor, Creditor, InvoiceLine, ChargeLine, Branding)  # a notice's data: frozen fields


class TemplateStore:
    """Finds, checks and renders the templates of one project."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.loader = ProjectLoader(root)
        self.env = BoundedEnvironment(
            loader=self.loader, undefined=StrictUndefined, autoescape=False,
            keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True,
            auto_reload=False,  # one store per command: each template is read and compiled once, never re-stat'ed
            cache_size=1000,
        )
        self._exists: dict[tuple[str, str], bool] = {}
        self._compiled: dict[tuple[str, str], Template] = {}  # held for the command (the run): no look-ups
        for kind in PLAIN_TYPES:  # the notice's own data: plain frozen fields
            self.env.register_plain(kind)
        self.env.filters["money"] = _money
        self.env.filters["date"] = _date
        wrap_filters(self.env)

    def file_of(self, name: str, language: str) -> Path:
        return self.root / language / f"{name}.j2"

    @cached_property
    def html_env(self) -> BoundedEnvironment:
        """The same sandbox for the e-mail layout, with autoescape on: every value a debtor or an ERP typed is
        escaped into the HTML, whatever the layout does."""
        env = BoundedEnvironment(loader=self.loader, undefined=StrictUndefined, autoescape=True,
                                 trim_blocks=True, lstrip_blocks=True, auto_reload=False)
        for kind in PLAIN_TYPES:
            env.register_plain(kind)
        env.filters["money"] = _money
        env.filters["date"] = _date
        wrap_filters(env)
        return env

    @cached_property
    def has_email_layout(self) -> bool:
        return self.loader.locate(EMAIL_LAYOUT) is not None

    def email_html(self, rendered: Rendered, context: dict[str, Any]) -> str | None:
        """The HTML part of an e-mail: `templates/email-layout.html.j2` around the rendered plain text (its
        paragraphs), with the notice's context (creditor, branding, payment link); None without a layout file
        (the SMTP channel then wraps the plain text in a minimal page)."""
        if not self.has_email_layout:
            return None
        paragraphs = [_paragraph(block) for block in rendered.body.split("\n\n") if block.strip()]
        try:
            html = self._layout(dict(context, subject=rendered.subject, paragraphs=paragraphs,
                                     language=rendered.language))
        except TemplateSyntaxError as exc:
            raise DunflowError(f"{self.root / EMAIL_LAYOUT}:{exc.lineno}: template syntax error: {exc.message}",
                               "check {{ }} and {% %} pairs") from exc
        except (TemplateError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise DunflowError(f"{self.root / EMAIL_LAYOUT}: {exc}",
                               "the layout sees subject, paragraphs, creditor, branding, payment_link, language "
                               "and the notice's own fields") from exc
        return html

    def _layout(self, context: dict[str, Any]) -> str:
        """The layout rendered from its root function, as `Template.generate` would (its errors rewritten to the
        layout's lines), without the generator around it."""
        template = self.html_env.get_template(EMAIL_LAYOUT)
        self.html_env.start_render()
        try:
            return _joined(template.root_render_func(template.new_context(context)))
        except Exception:
            self.html_env.handle_exception()
            raise  # not reached: handle_exception re-raises

    def exists(self, name: str, language: str) -> bool:
        """Asked for every notice: the answer is kept for the life of the store (one command).

        Raises `TemplateOutsideProject` for a file that leads out of the templates folder."""
        key = (name, language)
        if key not in self._exists:
            try:
                found = valid_name(name) and self.loader.locate(self._path(name, language)) is not None
            except TemplateNotFound:  # a language that is no plain folder name
                found = False
            self._exists[key] = found
        return self._exists[key]

    def language_for(self, name: str, wanted: str, default: str, country: str = "") -> str:
        """The language to write in: the debtor's, else the policy's default, else English — but a version
        for the debtor's country (`<language>/<COUNTRY>/<name>.j2`, e.g. the Dutch 14-day letter under
        `nl/NL/`) wins over the language, because the law of the country decides what the letter must say."""
        chain = [language for language in dict.fromkeys((wanted, default, FALLBACK_LANGUAGE)) if language]
        if country:
            for language in chain:
                if self.exists(self.for_country(name, country), language):
                    return language
        return next((language for language in chain if self.exists(name, language)), default)

    @staticmethod
    def for_country(name: str, country: str) -> str:
        """The name of the template's version for one country (ISO 3166 alpha-2, upper case)."""
        return f"{country.upper()}/{name}"

    def variant(self, name: str, language: str, country: str) -> str:
        """The country's version of `name` in `language` when there is one, else `name` itself."""
        if valid_country(country.upper()) and self.exists(self.for_country(name, country), language):
            return self.for_country(name, country)
        return name

    def countries(self, language: str) -> list[str]:
        """The countries with their own versions of templates in `language` (folders like `nl/NL`)."""
        folder = self.root / language
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and valid_country(p.name)) \
            if folder.is_dir() else []

    def render(self, name: str, language: str, context: dict[str, Any]) -> Rendered:
        """Subject and body; a DunflowError naming the template's own file and line when it fails."""
        template = self._template(name, language)
        try:
            subject, body = self._blocks(template, dict(context, language=language))
        except (TemplateError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            problem = self._render_problem(name, language, exc)
            raise DunflowError(f"{problem.location}: {problem.message}", problem.hint) from exc
        return Rendered(subject, body, language, name)

    def _path(self, name: str, language: str) -> str:
        return f"{language}/{name}.j2"

    def _template(self, name: str, language: str) -> Template:
        if not valid_name(name):
            raise DunflowError(f"'{name}' is not a valid template name",
                               "use a relative name like b2b/reminder (letters, digits, '-', '_', '/')")
        key = (name, language)
        if key in self._compiled:
            return self._compiled[key]
        try:
            template = self._compiled[key] = self.env.get_template(self._path(name, language))
            return template
        except TemplateNotFound as exc:
            raise DunflowError(f"template '{name}' has no {language} version ({self.file_of(name, language)})",
                               "add the file or change the step's template") from exc
        except TemplateSyntaxError as exc:
            raise DunflowError(f"{self.file_of(name, language)}:{exc.lineno}: template syntax error: {exc.message}",
                               "check {{ }} and {% %} pairs") from exc

    def _blocks(self, template: Template, context: dict[str, Any]) -> tuple[str, str]:
        """Render both blocks; on failure the traceback is rewritten to template lines (Jinja2's own
        `handle_exception`, which `Template.render` would apply, but we call the blocks directly)."""
        try:
            self.env.start_render()
            ctx = template.new_context(context)
            subject = _joined(template.blocks["subject"](ctx)).strip()
            body = _joined(template.blocks["body"](ctx)).strip() + "\n"
        except RecursionError:  # a macro calling itself: no stack trace to rewrite, and none worth showing
            raise TemplateLimit("a macro calls itself without end") from None
        except Exception:
            self.env.handle_exception()
        return subject, body

    def check(self, name: str, language: str, context: dict[str, Any] | None) -> list[Problem]:
        """Compile one template and render it with a sample context (unless None); the problems found."""
        path = self.file_of(name, language)
        if not self.exists(name, language):
            return [Problem(str(path), 0, 0, f"template '{name}' has no {language} version",
                            f"create {path} or fix the template name", "unknown-template")]
        try:
            template = self.env.get_template(self._path(name, language))
        except TemplateSyntaxError as exc:
            return [Problem(str(path), exc.lineno or 0, 0, f"template syntax error: {exc.message}",
                            "check {{ }} and {% %} pairs", "template-syntax")]
        missing = [b for b in REQUIRED_BLOCKS if b not in template.blocks]
        if missing:
            return [Problem(str(path), 1, 1, f"template lacks block(s) {', '.join(missing)}",
                            "define {% block subject %}…{% endblock %} and {% block body %}…{% endblock %}",
                            "template-blocks")]
        if context is None:
            return []
        try:
            self._blocks(template, dict(context, language=language))
        except (TemplateError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            return [self._render_problem(name, language, exc)]
        return []

    def _render_problem(self, name: str, language: str, exc: BaseException) -> Problem:
        """Located at the template's own line: the last traceback frame in its file (Jinja2 rewrote them)."""
        path = self.file_of(name, language)
        line = (exc.lineno or 0) if isinstance(exc, TemplateSyntaxError) else 0
        for frame in traceback.extract_tb(exc.__traceback__):
            if Path(frame.filename).resolve() == path.resolve():
                line = frame.lineno or 0
        if isinstance(exc, TemplateLimit):
            return Problem(str(path), line, 0, f"template over a limit: {exc}", "a notice needs nothing this large: "
                           "see the README's \"Limits\"", "template-limit")
        hint = "only the documented variables exist (debtor, creditor, invoices, total_open, charges, total_due, " \
               "fourteen_day, currency, as_of, pay_by, step, policy, language); check the spelling"
        return Problem(str(path), line, 0, f"template error: {exc}", hint, "template-render")
