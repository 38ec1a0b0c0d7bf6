"""Exactly one policy must win for every debtor: report the gaps and ties we can prove.

We build a finite set of probe debtors that covers every distinction the
policies make (each customer type, each country named plus one that is not,
each tag, rating and amount boundary) and check every probe against every
policy. A probe no policy matches is a gap; a probe that two policies of the
same, highest priority both match is an overlap.
"""
from __future__ import annotations

from decimal import Decimal
from itertools import product
from typing import Iterable

from dunflow.domain.policy import DebtorFacts, Segment
from dunflow.errors import Problem
from dunflow.policy.rules import PolicyFile

ID = "segment-coverage"
OTHER_COUNTRY = "XX"


def _probes(segments: list[Segment]) -> Iterable[tuple[DebtorFacts, Decimal | None]]:
    countries = sorted({c for s in segments for c in s.countries}) + [OTHER_COUNTRY]
    tags = sorted({t for s in segments for t in s.tags_any | s.tags_none})
    ratings = sorted({r for s in segments for r in s.credit_ratings}) + [""]
    bounds = {b for s in segments for b in (s.amount_min, s.amount_max) if b is not None}
    amounts: list[Decimal | None] = [*sorted(bounds | {Decimal("0")})] if bounds else [None]
    tag_sets: list[frozenset[str]] = [frozenset()] + [frozenset({t}) for t in tags]
    for kind, country, tagset, rating, amount in product(("business", "consumer"), countries, tag_sets, ratings,
                                                         amounts):
        yield DebtorFacts(kind, country, tagset, rating), amount


def describe(facts: DebtorFacts, amount: Decimal | None, segments: list[Segment] | None = None) -> str:
    """The probe in words, leaving out what no policy distinguishes ("any consumer debtor")."""
    segments = segments or []
    names_countries = any(s.countries for s in segments)
    names_tags = any(s.tags_any or s.tags_none for s in segments)
    if not names_countries:
        parts = [f"any {facts.type} debtor"]
    elif facts.country == OTHER_COUNTRY:
        parts = [f"a {facts.type} debtor in a country no policy names"]
    else:
        parts = [f"a {facts.type} debtor in {facts.country}"]
    if names_tags:
        parts.append(f"tagged {', '.join(sorted(facts.tags))}" if facts.tags else "without tags")
    if facts.credit_rating:
        parts.append(f"rated {facts.credit_rating}")
    if amount is not None:
        parts.append(f"with an invoice of {amount}")
    return " ".join(parts)


def check(files: list[PolicyFile]) -> Iterable[Problem]:
    if not files:
        return
    yield from _duplicate_names(files)
    gaps: list[str] = []
    reported: set[tuple[str, str]] = set()
    segments = [f.policy.segment for f in files]
    for facts, amount in _probes(segments):
        winners = _winners(files, facts, amount)
        if not winners:
            gap = describe(facts, amount, segments)
            if gap not in gaps:
                gaps.append(gap)
        elif len(winners) > 1:
            yield from _overlap(winners, facts, amount, reported, segments)
    if gaps:
        first = min(files, key=lambda f: f.document.file)
        more = f" (and {len(gaps) - 3} more cases)" if len(gaps) > 3 else ""
        yield first.document.problem(
            ("applies_to", "match"), f"no policy covers {'; '.join(gaps[:3])}{more}",
            "add a catch-all policy with `match: {}` and a low priority, or widen a match", ID)


def _winners(files: list[PolicyFile], facts: DebtorFacts, amount: Decimal | None) -> list[PolicyFile]:
    matching = [f for f in files if f.policy.segment.matches(facts, amount)]
    if not matching:
        return []
    top = max(f.policy.segment.priority for f in matching)
    return [f for f in matching if f.policy.segment.priority == top]


def _overlap(winners: list[PolicyFile], facts: DebtorFacts, amount: Decimal | None,
             reported: set[tuple[str, str]], segments: list[Segment]) -> Iterable[Problem]:
    first, second = sorted(winners, key=lambda f: f.policy.name)[:2]
    pair = (first.policy.name, second.policy.name)
    if pair in reported:
        return
    reported.add(pair)
    yield second.document.problem(
        ("applies_to", "priority"),
        f"policies '{first.policy.name}' and '{second.policy.name}' both match {describe(facts, amount, segments)} "
        f"at priority {second.policy.segment.priority}, so which one applies is undefined",
        "give one of them a higher priority, or narrow its match", "segment-overlap")


def _duplicate_names(files: list[PolicyFile]) -> Iterable[Problem]:
    seen: dict[str, PolicyFile] = {}
    for pf in files:
        name = pf.policy.name
        if name in seen:
            yield pf.document.problem(("metadata", "name"),
                                      f"policy name '{name}' is also used by {seen[name].document.file}",
                                      "every policy needs its own metadata.name", "duplicate-policy-name")
        else:
            seen[name] = pf
