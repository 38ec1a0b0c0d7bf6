"""Load → schema → build → rules → templates: every policy problem of a project, at once.

This is the single entry to policies: the runner, `graph`, `import` and `validate` all go through
`check_policies`, so what validates is what runs; only `validate` also renders every template with a
sample notice (the others find and compile them, and render what they send).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Iterable

from dunflow.domain.money import Money
from dunflow.domain.notice import ChargeLine, Creditor, Debtor, NoticeFacts, invoice_line
from dunflow.domain.policy import Delay, Policy, Step
from dunflow.domain.sms import segments
from dunflow.errors import DunflowError, InputProblems, Problem
from dunflow.policy.build import build_policy
from dunflow.policy.load import load_yaml
from dunflow.policy.rules import PolicyFile, cross_checks, policy_checks
from dunflow.policy.schema import schema_problems
from dunflow.rendering.templates import Rendered, TemplateOutsideProject, TemplateStore

MODELINE = "# yaml-language-server: $schema="
SMS_MAX_SEGMENTS = 3  # default of channels.sms.max_segments; checked only once an sms channel is configured


@dataclass(frozen=True)
class PolicySet:
    """The validated policies of a project, each with the YAML text it came from."""

    files: tuple[PolicyFile, ...]

    @property
    def policies(self) -> list[Policy]:
        return [f.policy for f in self.files]

    def by_name(self, name: str) -> PolicyFile | None:
        return next((f for f in self.files if f.policy.name == name), None)


def policy_paths(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found += sorted(path.glob("*.y*ml")) if path.is_dir() else [path]
    return found


def check_policies(paths: list[Path], templates: TemplateStore, root: Path | None = None, *,
                   render: bool = True, sms_max_segments: int | None = None
                   ) -> tuple[list[PolicyFile], list[Problem]]:
    """Every problem in these policy files and the templates they use; the files that built.

    `render` renders each template once with a sample notice (`validate`); without it a template is only
    found and compiled, so commands that render few or no notices (import, graph, status) do not pay for all."""
    files: list[PolicyFile] = []
    problems: list[Problem] = []
    for path in paths:
        display = _display(path, root)
        document, found = load_yaml(path, display)
        problems += found
        if document is None:
            continue
        if not isinstance(document.data, dict):
            problems.append(document.problem((), "a policy file must be a mapping (key: value)",
                                             "start from a shipped example in policies/", "not-a-policy"))
            continue
        found = schema_problems(document)
        problems += found
        if found:
            continue
        pf = PolicyFile(build_policy(document.data, display), document)
        files.append(pf)
        for check in policy_checks():
            problems += check(pf)
        problems += template_problems(pf, templates, render=render, sms_max_segments=sms_max_segments)
        if not document.text.startswith(MODELINE):
            problems.append(document.problem((), "the file does not start with the schema modeline",
                                             f"add `{MODELINE}../schemas/policy.schema.json` as line 1 so editors "
                                             "check it while you type", "modeline", level="warning"))
    if len(files) == len(paths):  # coverage over a partial set would report gaps the broken file fills
        for cross in cross_checks():
            problems += cross(files)
    if render and files:
        problems += layout_problems(files[0], templates)
    return files, problems


def layout_problems(pf: PolicyFile, templates: TemplateStore) -> list[Problem]:
    """The e-mail layout (templates/email-layout.html.j2), if the project has one, renders around a sample notice."""
    if not templates.has_email_layout:
        return []
    step = pf.policy.steps[0] if pf.policy.steps else None
    if step is None:
        return []
    context = sample_context(pf.policy, step, pf.policy.settings.language)
    try:
        templates.email_html(Rendered("Subject", "A paragraph.\n\nINV-1   1.00", pf.policy.settings.language,
                                      step.template), context)
    except DunflowError as exc:
        where, _, message = exc.message.partition(": ")
        file, _, line = where.partition(":")
        return [Problem(file, int(line) if line.isdigit() else 0, 0, message or exc.message, exc.hint,
                        "email-layout")]
    return []


def load_policies(policies_dir: Path, templates: TemplateStore, root: Path | None = None) -> PolicySet:
    """The project's policies, or InputProblems listing every error found."""
    paths = policy_paths([policies_dir])
    if not paths:
        raise InputProblems([Problem(str(policies_dir), 0, 0, "no policy files (*.yaml) found",
                                     "copy one from the shipped examples (`dunflow init`)", "no-policies")])
    files, problems = check_policies(paths, templates, root, render=False)
    errors = [p for p in problems if p.level == "error"]
    if errors:
        raise InputProblems(errors)
    return PolicySet(tuple(files))


def _display(path: Path, root: Path | None) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve())) if root else str(path)
    except ValueError:
        return str(path)


def _template_uses(policy: Policy) -> list[tuple[tuple[object, ...], Step, str]]:
    uses: list[tuple[tuple[object, ...], Step, str]] = [(("steps", i, "template"), s, s.template) for i, s in enumerate(policy.steps)]
    if policy.escalation is not None and policy.escalation.template:
        uses.append((("escalation", "template"), policy.escalation, policy.escalation.template))
    rules = policy.events.arrangement
    installment_step = Step("installment", Delay(0), rules.reminder_channels, rules.reminder_template,
                            kind="installment")
    uses.append((("events", "arrangement", "reminder", "template"), installment_step, rules.reminder_template))
    return uses


def template_problems(pf: PolicyFile, templates: TemplateStore, *, render: bool = True,
                      sms_max_segments: int | None = None) -> list[Problem]:
    """Each template the policy uses must exist in its default language and render in every language it has."""
    problems: list[Problem] = []
    languages = sorted(p.name for p in templates.root.iterdir() if p.is_dir()) if templates.root.is_dir() else []
    for path, step, name in _template_uses(pf.policy):
        try:
            problems += _one_template(pf, templates, path, step, name, languages, render, sms_max_segments)
        except TemplateOutsideProject as exc:
            problems.append(pf.document.problem(path, f"template '{name}': {exc.message}", exc.hint,
                                                "template-outside-project"))
    return problems


def _one_template(pf: PolicyFile, templates: TemplateStore, path: tuple[object, ...], step: Step, name: str,
                  languages: list[str], render: bool, sms_max_segments: int | None = None) -> list[Problem]:
    default = pf.policy.settings.language
    if not templates.exists(name, default):
        return [pf.document.problem(
            path, f"unknown template '{name}': {templates.file_of(name, default)} does not exist",
            f"create it, or use one of the templates under {templates.root}/{default}/", "unknown-template")]
    problems: list[Problem] = []
    for language in languages:
        if templates.exists(name, language):
            context = sample_context(pf.policy, step, language) if render else None
            problems += templates.check(name, language, context)
            if context is not None and sms_max_segments and "sms" in (*step.channels, step.fallback or ""):
                problems += _sms_length(pf, templates, path, name, language, context, sms_max_segments)
        for country in templates.countries(language):  # a country's own version, e.g. nl/NL/b2c/notice
            variant = templates.for_country(name, country)
            if templates.exists(variant, language):
                context = sample_context(pf.policy, step, language, country) if render else None
                problems += templates.check(variant, language, context)
    return problems


def _sms_length(pf: PolicyFile, templates: TemplateStore, path: tuple[object, ...], name: str, language: str,
                context: dict[str, object], most: int) -> list[Problem]:
    """An SMS body over one segment costs more (a warning); over `most` segments it is refused (an error)."""
    try:
        body = templates.render(name, language, context).body.strip()
    except DunflowError:
        return []  # reported by templates.check already
    counted = segments(body)
    if counted.count <= 1:
        return []
    over = counted.count > most
    return [pf.document.problem(
        path, f"template '{name}' ({language}) sent by sms is {counted.units} {counted.encoding} characters: "
              f"{counted.count} segments" + (f", more than {most} (channels.sms.max_segments)" if over else ""),
        f"shorten it to {160 if counted.encoding == 'GSM-7' else 70} characters for one segment"
        + ("" if counted.encoding == "GSM-7" else " (characters outside GSM-7 such as emoji or curly quotes "
                                                  "switch the whole text to UCS-2)"),
        "sms-length", level="error" if over else "warning")]


SAMPLE_CHARGES = (
    ChargeLine("INV-1", "fee", "reminder", Money(Decimal("5.00"), "EUR"), Money(Decimal("5.00"), "EUR")),
    ChargeLine("INV-1", "compensation", "first-notice", Money(Decimal("40.00"), "EUR"), Money(Decimal("40.00"), "EUR")),
    ChargeLine("INV-1", "interest", "", Money(Decimal("12.34"), "EUR"), Money(Decimal("12.34"), "EUR"), accrued=True),
)


def sample_context(policy: Policy, step: Step, language: str, country: str = "DE",
                   with_charges: bool = False) -> dict[str, object]:
    """A realistic context with two invoices, the same shape the runner builds (installment parts only
    for the installment reminder, as at run time); `with_charges`: with a fee, the compensation and accrued
    interest on the first invoice (the golden files show how a template prints them)."""
    as_of = date(2026, 12, 1)
    debtor = Debtor("D-0001", "Beispiel GmbH", "business", country, language, "ap@example.com", "+49 30 123456",
                    "Musterweg 1", "10115", "Berlin")
    lines = tuple(
        invoice_line(f"INV-{n}", as_of - timedelta(days=60), as_of - timedelta(days=30 - n),
                     Money(Decimal(amount), "EUR"), Money(Decimal(amount), "EUR"), as_of)
        for n, amount in ((1, "1190.00"), (2, "250.50")))
    extra = {} if step.kind != "installment" else {
        "installment": {"number": 2, "due_date": as_of - timedelta(days=5), "amount": Money(Decimal("100.00"), "EUR"),
                        "open_amount": Money(Decimal("100.00"), "EUR")},
        "arrangement": {"id": 1, "installments": 6},
    }
    facts = NoticeFacts(debtor, Creditor("Muster GmbH", "Hauptstraße 1\n70173 Stuttgart", "ar@example.com",
                                         "+49 711 000", "DE89370400440532013000", "COBADEFF700", "example.com"),
                        lines, step, policy, 1, as_of, language, extra,
                        charges=SAMPLE_CHARGES if with_charges else ())
    return facts.context()
