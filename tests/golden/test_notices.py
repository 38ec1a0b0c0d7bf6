"""Every shipped template, rendered with the sample context, matches its golden file.

A wording or layout change shows up here as a diff to review. Rewrite the golden files with
DUNFLOW_UPDATE_GOLDEN=1 after checking the new text.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from dunflow.policy.validate import _template_uses, load_policies, sample_context
from dunflow.rendering.templates import TemplateStore
from dunflow.resources import resource_path

GOLDEN = Path(__file__).parent / "notices"
TEMPLATES = TemplateStore(resource_path("templates"))
POLICIES = load_policies(resource_path("policies"), TEMPLATES)
LANGUAGES = ("de", "nl", "en", "fr")
# (policy, template, language, country): every template in every language, plus each country's own version
# (e.g. the Dutch 14-day letter nl/NL/b2c/notice), rendered for a debtor in that country.
CASES = sorted({(pf.policy.name, name, language, country)
                for pf in POLICIES.files for _, _, name in _template_uses(pf.policy)
                for language in LANGUAGES
                for country in ["", *TEMPLATES.countries(language)]
                if not country or TEMPLATES.exists(TEMPLATES.for_country(name, country), language)})


@pytest.mark.parametrize(("policy", "template", "language", "country"), CASES,
                         ids=["/".join(filter(None, c)) for c in CASES])
def test_shipped_notice_renders_as_recorded(policy: str, template: str, language: str, country: str) -> None:
    pf = POLICIES.by_name(policy)
    assert pf is not None
    step = next(step for _, step, name in _template_uses(pf.policy) if name == template)
    context = sample_context(pf.policy, step, language, country or "DE")
    rendered = TEMPLATES.render(TEMPLATES.variant(template, language, country), language, context)
    text = f"Subject: {rendered.subject}\n\n{rendered.body}"
    golden = GOLDEN / policy / language / country / f"{template.replace('/', '__')}.txt"
    if os.environ.get("DUNFLOW_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


# The notices that ask for money after the due date, rendered with charges (a fee, the compensation, interest
# accrued to the notice's date): the charges table and the total due, in every language.
CHARGED = sorted(c for c in CASES if c[1].split("/")[-1] in ("first-notice", "final-notice", "notice", "final-letter"))


@pytest.mark.parametrize(("policy", "template", "language", "country"), CHARGED,
                         ids=["/".join(filter(None, c)) for c in CHARGED])
def test_shipped_notice_with_charges_renders_as_recorded(policy: str, template: str, language: str,
                                                         country: str) -> None:
    pf = POLICIES.by_name(policy)
    assert pf is not None
    step = next(step for _, step, name in _template_uses(pf.policy) if name == template)
    context = sample_context(pf.policy, step, language, country or "DE", with_charges=True)
    rendered = TEMPLATES.render(TEMPLATES.variant(template, language, country), language, context)
    text = f"Subject: {rendered.subject}\n\n{rendered.body}"
    golden = GOLDEN / "with-charges" / policy / language / country / f"{template.replace('/', '__')}.txt"
    if os.environ.get("DUNFLOW_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_the_email_layout_wraps_a_notice_as_recorded_with_the_policys_branding() -> None:
    """The HTML part of an e-mail: the shipped layout around the rendered text, with the policy's colour and
    footer; a name is escaped, the invoice table keeps its columns."""
    from dataclasses import replace

    from dunflow.domain.policy import Branding

    pf = POLICIES.by_name("b2b-standard")
    assert pf is not None
    policy = replace(pf.policy, settings=replace(pf.policy.settings, branding=Branding(
        color="#0b5394", footer="Amtsgericht Hamburg HRB 12345")))
    step = next(step for _, step, name in _template_uses(policy) if name == "b2b/first-notice")
    context = sample_context(policy, step, "de", "DE")
    context["creditor"] = replace(context["creditor"], name="Muster & <Söhne> GmbH")  # type: ignore[type-var]
    rendered = TEMPLATES.render("b2b/first-notice", "de", context)
    html = TEMPLATES.email_html(rendered, context)
    assert html is not None
    assert "&lt;Söhne&gt;" in html and "<Söhne>" not in html
    assert "border-top:4px solid #0b5394" in html and "Amtsgericht Hamburg HRB 12345" in html
    assert "<pre" in html  # the invoice table
    golden = GOLDEN / "email-layout" / "b2b-standard-de-first-notice.html"
    if os.environ.get("DUNFLOW_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(html, encoding="utf-8")
    assert html == golden.read_text(encoding="utf-8")


def test_the_layout_sees_each_paragraph_as_lines_text_and_escaped_html(tmp_path: Path) -> None:
    from dunflow.rendering.templates import Rendered, TemplateStore

    (tmp_path / "email-layout.html.j2").write_text(
        "{% for p in paragraphs %}[{{ p.table }}|{{ p.lines|join('/') }}|{{ p.text }}|{{ p.html }}]{% endfor %}",
        encoding="utf-8")
    body = "Dear <Alpha & Co>,\nsecond line\n\nR-1   10.00 EUR\nR-2   5.00 EUR\n"
    html = TemplateStore(tmp_path).email_html(Rendered("S", body, "en", "t"), {})
    assert html == ("[False|Dear &lt;Alpha &amp; Co&gt;,/second line|Dear &lt;Alpha &amp; Co&gt;,\nsecond line|"
                    "Dear &lt;Alpha &amp; Co&gt;,<br>second line]"
                    "[True|R-1   10.00 EUR/R-2   5.00 EUR|R-1   10.00 EUR\nR-2   5.00 EUR|R-1   10.00 EUR<br>R-2   5.00 EUR]")
