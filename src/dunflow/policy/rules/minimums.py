"""A debtor minimum only means something above the invoice minimum: below it, it would bring in nothing."""
from __future__ import annotations

from typing import Iterable

from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile

ID = "debtor-minimum"


def check(pf: PolicyFile) -> Iterable[Problem]:
    settings = pf.policy.settings
    currencies = {c for c, _ in settings.debtor_minimum_by_currency} | {c for c, _ in settings.minimum_by_currency}
    for currency in sorted(currencies | {"default"}):
        key = None if currency == "default" else currency
        debtor = settings.debtor_minimum_for(key or "")
        invoice = settings.minimum_for(key or "")
        if debtor is not None and debtor <= invoice:
            path = ("settings", "debtor_minimum") + ((currency,) if isinstance(
                pf.document.data["settings"].get("debtor_minimum"), dict) else ())
            yield pf.document.problem(
                path, f"debtor minimum {debtor} is not above the invoice minimum {invoice}"
                + ("" if key is None else f" for {currency}"),
                "an invoice at or above minimum_open_amount is dunned on its own anyway: set debtor_minimum higher "
                "(the sum of small overdue invoices at which the debtor is dunned for them)", ID)
            return
