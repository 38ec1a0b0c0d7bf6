"""The policy language for charges (`charges:`, step `fee:`/`charge:`/`legal:`, `acknowledge:`): schema and model."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from dunflow.policy.build import build_policy
from dunflow.policy.schema import load_schema

ROOT = Path(__file__).resolve().parents[2]


def _policy(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "policies" / "b2b-standard.yaml").read_text())
    data.update(changes)
    return data


def _valid(data: dict[str, Any]) -> bool:
    return jsonschema.Draft202012Validator(load_schema()).is_valid(data)


def test_a_policy_without_charges_charges_nothing_and_allocates_costs_interest_principal() -> None:
    policy = build_policy(yaml.safe_load((ROOT / "policies" / "key-accounts.yaml").read_text()))
    assert policy.charges.interest is None and policy.charges.compensation_law is None
    assert policy.charges.allocation == ("costs", "interest", "principal")
    assert all(step.fee is None and step.charges == () for step in policy.all_steps)


def test_the_shipped_policies_charge_what_the_law_allows_their_segment() -> None:
    b2b = build_policy(_policy())
    assert (b2b.charges.interest is not None and b2b.charges.interest.law == "DE"
            and b2b.charges.interest_from == "default" and b2b.charges.compensation_law == "DE")
    [final] = [step for step in b2b.all_steps if step.fee is not None or step.charges]
    assert final.id == "final-notice" and final.charges == ("compensation",)
    assert final.fee is not None and dict(final.fee.by_currency) == {"EUR": Decimal("5.00"), "GBP": Decimal("4.00")}
    b2c = build_policy(yaml.safe_load((ROOT / "policies" / "b2c-consumer.yaml").read_text()))
    assert b2c.charges.interest is None and b2c.charges.compensation_law is None
    assert b2c.charges.collection_costs_law == "NL"
    assert [(s.id, s.charges, s.fee) for s in b2c.all_steps if s.fee is not None or s.charges] == [
        ("final-letter", ("collection_costs",), None)]


def test_the_charges_block_builds_into_the_model() -> None:
    data = _policy(charges={"interest": {"law": "DE"}, "interest_from": "due_date", "compensation": {"law": "EU"},
                            "collection_costs": {"law": "NL", "vat": "21.00"},
                            "allocation": ["interest", "costs", "principal"], "delivery_days": 3},
                   acknowledge=[{"rule": "NL-WIK-14DAY", "reason": "costs agreed in the contract"}])
    data["steps"][1].update(charge=["collection_costs"], legal="fourteen_day_letter")
    assert _valid(data)
    policy = build_policy(data)
    assert policy.charges.interest is not None and policy.charges.interest.law == "DE"
    assert policy.charges.collection_costs_vat == Decimal("21.00")
    assert policy.charges.allocation == ("interest", "costs", "principal")
    assert policy.charges.delivery_days == 3
    assert policy.steps[1].charges == ("collection_costs",) and policy.steps[1].legal == "fourteen_day_letter"
    assert policy.acknowledged[0].rule == "NL-WIK-14DAY"


@pytest.mark.parametrize(("fee", "currency", "principal", "expected"), [
    ("5.00", "JPY", "1000", Decimal("5.00")),             # a plain amount: the invoice's own currency
    ({"EUR": "5.00", "GBP": "4.00"}, "GBP", "10", Decimal("4.00")),
    ({"EUR": "5.00"}, "USD", "10", None),                 # not listed: no fee in that currency
    ({"percent": "1.5"}, "EUR", "1234.56", Decimal("18.5184")),  # unrounded: rounding happens when booked
])
def test_a_step_fee_is_fixed_per_currency_or_a_share_of_the_principal(
        fee: Any, currency: str, principal: str, expected: Decimal | None) -> None:
    data = _policy()
    data["steps"][0]["fee"] = fee
    assert _valid(data)
    step_fee = build_policy(data).steps[0].fee
    assert step_fee is not None and step_fee.base_amount(currency, Decimal(principal)) == expected


@pytest.mark.parametrize("charges", [
    {"interest": {"law": "FR"}},
    {"interest": {"law": "DE", "rate": "8"}},
    {"allocation": ["costs", "costs", "principal"]},
    {"collection_costs": {"vat": "21"}},
    {"interest_from": "tomorrow"},
])
def test_a_malformed_charges_block_is_refused_by_the_schema(charges: dict[str, Any]) -> None:
    assert not _valid(_policy(charges=charges))


def test_the_day_count_is_a_policy_setting_with_act_365_as_default() -> None:
    assert build_policy(_policy()).charges.day_count == "act/365"
    data = _policy(charges={"interest": {"law": "NL"}, "day_count": "act/act"})
    assert _valid(data) and build_policy(data).charges.day_count == "act/act"
    assert not _valid(_policy(charges={"day_count": "30/360"}))
