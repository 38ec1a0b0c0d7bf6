"""The sandbox's shortcuts (plain fields of the notice's data, checks kept per type and attribute) give the same
answers as the sandbox: data fields read, anything internal still refused."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from dunflow.domain.money import Money
from dunflow.domain.notice import Debtor, InvoiceLine
from dunflow.rendering.sandbox import BoundedEnvironment
from dunflow.rendering.templates import TemplateStore

LINE = InvoiceLine("R-1", date(2026, 9, 1), date(2026, 10, 1), Money(Decimal("10.00"), "EUR"),
                   Money(Decimal("10.00"), "EUR"), 61)
DEBTOR = Debtor("B1", "Alpha GmbH", "business", "DE", email="ap@alpha.example")


def environment(tmp_path: Path) -> BoundedEnvironment:
    return TemplateStore(tmp_path).env


@pytest.mark.parametrize("source", [
    "{{ line.__class__ }}", "{{ line.open_amount.__class__.__mro__ }}", "{{ debtor.reachable_by.__func__ }}",
    "{{ debtor.__dataclass_fields__ }}", "{{ line.__init__.__globals__ }}",
])
def test_internal_attributes_of_the_notice_data_are_still_refused(tmp_path: Path, source: str) -> None:
    env = environment(tmp_path)
    for _ in range(2):  # the second time from the kept answer
        with pytest.raises(SecurityError):
            env.from_string(source).render(line=LINE, debtor=DEBTOR)


def test_the_notice_data_fields_read_as_before(tmp_path: Path) -> None:
    env = environment(tmp_path)
    text = env.from_string("{{ line.number }} {{ line.open_amount.amount }} {{ line.days_overdue }} {{ debtor.name }} "
                           "{{ debtor.reachable_by('email') }} {{ '{}'.format(debtor.code) }}").render(line=LINE,
                                                                                                      debtor=DEBTOR)
    assert text == "R-1 10.00 61 Alpha GmbH True B1"


@pytest.mark.parametrize("source, expected", [
    ("{{ step.id }}", "reminder"),                       # a key, read without the failed getattr first
    ("{{ step['id'] }}", "reminder"),
    ("{{ step.items()|list|length }}", "2"),             # a dict's own method still wins over a key of its name
    ("{{ step.title is defined }}", "False"),            # a missing key is undefined, as before
    ("{{ nested.a.b }}", "c"),
])
def test_keys_of_plain_dicts_read_as_the_sandbox_reads_them(tmp_path: Path, source: str, expected: str) -> None:
    env = environment(tmp_path)
    context = dict(step={"id": "reminder", "items": "shadowed"}, nested={"a": {"b": "c"}})
    assert env.from_string(source).render(**context) == expected
    assert BoundedEnvironment.__mro__[1](undefined=env.undefined).from_string(source).render(**context) == expected


def test_a_missing_key_of_a_plain_dict_is_an_error_under_strict_undefined(tmp_path: Path) -> None:
    from jinja2 import UndefinedError

    with pytest.raises(UndefinedError, match="has no attribute 'nope'"):
        environment(tmp_path).from_string("{{ step.nope }}").render(step={"id": "x"})


def test_dict_internals_are_still_refused(tmp_path: Path) -> None:
    with pytest.raises(SecurityError):
        environment(tmp_path).from_string("{{ step.__class__.__subclasses__() }}").render(step={})
