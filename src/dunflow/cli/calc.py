"""`dunflow calc interest|collection-costs|compensation`: the amounts the law allows, and how they were computed,
in a form a finance admin can check by hand (text) or a script can read (JSON, `amount` first).

The same pure functions (`dunflow.domain.law`) compute what the engine books. Rates come from the shipped
`rates/*.yaml` plus the project's own `rates/` folder when the command runs inside a project."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import click

from dunflow.cli.common import ISO_DATE, output_format, parse_amount, report
from dunflow.errors import DunflowError

if TYPE_CHECKING:
    from dunflow.domain.law import CostsResult, InterestResult

LAWS = click.Choice(["DE", "NL", "EU"])
DEBTOR_TYPES = click.Choice(["business", "consumer"])
DAY_COUNTS = click.Choice(["act/365", "act/360", "act/act"])
CALC_FORMAT = output_format("text", "json")
SIX = Decimal("0.000001")
T = TypeVar("T")


def refusals_as_errors(compute: Callable[[], T]) -> T:
    """A law refusal (no rate for a day, no rule for a law or currency) is a user error, not a crash."""
    from dunflow.domain.law import LawRefusal

    try:
        return compute()
    except LawRefusal as refusal:
        raise DunflowError(refusal.message, refusal.hint) from None


def _project_root(ctx: click.Context) -> Path | None:
    """The project whose rates/ folder adds to the shipped rates; none outside a project (shipped rates only)."""
    from dunflow.project import find_root

    try:
        return find_root((ctx.obj.get("project") or Path.cwd()).resolve())
    except DunflowError:
        return None


def _exact(value: Decimal) -> str:
    """An unrounded intermediate, shown to six decimals (the amount itself is rounded once, to the cent)."""
    return str(value.quantize(SIX, ROUND_HALF_UP))


@click.group(name="calc")
def calc_group() -> None:
    """The amounts the law allows (interest, collection costs, compensation), with how they were computed."""


@calc_group.command(name="interest")
@click.option("--principal", required=True, help="The principal, e.g. 1000.00.")
@click.option("--due", "due", type=ISO_DATE, help="Due date: interest runs from the day after it.")
@click.option("--from", "start", type=ISO_DATE, help="First day of interest (instead of --due), e.g. the start of "
              "default.")
@click.option("--as-of", "as_of", type=ISO_DATE, required=True, help="Last day of interest (included).")
@click.option("--law", type=LAWS, help="Statutory interest: DE (§288 BGB), NL (6:119/6:119a BW), EU (2011/7/EU).")
@click.option("--debtor-type", type=DEBTOR_TYPES, default="business", show_default=True)
@click.option("--rate", help="Contractual rate in percent per year (instead of --law), e.g. 8.00.")
@click.option("--day-count", type=DAY_COUNTS, default="act/365", show_default=True)
@CALC_FORMAT
@click.pass_context
def interest(ctx: click.Context, principal: str, due: date | None, start: date | None, as_of: date, law: str | None,
             debtor_type: str, rate: str | None, day_count: str, fmt: str) -> None:
    """Default interest, day by day: every day from the first day of interest up to and including --as-of, at
    1/365 of the rate valid that day (act/365); the total is rounded once, half-up, to the cent."""
    first = _first_day(due, start)
    amount = parse_amount(principal)
    if (law is None) == (rate is None):
        raise DunflowError("give either --law (statutory interest) or --rate (contractual interest)",
                           "e.g. --law DE --debtor-type business, or --rate 8.00")
    result = refusals_as_errors(lambda: _interest(ctx, amount, first, as_of, law, debtor_type, rate, day_count))
    data = {"calculation": "interest", "amount": str(result.amount), "principal": str(amount),
            "law": law, "debtor_type": debtor_type if law else None, "rate": rate, "start": first.isoformat(),
            "end": as_of.isoformat(), **_interest_json(result)}
    report(fmt, data, lambda _: click.echo(_interest_text(data, result)))


def _first_day(due: date | None, start: date | None) -> date:
    if (due is None) == (start is None):
        raise DunflowError("give either --due (interest from the day after) or --from (the first day of interest)")
    if start is not None:
        return start
    assert due is not None
    return due + timedelta(days=1)


def _interest(ctx: click.Context, principal: Decimal, first: date, as_of: date, law: str | None, debtor_type: str,
              rate: str | None, day_count: str) -> InterestResult:
    from dunflow.domain.law import contractual_interest, statutory_interest
    from dunflow.law.rate_files import load_rate_table

    if rate is not None:
        return contractual_interest(principal, first, as_of, parse_percent(rate), day_count)
    assert law is not None
    return statutory_interest(principal, first, as_of, law, debtor_type, load_rate_table(_project_root(ctx)),
                              day_count)


def parse_percent(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except ArithmeticError:
        value = Decimal(-1)
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
        raise DunflowError(f"'{text}' is not a percentage", "write it like 8.00 (for 8 %)")
    return value


def _interest_json(result: InterestResult) -> dict[str, Any]:
    return {
        "day_count": result.day_count, "compounded": result.compounded,
        "days": sum(p.days for p in result.periods),
        "periods": [{"start": p.start.isoformat(), "end": p.end.isoformat(), "days": p.days, "rate": str(p.rate),
                     "base": _exact(p.base), "year_days": p.year_days, "amount": _exact(p.amount),
                     "rate_source": p.source} for p in result.periods],
        "explanation": result.explanation,
    }


def _interest_text(data: dict[str, Any], result: InterestResult) -> str:
    lines = [f"Interest on {data['principal']} from {data['start']} to {data['end']} (both included): "
             f"{data['amount']}"]
    lines += ["  " + line for line in result.explanation.splitlines()]
    lines += [f"  rate {p.start.isoformat()}..{p.end.isoformat()}: {p.source}" for p in result.periods
              if p.source != "contract"]
    return "\n".join(lines)


@calc_group.command(name="collection-costs")
@click.argument("principal")
@click.option("--law", type=LAWS, required=True, help="NL: the WIK scale (art. 6:96 BW).")
@click.option("--vat", help="VAT percent added on top, for a creditor that cannot deduct VAT (e.g. 21).")
@CALC_FORMAT
def collection_costs_command(principal: str, law: str, vat: str | None, fmt: str) -> None:
    """Extrajudicial collection costs by the statutory scale on PRINCIPAL (the principal still unpaid)."""
    from dunflow.domain.law import collection_costs

    amount = parse_amount(principal)
    result = refusals_as_errors(lambda: collection_costs(amount, law, parse_percent(vat) if vat else None))
    data = {"calculation": "collection_costs", "amount": str(result.amount), "vat_amount": str(result.vat_amount),
            "total": str(result.total), "principal": str(amount), "law": law, "vat": vat, **_costs_json(result)}
    report(fmt, data, lambda _: click.echo(_costs_text(data, result)))


def _costs_json(result: CostsResult) -> dict[str, Any]:
    return {
        "minimum_applied": result.minimum_applied, "maximum_applied": result.maximum_applied,
        "brackets": [{"from": str(b.lower), "to": None if b.upper is None else str(b.upper),
                      "percent": str(b.percent), "portion": str(b.portion), "amount": str(b.amount)}
                     for b in result.brackets],
        "explanation": result.explanation,
    }


def _costs_text(data: dict[str, Any], result: CostsResult) -> str:
    head = f"Collection costs on {data['principal']}: {data['amount']}"
    if result.vat_amount:
        head += f" + VAT {data['vat_amount']} = {data['total']}"
    return "\n".join([head] + ["  " + line for line in result.explanation.splitlines()])


@calc_group.command(name="compensation")
@click.option("--law", type=LAWS, required=True, help="DE §288(5) BGB, NL art. 6:96 lid 4 BW, EU 2011/7/EU art. 6.")
@click.option("--debtor-type", type=DEBTOR_TYPES, default="business", show_default=True)
@click.option("--currency", default="EUR", show_default=True, help="The invoice's currency.")
@CALC_FORMAT
def compensation_command(law: str, debtor_type: str, currency: str, fmt: str) -> None:
    """The fixed compensation per late invoice (40 EUR from a business; nothing from a consumer)."""
    from dunflow.domain.law import compensation

    result = refusals_as_errors(lambda: compensation(law, currency.upper(), debtor_type))
    data = {"calculation": "compensation", "amount": str(result.amount), "currency": result.currency, "law": law,
            "debtor_type": debtor_type, "reason": result.reason, "explanation": result.explanation}
    report(fmt, data, lambda _: click.echo(f"Compensation: {data['amount']} {data['currency']}\n  "
                                           f"{result.explanation}"))


COMMANDS = (calc_group,)
