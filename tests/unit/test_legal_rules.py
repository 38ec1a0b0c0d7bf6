"""The legal lint: each rule with a policy that breaks it and one that keeps it, positions pinned; acknowledgements.

Each failing case asserts (rule, line, col) and the text found there, so a pin that drifts onto another token fails.
"""
from __future__ import annotations

import re
from textwrap import dedent

from dunflow.errors import Problem
from dunflow.policy.build import build_policy
from dunflow.policy.load import load_yaml_text
from dunflow.policy.rules import PolicyFile
from dunflow.policy.rules import legal
from dunflow.policy.schema import schema_problems

HEAD = """\
apiVersion: dunflow/v1
kind: Policy
metadata: {{name: t}}
applies_to:
  priority: 1
  match: {match}
settings: {{timezone: Europe/Amsterdam, calendar: NL, language: nl}}
"""
HANDOVER = """\
escalation:
  id: handover
  after: {days: 14, from: previous_step}
  to: collection_agency
  channels: [letter]
  template: b2c/handover
"""


def step(step_id: str, days: int, extra: str = "", anchor: str = "previous_step") -> str:
    text = (f"  - id: {step_id}\n    after: {{days: {days}, from: {anchor}}}\n    channels: [letter]\n"
            f"    template: b2c/notice\n")
    return text + "".join(f"    {line}\n" for line in dedent(extra).strip().splitlines())


def policy(match: str, *steps: str, charges: str = "", tail: str = "", final: bool = True) -> str:
    """A policy with these steps, then (unless `final` is False) a final notice and the hand-over."""
    text = HEAD.format(match=match) + (f"charges:\n{charges}" if charges else "") + "steps:\n" + "".join(steps)
    return text + (step("final", 7, FINAL) if final else "") + HANDOVER + tail


def lint(text: str) -> list[Problem]:
    document, problems = load_yaml_text(text, "p.yaml")
    assert document is not None and not problems
    assert schema_problems(document) == [], schema_problems(document)
    return list(legal.check(PolicyFile(build_policy(document.data, "p.yaml"), document)))


def found(text: str) -> list[tuple[str, int, int, str]]:
    """(rule, line, col, the word at that position) of every problem."""
    lines = text.splitlines()
    return [(p.rule, p.line, p.col, _word(lines[p.line - 1][p.col - 1:])) for p in lint(text)]


def _word(text: str) -> str:
    """The value or key starting here, without the bracket of a flow list or mapping."""
    match = re.match(r'[\[{]?([\w".-]+)', text)
    return match.group(1) if match else text


NL_CONSUMER = "{customer_type: consumer, country: NL}"
FINAL = "legal: final_notice"
NL_COSTS = "  collection_costs: {law: NL}\n"


def test_nl_costs_without_a_fourteen_day_letter_fail() -> None:
    text = policy(NL_CONSUMER, step("notice", 14, "charge: [collection_costs]", "due_date"),
                  charges=NL_COSTS)
    assert found(text) == [("nl-fourteen-day-letter", 15, 13, "collection_costs")]


def test_nl_costs_too_soon_after_the_fourteen_day_letter_fail() -> None:
    text = policy(NL_CONSUMER, step("letter", 14, "legal: fourteen_day_letter\npay_within_days: 16", "due_date"),
                  step("costs", 16, "charge: [collection_costs]"), charges=NL_COSTS)
    [problem] = lint(text)
    assert found(text) == [("nl-fourteen-day-letter", 21, 13, "collection_costs")]
    assert "16 days after the 14-day letter" in problem.message and "17 days" in problem.message


def test_nl_costs_after_the_fourteen_day_term_pass() -> None:
    text = policy(NL_CONSUMER, step("letter", 14, "legal: fourteen_day_letter\npay_within_days: 16", "due_date"),
                  step("costs", 17, "charge: [collection_costs]"), charges=NL_COSTS)
    assert lint(text) == []


def test_the_delivery_days_lengthen_the_term() -> None:
    text = policy(NL_CONSUMER, step("letter", 14, "legal: fourteen_day_letter\npay_within_days: 16", "due_date"),
                  step("costs", 17, "charge: [collection_costs]"),
                  charges=NL_COSTS + "  delivery_days: 3\n")
    assert [r for r, *_ in found(text)] == ["nl-fourteen-day-letter", "nl-fourteen-day-term"]


def test_a_fourteen_day_letter_giving_too_few_days_fails() -> None:
    text = policy(NL_CONSUMER, step("letter", 14, "legal: fourteen_day_letter\npay_within_days: 14\n",
                                    "due_date"))
    assert found(text) == [("nl-fourteen-day-term", 14, 22, "14")]


def test_a_fourteen_day_letter_relying_on_the_default_seven_days_is_located_at_its_marker() -> None:
    text = policy(NL_CONSUMER, step("letter", 14, "legal: fourteen_day_letter\n", "due_date"))
    assert found(text) == [("nl-fourteen-day-term", 13, 12, "fourteen_day_letter")]


DE_CONSUMER = "{customer_type: consumer, country: DE}"


def test_de_consumer_fee_before_the_default_notice_fails() -> None:
    text = policy(DE_CONSUMER, step("reminder", 7, 'fee: "2.00"', "due_date"),
                  step("mahnung", 14, "legal: default_notice\n"))
    assert found(text) == [("de-charges-before-default", 13, 10, '"2.00"')]


def test_de_consumer_fee_without_any_default_notice_fails() -> None:
    text = policy(DE_CONSUMER, step("reminder", 7, FINAL, "due_date"), step("second", 14, 'fee: "2.00"'))
    [problem] = lint(text)
    assert problem.rule == "de-charges-before-default" and "no step marked" in problem.message


def test_de_consumer_interest_from_the_due_date_fails() -> None:
    text = policy(DE_CONSUMER, step("mahnung", 14, "legal: default_notice\n", "due_date"),
                  charges="  interest: {law: DE}\n  interest_from: due_date\n")
    assert found(text) == [("de-charges-before-default", 10, 18, "due_date")]


def test_de_consumer_interest_from_a_first_notice_that_is_no_mahnung_fails() -> None:
    text = policy(DE_CONSUMER, step("reminder", 7, "", "due_date"),
                  step("mahnung", 14, "legal: default_notice\n"),
                  charges="  interest: {law: DE}\n  interest_from: first_notice\n")
    assert found(text) == [("de-charges-before-default", 10, 18, "first_notice")]


def test_de_consumer_charges_after_the_default_notice_pass() -> None:
    text = policy(DE_CONSUMER, step("mahnung", 14, "legal: default_notice", "due_date"),
                  step("second", 14, 'fee: "2.00"\n'),
                  charges="  interest: {law: DE}\n  interest_from: first_notice\n")
    assert lint(text) == []


def test_de_fee_on_the_notice_that_puts_the_debtor_in_default_fails() -> None:
    text = policy("{customer_type: business, country: DE}",
                  step("mahnung", 14, 'legal: default_notice\nfee: "2.00"', "due_date"))
    assert found(text) == [("de-fee-on-default-notice", 14, 10, '"2.00"')]


def test_de_fee_on_the_first_overdue_step_counts_as_the_default_notice_when_none_is_marked() -> None:
    text = policy("{customer_type: business, country: DE}", step("early", -3, "", "due_date"),
                  step("first", 10, 'fee: "2.00"', "due_date"))
    assert [r for r, *_ in found(text)] == ["de-fee-on-default-notice"]


def test_de_fee_on_a_later_notice_passes() -> None:
    text = policy("{customer_type: business, country: DE}", step("mahnung", 14, "legal: default_notice", "due_date"),
                  step("second", 14, 'fee: "2.50"'))
    assert lint(text) == []


def test_compensation_in_a_consumer_policy_fails() -> None:
    text = policy(NL_CONSUMER, step("notice", 14, "charge: [compensation]", "due_date"),
                  charges="  compensation: {law: DE}\n")
    assert found(text) == [("consumer-compensation", 9, 3, "compensation"),
                           ("consumer-compensation", 15, 13, "compensation")]


def test_compensation_in_a_business_policy_passes() -> None:
    text = policy("{customer_type: business}", step("notice", 14, "charge: [compensation]", "due_date"),
                  charges="  compensation: {law: DE}\n")
    assert lint(text) == []


def test_eu_commercial_interest_for_consumers_fails() -> None:
    text = policy("{customer_type: consumer}", step("notice", 14, FINAL, "due_date"),
                  charges="  interest: {law: EU}\n")
    assert found(text) == [("consumer-commercial-interest", 9, 19, "EU")]


def test_eu_commercial_interest_for_businesses_passes() -> None:
    text = policy("{customer_type: business}", step("notice", 14, "", "due_date"), charges="  interest: {law: EU}\n")
    assert lint(text) == []


def test_consumer_hand_over_without_a_final_notice_fails() -> None:
    text = policy("{customer_type: consumer}", step("notice", 14, "", "due_date"), final=False)
    assert found(text) == [("consumer-final-notice", 16, 7, "collection_agency")]


def test_business_hand_over_without_a_final_notice_passes() -> None:
    assert lint(policy("{customer_type: business}", step("notice", 14, "", "due_date"))) == []


def test_high_and_percentage_fees_warn() -> None:
    text = policy("{customer_type: business, country: NL}", step("one", 14, 'fee: "12.50"', "due_date"),
                  step("two", 7, 'fee: {percent: "1.0"}'))
    assert found(text) == [("high-dunning-fee", 13, 10, '"12.50"'), ("high-dunning-fee", 18, 10, "percent")]
    assert {p.level for p in lint(text)} == {"warning"}


def test_a_fee_of_a_few_euro_passes() -> None:
    text = policy("{customer_type: business, country: NL}", step("one", 14, 'fee: {EUR: "5.00", GBP: "4.00"}',
                                                                 "due_date"))
    assert lint(text) == []


def test_collection_costs_under_a_law_without_a_scale_fail() -> None:
    text = policy("{customer_type: business}", step("notice", 14, "charge: [collection_costs]", "due_date"),
                  charges="  collection_costs: {law: DE}\n")
    assert found(text) == [("collection-costs-scale", 9, 27, "DE")]


def test_a_charge_the_policy_does_not_define_fails() -> None:
    text = policy("{customer_type: business}", step("notice", 14, "charge: [compensation]", "due_date"))
    assert found(text) == [("charge-not-configured", 13, 13, "compensation")]


def test_an_acknowledged_rule_is_reported_as_acknowledged_with_its_reason() -> None:
    text = policy("{customer_type: consumer}", step("notice", 14, "", "due_date"), final=False,
                  tail="acknowledge:\n  - {rule: consumer-final-notice, reason: the agency writes first}\n")
    [problem] = lint(text)
    assert (problem.rule, problem.level) == ("consumer-final-notice", "acknowledged")
    assert "acknowledged: the agency writes first" in problem.message


def test_acknowledging_an_unknown_rule_is_a_located_error() -> None:
    text = policy("{customer_type: business}", step("notice", 14, "", "due_date"),
                  tail="acknowledge:\n  - {rule: no-such-rule, reason: because}\n")
    assert found(text) == [("acknowledge-unknown-rule", 25, 12, "no-such-rule")]
    assert lint(text)[0].level == "error"


def test_acknowledging_a_rule_the_policy_keeps_warns() -> None:
    text = policy("{customer_type: business}", step("notice", 14, "", "due_date"),
                  tail="acknowledge:\n  - {rule: consumer-final-notice, reason: because}\n")
    assert [(p.rule, p.level) for p in lint(text)] == [("acknowledge-unused", "warning")]


def test_every_rule_has_an_id_level_explanation_and_source() -> None:
    rules = legal.legal_rules()
    assert len({r.id for r in rules}) == len(rules) >= 10
    assert all(r.level in ("error", "warning") and r.explanation and r.source for r in rules)


ALL_CONSUMERS = "{customer_type: consumer}"


def test_dutch_wik_costs_after_the_fourteen_day_letter_pass_for_a_policy_that_also_covers_german_consumers() -> None:
    # the WIK costs need a Dutch 14-day letter, which has no legal effect for a German debtor: never booked there
    text = policy(ALL_CONSUMERS, step("letter", 14, "legal: fourteen_day_letter\npay_within_days: 16", "due_date"),
                  step("costs", 17, "charge: [collection_costs]\n" + FINAL), charges=NL_COSTS, final=False)
    assert lint(text) == []


def test_a_fee_for_all_consumers_without_a_default_notice_still_fails() -> None:
    text = policy(ALL_CONSUMERS, step("letter", 14, "legal: fourteen_day_letter\npay_within_days: 16", "due_date"),
                  step("costs", 17, 'charge: [collection_costs]\nfee: "2.00"\n' + FINAL), charges=NL_COSTS,
                  final=False)
    assert [r for r, *_ in found(text)] == ["de-charges-before-default"]
