"""Policy versions: content hashes, compiling a stored version's text, calendars, and choosing a policy.

A policy version is the exact text of a policy file, identified by its SHA-256.
A case stays on the version it started under (so its history stays explainable);
moving in-flight cases to a new version is the job of `plan`/`apply`. Storing and
caching versions is the store's job (`store/versions.py`).
"""
from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from functools import lru_cache

import holidays

from dunflow.domain.calendar import BusinessDay
from dunflow.domain.policy import DebtorFacts, Policy
from dunflow.errors import DunflowError
from dunflow.policy.build import build_policy
from dunflow.policy.compile import CompiledPolicy, compile_policy
from dunflow.policy.load import load_yaml_text


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=256)
def compile_stored(source: str, source_file: str, version: int, digest: str) -> CompiledPolicy:
    """A stored version's text → its machine (the same text compiles once per process, whatever the database)."""
    document, problems = load_yaml_text(source, source_file)
    if document is None or problems:
        raise DunflowError(f"stored policy {source_file} v{version} no longer loads", "re-apply the policy")
    return compile_policy(build_policy(document.data, source_file), version, digest)


@lru_cache(maxsize=64)
def business_days(calendar: str) -> BusinessDay:
    """Monday-Friday without the public holidays of the policy's calendar (country or country-subdivision)."""
    country, _, subdivision = calendar.partition("-")
    public = holidays.country_holidays(country, subdiv=subdivision or None)

    @lru_cache(maxsize=4096)
    def is_business_day(day: date) -> bool:
        return day.weekday() < 5 and day not in public

    return is_business_day


def choose_policy(policies: list[Policy], facts: DebtorFacts, amount: Decimal | None) -> Policy | None:
    """The matching policy with the highest priority (validate proves there is exactly one)."""
    matching = [p for p in policies if p.segment.matches(facts, amount)]
    return max(matching, key=lambda p: p.segment.priority) if matching else None
