"""The credit-management reports: aging, DSO, CEI, effectiveness of each step, and what was sent.

The portfolio is read once through the unit of work (`uow.reports`); the arithmetic is `domain.metrics`.
Any past date works: an invoice's open amount on a day is today's open amount plus what was allocated to it
after that day (payments, credit notes; a return counts negatively), and an invoice issued after the day is
not part of it. Every figure is per currency.
"""
from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Iterable

from dunflow.domain.metrics import (
    BUCKETS,
    MAX_COUNTBACK_MONTHS,
    MonthSales,
    aging_bucket,
    cei,
    dso_countback,
    dso_standard,
    rounded,
)
from dunflow.domain.money import minor_unit
from dunflow.store.uow import UnitOfWork

PAID_WITHIN = (7, 14)


@dataclass(frozen=True)
class Receivable:
    number: str
    debtor: str
    segment: str
    currency: str
    amount: Decimal
    issue_date: date
    due_date: date
    open_now: Decimal
    allocations: tuple[tuple[date, Decimal], ...]  # (day, amount), oldest first

    def open_on(self, day: date) -> Decimal:
        """What was open at the end of `day` (nothing before the invoice was issued)."""
        if self.issue_date > day:
            return Decimal(0)
        return self.open_now + sum((amount for on, amount in self.allocations if on > day), Decimal(0))

    def paid_on(self) -> date | None:
        """The day the last allocation left nothing open, or None while something is open."""
        if self.open_now > 0 or not self.allocations:
            return None
        return self.allocations[-1][0]


def portfolio(uow: UnitOfWork) -> list[Receivable]:
    """Every invoice with the allocations to its principal, by number: receivables are principal; what a payment
    gave the charges of the debt (fees, interest, costs) is not counted as paid principal."""
    allocated: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for invoice, on, amount in uow.reports.allocations():
        allocated[invoice].append((on, Decimal(amount)))
    for invoice, on, amount in uow.debts.charge_parts():  # what paid charges did not reduce the principal
        allocated[invoice].append((on, -Decimal(amount)))
    for rows in allocated.values():
        rows.sort(key=lambda row: row[0])
    return [Receivable(r.number, r.debtor, r.segment, r.currency, Decimal(r.amount), r.issue_date, r.due_date,
                       Decimal(r.open_amount), tuple(allocated.get(r.id, ()))) for r in uow.reports.receivables()]


def _money(value: Decimal, currency: str) -> str:
    return str(value.quantize(minor_unit(currency)))


def _figure(value: Decimal | None) -> str | None:
    found = rounded(value)
    return None if found is None else str(found)


def aging(uow: UnitOfWork, as_of: date, by: str = "currency") -> dict[str, Any]:
    """Open amounts per bucket on `as_of`, per currency and, with `by` debtor or segment, per that too."""
    sums: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: {b: Decimal(0) for b in BUCKETS})
    for invoice in portfolio(uow):
        left = invoice.open_on(as_of)
        if left > 0:
            group = {"currency": invoice.currency, "debtor": invoice.debtor, "segment": invoice.segment}[by]
            sums[(invoice.currency, group)][aging_bucket(invoice.due_date, as_of)] += left
    rows = [{"currency": currency, by: group, **{b: _money(v, currency) for b, v in buckets.items()},
             "total": _money(sum(buckets.values(), Decimal(0)), currency)}
            for (currency, group), buckets in sorted(sums.items())]
    return {"as_of": str(as_of), "by": by, "buckets": list(BUCKETS), "rows": rows}


@dataclass(frozen=True)
class Period:
    """The `days` days up to and including `end`; its start is the day before the first."""

    end: date
    days: int

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.days)

    def holds(self, day: date) -> bool:
        return self.start < day <= self.end


def _per_currency(invoices: Iterable[Receivable]) -> dict[str, list[Receivable]]:
    found: dict[str, list[Receivable]] = defaultdict(list)
    for invoice in invoices:
        found[invoice.currency].append(invoice)
    return dict(sorted(found.items()))


def _sales(invoices: list[Receivable], first: date, last: date) -> Decimal:
    return sum((i.amount for i in invoices if first <= i.issue_date <= last), Decimal(0))


def _months_back(invoices: list[Receivable], end: date) -> list[MonthSales]:
    """Calendar months newest first, the current one counted up to `end`."""
    months, year, month, last = [], end.year, end.month, end
    for _ in range(MAX_COUNTBACK_MONTHS):
        first = date(year, month, 1)
        months.append(MonthSales((last - first).days + 1, _sales(invoices, first, last)))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        last = date(year, month, calendar.monthrange(year, month)[1])
    return months


def dso(uow: UnitOfWork, as_of: date, days: int = 90) -> dict[str, Any]:
    """DSO standard and countback, best possible DSO and ADD, per currency, for the `days` up to `as_of`."""
    period, rows = Period(as_of, days), []
    for currency, invoices in _per_currency(portfolio(uow)).items():
        receivables = sum((i.open_on(as_of) for i in invoices), Decimal(0))
        current = sum((i.open_on(as_of) for i in invoices if i.due_date >= as_of), Decimal(0))
        sales = sum((i.amount for i in invoices if period.holds(i.issue_date)), Decimal(0))
        standard, best = dso_standard(receivables, sales, days), dso_standard(current, sales, days)
        rows.append({"currency": currency, "receivables": _money(receivables, currency),
                     "current": _money(current, currency), "credit_sales": _money(sales, currency),
                     "dso_standard": _figure(standard),
                     "dso_countback": _figure(dso_countback(receivables, _months_back(invoices, as_of))),
                     "best_possible_dso": _figure(best),
                     "add": _figure(standard - best if standard is not None and best is not None else None)})
    return {"as_of": str(as_of), "days": days, "rows": rows}


def collection_effectiveness(uow: UnitOfWork, as_of: date, days: int = 90) -> dict[str, Any]:
    """CEI per currency for the `days` up to `as_of`."""
    period, rows = Period(as_of, days), []
    for currency, invoices in _per_currency(portfolio(uow)).items():
        start = sum((i.open_on(period.start) for i in invoices), Decimal(0))
        end = sum((i.open_on(as_of) for i in invoices), Decimal(0))
        current = sum((i.open_on(as_of) for i in invoices if i.due_date >= as_of), Decimal(0))
        sales = sum((i.amount for i in invoices if period.holds(i.issue_date)), Decimal(0))
        rows.append({"currency": currency, "ar_start": _money(start, currency), "credit_sales": _money(sales, currency),
                     "ar_end": _money(end, currency), "current_ar_end": _money(current, currency),
                     "cei": _figure(cei(start, sales, end, current))})
    return {"as_of": str(as_of), "days": days, "rows": rows}


def effectiveness(uow: UnitOfWork, as_of: date) -> dict[str, Any]:
    """Per step and channel: the invoices its delivered notices listed, and the share paid within 7 and 14 days
    after the delivery (a payment on the delivery day itself does not count; it crossed the notice)."""
    paid = {i.number: i.paid_on() for i in portfolio(uow)}
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (1 + len(PAID_WITHIN)))
    for message in uow.reports.delivered_messages():
        if message.delivered_on is None or message.delivered_on > as_of:
            continue
        for number in message.invoice_numbers:
            tally = counts[(message.step, message.channel)]
            tally[0] += 1
            on = paid.get(number)
            for n, window in enumerate(PAID_WITHIN, start=1):
                tally[n] += on is not None and message.delivered_on < on <= min(
                    as_of, message.delivered_on + timedelta(days=window))
    rows = [{"step": step, "channel": channel, "invoices": tally[0],
             **{f"paid_{w}": tally[n] for n, w in enumerate(PAID_WITHIN, start=1)},
             **{f"share_{w}": _figure(Decimal(tally[n]) / tally[0] * 100) for n, w in enumerate(PAID_WITHIN, start=1)}}
            for (step, channel), tally in sorted(counts.items())]
    return {"as_of": str(as_of), "rows": rows}


def activity(uow: UnitOfWork, as_of: date, days: int = 90) -> dict[str, Any]:
    """Messages delivered per day and channel in the `days` up to `as_of`."""
    period = Period(as_of, days)
    counts: dict[tuple[date, str], int] = defaultdict(int)
    for message in uow.reports.delivered_messages():
        if message.delivered_on is not None and period.holds(message.delivered_on):
            counts[(message.delivered_on, message.channel)] += 1
    return {"as_of": str(as_of), "days": days,
            "rows": [{"date": str(on), "channel": channel, "messages": n} for (on, channel), n in sorted(counts.items())]}
