"""How debtors react to a notice: the payment-behaviour model of a simulation.

A model names, per step and channel, the probability that an invoice a delivered notice lists is paid within
N days of the delivery; optionally per segment (the debtor's customer type, `business` or `consumer`).
The simulator draws, for every invoice a delivered notice lists that is still open and has no payment coming,
`random() < probability`; if so the whole open amount is paid `randint(1, within_days)` days later, through
the real ledger (`ledger.payments.add_payment`), so it stops dunning as a real payment would. The draws come
from one `random.Random(seed)` in delivery order, hence the same inputs and seed give the same simulation.

```yaml
apiVersion: dunflow/v1
kind: PaymentModel
default: {probability: 0.10, within_days: 14}     # any step or channel not named
steps:
  reminder: {email: {probability: 0.35, within_days: 7}, "*": {probability: 0.30, within_days: 10}}
segments:
  consumer:                                       # debtors of type consumer; falls back to the lines above
    steps: {reminder: {"*": {probability: 0.20, within_days: 10}}}
```

`--payments historical` learns one from the database: per segment, step and channel, the share of the
invoices listed in delivered notices that were paid within 14 days after the delivery.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from dunflow.errors import DunflowError
from dunflow.reporting.credit import portfolio
from dunflow.store.uow import UnitOfWork

ANY = "*"
HISTORY_WINDOW = 14


@dataclass(frozen=True)
class Reaction:
    """The chance that a listed invoice is paid within `within_days` of the notice's delivery."""

    probability: float
    within_days: int


@dataclass(frozen=True)
class Behaviour:
    """One segment's (or the whole portfolio's) reactions: step → channel (or `*`) → reaction."""

    steps: dict[str, dict[str, Reaction]] = field(default_factory=dict)
    default: Reaction | None = None

    def reaction(self, step: str, channel: str) -> Reaction | None:
        channels = self.steps.get(step, {})
        return channels.get(channel) or channels.get(ANY) or self.default


@dataclass(frozen=True)
class PaymentModel:
    name: str
    base: Behaviour
    segments: dict[str, Behaviour] = field(default_factory=dict)

    def reaction(self, segment: str, step: str, channel: str) -> Reaction | None:
        """The segment's own reaction, else the model's; None means nobody pays after that notice."""
        own = self.segments.get(segment)
        return (own.reaction(step, channel) if own is not None else None) or self.base.reaction(step, channel)


NOBODY_PAYS = PaymentModel("none", Behaviour())


DEFAULT_MODEL = Path(__file__).with_name("default-payments.yaml")


def load_model(path: Path) -> PaymentModel:
    """A model file; a mistake in it is a `DunflowError` naming the file and the key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DunflowError(f"{path}: cannot read the payment model: {exc}",
                           "give a YAML file with `kind: PaymentModel`, or `none` / `historical`") from exc
    if not isinstance(data, dict) or data.get("kind") != "PaymentModel":
        raise DunflowError(f"{path}: not a payment model (expected `kind: PaymentModel`)",
                           "see README, 'Payment-behaviour model'")
    segments = data.get("segments") or {}
    if not isinstance(segments, dict):
        raise DunflowError(f"{path}: segments: expected a mapping of customer type to steps", "")
    return PaymentModel(path.stem, _behaviour(path, "", data),
                        {str(name): _behaviour(path, f"segments.{name}.", part) for name, part in segments.items()})


def _behaviour(path: Path, where: str, data: Any) -> Behaviour:
    if not isinstance(data, dict):
        raise DunflowError(f"{path}: {where.rstrip('.')}: expected a mapping", "")
    steps = data.get("steps") or {}
    if not isinstance(steps, dict):
        raise DunflowError(f"{path}: {where}steps: expected a mapping of step id to channels", "")
    parsed = {str(step): {str(channel): _reaction(path, f"{where}steps.{step}.{channel}", value)
                          for channel, value in (channels or {}).items()}
              for step, channels in steps.items()}
    default = data.get("default")
    return Behaviour(parsed, _reaction(path, f"{where}default", default) if default is not None else None)


def _reaction(path: Path, where: str, data: Any) -> Reaction:
    if not isinstance(data, dict) or set(data) - {"probability", "within_days"}:
        raise DunflowError(f"{path}: {where}: expected {{probability: 0..1, within_days: N}}", "")
    probability, days = data.get("probability"), data.get("within_days", HISTORY_WINDOW)
    if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 1:
        raise DunflowError(f"{path}: {where}.probability: {probability!r} is not a number from 0 to 1", "")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise DunflowError(f"{path}: {where}.within_days: {days!r} is not a whole number of days, at least 1", "")
    return Reaction(float(probability), days)


def historical_model(uow: UnitOfWork) -> PaymentModel:
    """Learned from the delivered notices and the payments in the database (see the module's docstring)."""
    paid = {i.number: i.paid_on() for i in portfolio(uow)}
    tallies: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for message in uow.reports.delivered_messages():
        for number in message.invoice_numbers:
            on = paid.get(number)
            for key in ((message.segment, message.step, message.channel), ("", message.step, message.channel)):
                tallies[key][0] += 1
                tallies[key][1] += on is not None and message.delivered_on < on <= (
                    message.delivered_on + timedelta(days=HISTORY_WINDOW))
    if not tallies:
        raise DunflowError("no delivered notices in the database to learn payment behaviour from",
                           "use --payments with a model file (the shipped default: --payments default) or none")
    behaviours: dict[str, dict[str, dict[str, Reaction]]] = defaultdict(lambda: defaultdict(dict))
    for (segment, step, channel), (listed, paid_in_time) in sorted(tallies.items()):
        behaviours[segment][step][channel] = Reaction(round(paid_in_time / listed, 4), HISTORY_WINDOW)
    base = Behaviour({s: dict(c) for s, c in behaviours.pop("").items()})
    return PaymentModel("historical", base, {name: Behaviour({s: dict(c) for s, c in steps.items()})
                                             for name, steps in behaviours.items()})
