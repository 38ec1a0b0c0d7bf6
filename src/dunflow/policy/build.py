"""Schema-valid policy data → the frozen `Policy` model."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from dunflow.domain.policy import (
    DEFAULT_ALLOCATION,
    Acknowledgement,
    Branding,
    ArrangementRules,
    Charges,
    Delay,
    DisputeRules,
    Escalation,
    EventRules,
    Fee,
    InterestRule,
    Migration,
    OnContacted,
    Policy,
    PromiseRules,
    Repeat,
    Segment,
    Settings,
    Step,
)


def _many(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    return frozenset([value] if isinstance(value, str) else value)


def _amount(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def build_segment(applies_to: dict[str, Any]) -> Segment:
    match = applies_to.get("match") or {}
    amount = match.get("invoice_amount") or {}
    return Segment(
        priority=applies_to.get("priority", 0),
        customer_types=_many(match.get("customer_type")),
        countries=_many(match.get("country")),
        tags_any=_many(match.get("tags")),
        tags_none=_many(match.get("exclude_tags")),
        credit_ratings=_many(match.get("credit_rating")),
        amount_min=_amount(amount["min"]) if "min" in amount else None,
        amount_max=_amount(amount["max"]) if "max" in amount else None,
    )


def _per_currency(value: Any, default: Any) -> tuple[Any, tuple[tuple[str, Decimal], ...]]:
    """An amount, or a mapping of currency → amount with 'default' for the rest: (default, per currency)."""
    if not isinstance(value, dict):
        return value, ()
    by_currency = {k: _amount(v) for k, v in value.items() if k != "default"}
    return value.get("default", default), tuple(sorted(by_currency.items()))


def build_settings(data: dict[str, Any]) -> Settings:
    minimum, by_currency = _per_currency(data.get("minimum_open_amount", "0.01"), "0.01")
    debtor_minimum, debtor_by_currency = _per_currency(data.get("debtor_minimum"), None)
    return Settings(
        timezone=data["timezone"],
        calendar=data["calendar"],
        language=data["language"],
        minimum_open_amount=_amount(minimum),
        minimum_by_currency=by_currency,
        debtor_minimum=_amount(debtor_minimum) if debtor_minimum is not None else None,
        debtor_minimum_by_currency=debtor_by_currency,
        group_per_debtor=data.get("group_per_debtor", False),
        catch_up=data.get("catch_up", "latest"),
        min_days_between_steps=data.get("min_days_between_steps", 0),
        send_any_day=frozenset(data.get("send_any_day", ())),
        branding=Branding(**data.get("branding", {})),
    )


def build_delay(after: dict[str, Any]) -> Delay:
    return Delay(days=after.get("days", 0), anchor=after.get("from", "due_date"), months=after.get("months", 0))


def build_fee(data: Any) -> Fee | None:
    """`fee: "5.00"` (the invoice's currency), `{EUR: "5.00", GBP: "4.00"}` or `{percent: "1.0"}`."""
    if data is None:
        return None
    if not isinstance(data, dict):
        return Fee(by_currency=(("*", _amount(data)),))
    if "percent" in data:
        return Fee(percent=_amount(data["percent"]))
    return Fee(by_currency=tuple(sorted((currency, _amount(v)) for currency, v in data.items())))


def build_charges(data: dict[str, Any] | None) -> Charges:
    data = data or {}
    interest = data.get("interest")
    costs = data.get("collection_costs") or {}
    return Charges(
        interest=InterestRule(law=interest.get("law"),
                              rate=_amount(interest["rate"]) if "rate" in interest else None) if interest else None,
        interest_from=data.get("interest_from", "default"),
        compensation_law=(data.get("compensation") or {}).get("law"),
        collection_costs_law=costs.get("law"),
        collection_costs_vat=_amount(costs["vat"]) if "vat" in costs else None,
        allocation=tuple(data.get("allocation", DEFAULT_ALLOCATION)),
        delivery_days=data.get("delivery_days", 2),
        day_count=data.get("day_count", "act/365"),
    )


def build_acknowledgements(data: list[dict[str, Any]] | None) -> tuple[Acknowledgement, ...]:
    return tuple(Acknowledgement(rule=a["rule"], reason=a["reason"]) for a in data or ())


def _step_fields(data: dict[str, Any], default_kind: str) -> dict[str, Any]:
    after = data["after"]
    return dict(
        id=data["id"],
        title=data.get("title", ""),
        kind=data.get("kind", default_kind),
        after=build_delay(after),
        channels=tuple(data.get("channels", ())),
        fallback=data.get("fallback"),
        template=data.get("template", ""),
        pay_within_days=data.get("pay_within_days", 7),
        required=data.get("required", False),
        fee=build_fee(data.get("fee")),
        charges=tuple(data.get("charge", ())),
        legal=data.get("legal"),
        on_contacted=build_on_contacted(data.get("on_contacted")),
    )


def build_on_contacted(data: Any) -> OnContacted | None:
    """`resume` or `{pause: 14d}` (the schema checked the shape)."""
    if data is None:
        return None
    if data == "resume":
        return OnContacted()
    return OnContacted(pause_days=int(str(data["pause"]).rstrip("d")))


def build_step(data: dict[str, Any]) -> Step:
    kind = "reminder" if data["after"].get("days", 0) < 0 and not data["after"].get("months") else "notice"
    repeat = data.get("repeat")
    return Step(**_step_fields(data, kind),
                repeat=Repeat(build_delay(repeat["every"]), repeat["times"]) if repeat else None)


def build_escalation(data: dict[str, Any]) -> Escalation:
    return Escalation(
        **_step_fields(data, "escalation"),
        to=data["to"],
        agency=data.get("agency", ""),
        assignee=data.get("assignee", ""),
    )


def build_events(data: dict[str, Any]) -> EventRules:
    dispute = data.get("dispute", {})
    promise = data.get("promise", {})
    arrangement = data.get("arrangement", {})
    reminder = arrangement.get("reminder", {})
    defaults = ArrangementRules()
    return EventRules(
        dispute=DisputeRules(on_resolve=dispute.get("on_resolve", "restart_delay")),
        promise=PromiseRules(grace_days=promise.get("grace_days", 3), on_broken=promise.get("on_broken")),
        arrangement=ArrangementRules(
            reminder_after_days=reminder.get("after_days", defaults.reminder_after_days),
            reminder_template=reminder.get("template", defaults.reminder_template),
            reminder_channels=tuple(reminder.get("channels", defaults.reminder_channels)),
            reminder_fallback=reminder.get("fallback", defaults.reminder_fallback),
            max_missed=arrangement.get("max_missed", defaults.max_missed),
            on_default=arrangement.get("on_default"),
        ),
    )


def build_migration(data: Any) -> Migration:
    """`migrate: keep|by_step`, or `{strategy: by_step, map: {removed-step: step}}`."""
    if data is None:
        return Migration()
    if isinstance(data, str):
        return Migration(strategy=data)  # type: ignore[arg-type]  # the schema allows only keep|by_step
    return Migration(strategy=data["strategy"], step_map=tuple(sorted((data.get("map") or {}).items())))


def build_policy(data: dict[str, Any], source_file: str = "") -> Policy:
    """Assumes `data` passed the JSON Schema; semantic checks run on the result. With `dunning: off` any steps
    or escalation written are ignored (the `not-dunned` rule reports them)."""
    metadata = data["metadata"]
    dunned = data.get("dunning", True)
    return Policy(
        name=metadata["name"],
        description=metadata.get("description", ""),
        owner=metadata.get("owner", ""),
        segment=build_segment(data["applies_to"]),
        settings=build_settings(data["settings"]),
        steps=tuple(build_step(s) for s in data["steps"]) if dunned else (),
        escalation=build_escalation(data["escalation"]) if dunned else None,
        events=build_events(data.get("events", {})),
        migrate=build_migration(data.get("migrate")),
        charges=build_charges(data.get("charges")),
        acknowledged=build_acknowledgements(data.get("acknowledge")),
        source_file=source_file,
    )
