"""Properties of dunning as the real parts do it: random policies, invoices, debtor events and run days.

Each example writes a random valid policy as YAML, loads it the way `dunflow` does, imports one
debtor's invoices into a fresh SQLite database and then lives through the days: the debtor's
events of a day are recorded first (payments, a hold, a promise, through the same services as the
commands), then the real runner advances what is due, and on some days the outbox is delivered.
Only then are the properties read back from the database: the audit trail and the outbox.

The generators reach what the pure properties in tests/unit/test_properties.py cannot: month-end
anchors, pauses, grouped notices, and amounts below the policy's minimum.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text

from dunflow.clock import FixedClock
from dunflow.delivery.channels import FileSink
from dunflow.delivery.dispatch import send_pending
from dunflow.delivery.refresh import refresh
from dunflow.engine.run import run_due
from dunflow.errors import DunflowError
from dunflow.events.holds import place_hold
from dunflow.events.promises import make_promise
from dunflow.events.timers import pause_timers
from dunflow.ledger.invoices import import_invoices
from dunflow.ledger.payments import add_payment
from dunflow.policy.validate import load_policies
from dunflow.project import Project, load_project
from dunflow.rendering.templates import TemplateStore
from dunflow.scaffold import init_project
from dunflow.store.db import make_engine, migrate
from dunflow.store.orm import Invoice, table_of
from dunflow.store.uow import Store, UnitOfWork

FIRST_DUE = date(2026, 10, 1)
MINIMUM = Decimal("5.00")
AMOUNTS = [Decimal(a) for a in ("0.50", "4.99", "5.00", "120.00", "980.40")]
STEP_KINDS = ("step", "escalation")
INVOICES = table_of(Invoice)


# --- generators ---------------------------------------------------------------------------------


@st.composite
def delays(draw: st.DrawFn, count: int) -> list[dict[str, Any]]:
    """`count` delays that each fall later than the one before, from the due date, the previous step or
    the end of the month (what the delay-order rule accepts)."""
    found: list[dict[str, Any]] = []
    offset = draw(st.integers(-10 if count >= 3 else 0, 20))  # a courtesy reminder needs a real step after it
    anchors = ["due_date", "previous_step", "end_of_month"]
    first = draw(st.sampled_from(anchors if offset > 0 else anchors[:1]))  # previous_step waits >= 1 day
    found.append({"days": offset, "from": first})
    for _ in range(count - 1):
        gap = draw(st.integers(1, 25))
        anchor = draw(st.sampled_from(anchors))
        if anchor == "previous_step":
            found.append({"days": gap, "from": anchor})
            offset += gap
        else:
            offset = max(offset, 0) + gap
            found.append({"days": offset, "from": anchor})
    return found


@st.composite
def policy_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid policy file's content, catching every debtor."""
    *regular, last = draw(delays(draw(st.integers(1, 4)) + 1))
    steps = [{"id": f"step-{n}", "after": after, "channels": ["email"], "fallback": "letter",
              "template": "b2b/reminder", "required": after["days"] >= 0 and draw(st.booleans())}
             for n, after in enumerate(regular)]
    steps[-1]["legal"] = "final_notice"  # it catches consumers too: their hand-over must be announced (legal lint)
    return {
        "apiVersion": "dunflow/v1", "kind": "Policy", "metadata": {"name": "random"},
        "applies_to": {"priority": 1, "match": {}},
        "settings": {"timezone": "Europe/Berlin", "calendar": draw(st.sampled_from(["DE", "NL"])), "language": "en",
                     "minimum_open_amount": {"default": str(MINIMUM)}, "group_per_debtor": draw(st.booleans()),
                     "catch_up": draw(st.sampled_from(["latest", "next"])),
                     "min_days_between_steps": draw(st.integers(0, 7))},
        "steps": steps,
        "escalation": {"id": "handover", "after": last, "to": "collection_agency", "channels": ["letter"],
                       "template": "b2b/handover"},
        "events": {"promise": {"grace_days": draw(st.integers(0, 5))}},
    }


@dataclass(frozen=True)
class Event:
    day: date
    kind: str  # pay | pay-part | hold | promise
    invoice: int
    days: int | None  # hold: until day + days (None: until released); promise: pay by day + days


@dataclass(frozen=True)
class Scenario:
    policy: dict[str, Any]
    due_dates: tuple[date, ...]
    amounts: tuple[Decimal, ...]
    runs: tuple[date, ...]
    sends: frozenset[date]
    events: tuple[Event, ...]

    def days(self) -> list[date]:
        return sorted(set(self.runs) | {e.day for e in self.events})


def day_after(due: date) -> st.SearchStrategy[date]:
    return st.integers(-15, 160).map(lambda offset: due + timedelta(days=offset))


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    count = draw(st.integers(1, 3))
    due_dates = tuple(FIRST_DUE + timedelta(days=draw(st.integers(0, 45))) for _ in range(count))
    amounts = tuple(draw(st.sampled_from(AMOUNTS)) for _ in range(count))
    runs = tuple(sorted(draw(st.sets(day_after(FIRST_DUE), min_size=1, max_size=10))))
    sends = frozenset(day for day in runs if draw(st.booleans()))
    event = st.builds(Event, day_after(FIRST_DUE), st.sampled_from(["pay", "pay-part", "hold", "promise"]),
                      st.integers(0, count - 1), st.one_of(st.none(), st.integers(1, 30)))
    return Scenario(draw(policy_documents()), due_dates, amounts, runs, sends,
                    tuple(draw(st.lists(event, max_size=4))))


# --- the world the examples live in --------------------------------------------------------------


@dataclass
class Shared:
    """What every example starts from: a `dunflow init` project and an empty, migrated database."""

    project: Project
    templates: TemplateStore
    database: Path


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    folder = tmp_path_factory.mktemp("properties")
    init_project(folder / "demo", sample_data=False)
    engine = make_engine(f"sqlite:///{folder / 'empty.db'}")
    migrate(engine)
    engine.dispose()
    project = load_project(folder / "demo", None)
    yield Shared(project, TemplateStore(project.templates_dir), folder / "empty.db")


@dataclass
class Lived:
    """What happened, as the database recorded it, plus the days the debtor's events took effect."""

    numbers: list[str]
    group_per_debtor: bool
    actions: list[tuple[str, str, str, date]] = field(default_factory=list)  # invoice, kind, step, at
    messages: list[dict[str, Any]] = field(default_factory=list)
    paid_on: dict[str, date] = field(default_factory=dict)  # nothing left to dun from this day on
    paused: dict[str, list[tuple[date, date]]] = field(default_factory=dict)  # [from, to) per invoice

    def steps_of(self, number: str) -> list[tuple[str, date]]:
        return [(step, at) for n, kind, step, at in self.actions if n == number and kind in STEP_KINDS]


def live(shared: Shared, scenario: Scenario) -> Lived:
    """Play the scenario through the real services; read back the audit trail and the outbox."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "policies").mkdir()
        (root / "policies" / "random.yaml").write_text(yaml.safe_dump(scenario.policy, sort_keys=False))
        policies = load_policies(root / "policies", shared.templates, root)
        shutil.copy(shared.database, root / "dunflow.db")
        engine = make_engine(f"sqlite:///{root / 'dunflow.db'}")
        try:
            lived = Lived([f"R-{n}" for n in range(len(scenario.amounts))], scenario.policy["settings"]["group_per_debtor"])
            start = min(scenario.days()[0], min(scenario.due_dates)) - timedelta(days=30)
            with Store(engine, FixedClock.on(start)).writing() as uow:
                versions = uow.versions.register(policies, uow.clock.now())
                import_invoices(uow, _invoices_csv(root, scenario), policies, versions, start)
            for day in scenario.days():
                for event in (e for e in scenario.events if e.day == day):
                    _record_event(Store(engine, FixedClock.on(day, time(8))), lived, event)
                if day in scenario.runs:
                    store = Store(engine, FixedClock(datetime.combine(day, time(9), timezone.utc)))
                    run_due(store, shared.templates, shared.project.creditor, day, pause_timers(), batch_size=2)
                if day in scenario.sends:
                    _send(Store(engine, FixedClock(datetime.combine(day, time(17), timezone.utc))), shared, root)
            _read_back(engine, lived)
        finally:
            engine.dispose()
    return lived


def _invoices_csv(root: Path, scenario: Scenario) -> Path:
    lines = ["number,debtor_code,currency,amount,issue_date,due_date,debtor_name,debtor_type,debtor_country,"
             "debtor_language,debtor_email"]
    for n, (due, amount) in enumerate(zip(scenario.due_dates, scenario.amounts)):
        lines.append(f"R-{n},D-1,EUR,{amount},{due - timedelta(days=30)},{due},Alpha GmbH,business,DE,en,"
                     "ap@alpha.example")
    path = root / "invoices.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _record_event(store: Store, lived: Lived, event: Event) -> None:
    """One debtor event in one transaction, as its command records it; one the rules refuse changes nothing."""
    number = lived.numbers[event.invoice]
    try:
        with store.writing() as uow:
            if event.kind in ("pay", "pay-part"):
                open_amount = _open_amount(uow, number)
                amount = open_amount if event.kind == "pay" else (open_amount / 2).quantize(Decimal("0.01"))
                add_payment(uow, number, amount, event.day, actor="test")
            elif event.kind == "hold":
                until = None if event.days is None else event.day + timedelta(days=event.days)
                place_hold(uow, "D-1", until, "test hold", event.day, actor="test")
                for held in lived.numbers:
                    lived.paused.setdefault(held, []).append((event.day, until or date.max))
            else:
                pay_by = event.day + timedelta(days=event.days or 0)
                check_on = make_promise(uow, number, pay_by, None, event.day, actor="test")
                lived.paused.setdefault(number, []).append((event.day, check_on))
    except DunflowError:
        return
    _note_what_is_settled(store.engine, lived, event.day)


def _open_amount(uow: UnitOfWork, number: str) -> Decimal:
    return Decimal(uow.connection.execute(select(INVOICES.c.open_amount).where(INVOICES.c.number == number)).scalar_one())


def _note_what_is_settled(engine: Engine, lived: Lived, day: date) -> None:
    """Invoices paid or below the minimum after this event: nothing may go out about them from `day` on."""
    with engine.connect() as connection:
        rows = connection.execute(select(INVOICES.c.number, INVOICES.c.open_amount))
        for number, open_amount in rows:
            if Decimal(open_amount) < MINIMUM:
                lived.paid_on.setdefault(number, day)


def _send(store: Store, shared: Shared, root: Path) -> None:
    def refresher(uow: UnitOfWork, message: dict[str, Any]) -> Any:
        return refresh(uow, shared.templates, shared.project.creditor, message)

    sink = FileSink(root / "outbox", shared.project.creditor.email)
    send_pending(store, lambda _channel: sink, refresher)


def _read_back(engine: Engine, lived: Lived) -> None:
    with engine.connect() as connection:
        lived.actions = [(number, kind, step, date.fromisoformat(str(at))) for number, kind, step, at in
                         connection.execute(text("SELECT i.number, a.kind, a.step, a.at FROM actions a "
                                                 "JOIN cases c ON c.id = a.case_id JOIN invoices i "
                                                 "ON i.id = c.invoice_id ORDER BY a.id"))]
        lived.messages = [dict(row._mapping) for row in connection.execute(text(
            "SELECT step, channel, status, created_on, sent_at, invoice_numbers FROM outbox ORDER BY id"))]
    for message in lived.messages:
        numbers = message["invoice_numbers"]
        message["invoice_numbers"] = yaml.safe_load(numbers) if isinstance(numbers, str) else numbers
        message["created_on"] = date.fromisoformat(str(message["created_on"]))
        sent_at = message["sent_at"]
        message["sent_on"] = None if sent_at is None else date.fromisoformat(str(sent_at)[:10])


# --- properties ------------------------------------------------------------------------------------

PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(scenarios())
def test_nothing_goes_out_about_an_invoice_once_it_is_paid(shared: Shared, scenario: Scenario) -> None:
    lived = live(shared, scenario)
    for number, paid_on in lived.paid_on.items():
        assert all(at < paid_on for _, at in lived.steps_of(number)), (number, paid_on, lived.steps_of(number))
        for message in lived.messages:
            if number in message["invoice_numbers"]:
                assert message["created_on"] < paid_on, (number, paid_on, message)
                assert message["sent_on"] is None or message["sent_on"] < paid_on, (number, paid_on, message)


@PROPERTY
@given(scenarios())
def test_no_step_while_the_debtor_is_held_or_has_promised_to_pay(shared: Shared, scenario: Scenario) -> None:
    lived = live(shared, scenario)
    for number, pauses in lived.paused.items():
        for step, at in lived.steps_of(number):
            assert not any(start <= at < end for start, end in pauses), (number, step, at, pauses)


@PROPERTY
@given(scenarios())
def test_an_invoice_below_the_minimum_is_never_dunned(shared: Shared, scenario: Scenario) -> None:
    lived = live(shared, scenario)
    for number, amount in zip(lived.numbers, scenario.amounts):
        if amount < MINIMUM:
            assert lived.steps_of(number) == []
            assert not any(number in m["invoice_numbers"] for m in lived.messages)


@PROPERTY
@given(scenarios())
def test_each_case_takes_its_steps_in_order_each_at_most_once(shared: Shared, scenario: Scenario) -> None:
    lived = live(shared, scenario)
    order = [s["id"] for s in scenario.policy["steps"]] + ["handover"]
    for number in lived.numbers:
        taken = [order.index(step) for step, _ in lived.steps_of(number)]
        assert taken == sorted(set(taken)), (number, lived.steps_of(number))


@PROPERTY
@given(scenarios())
def test_a_grouping_policy_sends_one_notice_per_channel_and_day_and_others_one_per_invoice(
        shared: Shared, scenario: Scenario) -> None:
    lived = live(shared, scenario)
    regular = [m for m in lived.messages if m["step"] != "handover"]
    if lived.group_per_debtor:
        per_day = [(m["created_on"], m["channel"]) for m in regular]
        assert len(per_day) == len(set(per_day)), regular
    else:
        assert all(len(m["invoice_numbers"]) == 1 for m in regular), regular
    for message in lived.messages:
        assert message["status"] != "pending" or message["created_on"] > max(scenario.sends, default=date.min)


def test_hypothesis_runs_derandomized_unless_told_otherwise() -> None:
    """CI failures reproduce: the default profile (tests/conftest.py) draws the same examples every run."""
    assert settings.default.derandomize is True and settings.default.database is None
