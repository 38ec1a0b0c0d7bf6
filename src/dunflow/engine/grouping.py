"""Which invoices a grouped notice lists, and at which step (`group_per_debtor`).

One notice per debtor, currency and policy (by name: editing a policy file does
not split a debtor's notices; versions whose steps differ are not mixed) and per
kind: a courtesy note lists only the invoices it is due for (none is overdue
yet), an overdue notice only overdue invoices. The notice goes out at the highest
step any of its invoices is due today, and every invoice it lists is moved to
that step, so the same level never reaches the debtor twice:

- an invoice due a lower step today is raised to the notice's step (its audit
  entry names the step sent);
- the debtor's other overdue invoices in that currency and policy that stand at
  a lower step, and have no notice waiting in the outbox, are *lifted* to it (an
  audit entry `lifted` on each, pointing at the same message);
- invoices already at that step or above, paused or waiting are not listed, nor
  those stopped in the same batch, those below the policy's minimum (unless the
  debtor's overdue total reaches its `debtor_minimum`), or those with another
  e-mail contact (each address gets its own notice).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from dunflow.domain.case import CaseFacts
from dunflow.domain.policy import NOT_DUNNED, Policy, Settings, Step
from dunflow.domain.schedule import next_planned, not_before_tomorrow
from dunflow.engine.advance import Outcome, Record
from dunflow.engine.receipts import pending_cases
from dunflow.policy.compile import CaseState, advance_event
from dunflow.store.uow import UnitOfWork


def group_key(facts: CaseFacts, policy: Policy, step: Step, email: str = "") -> tuple[Any, ...]:
    """Debtor, currency, policy name and its steps, whether the notice is a courtesy note, and the invoices'
    own e-mail contact (the last element)."""
    return (facts.debtor_id, facts.currency, policy.name, tuple(s.id for s in policy.all_steps), step.is_courtesy,
            email)


class Lifter:
    """Moves the invoices a grouped notice lists to its step: the batch's own outcomes in place, the debtor's
    other cases as `companions` (outcomes of their own, saved by the runner with the batch)."""

    def __init__(self, uow: UnitOfWork, as_of: date, outcomes: list[Outcome], debtor_ids: set[int],
                 emails: dict[int, str]) -> None:
        """`debtor_ids`: the debtors whose grouped notices may lift others (those with an overdue notice); their
        other overdue cases are read once here, their overdue totals only if a `debtor_minimum` asks for them."""
        self.uow, self.debtor_ids, self.versions, self.as_of = uow, debtor_ids, uow.versions, as_of
        self.batch = {o.facts.case_id: o for o in outcomes}
        self.overdue_in_batch: dict[int, list[Outcome]] = {}  # per debtor: the batch's overdue outcomes
        for outcome in outcomes:
            if outcome.facts.due_date < as_of:
                self.overdue_in_batch.setdefault(outcome.facts.debtor_id, []).append(outcome)
        self.companions: list[Outcome] = []
        self.others: dict[tuple[int, str], list[Outcome]] = {}  # (debtor, policy name) → cases outside the batch
        self.emails = dict(emails)
        self._totals: dict[tuple[int, str], Decimal] | None = None
        if not debtor_ids:
            return
        others = self._overdue_cases(uow, debtor_ids)
        for name, outcome in others:
            self.others.setdefault((outcome.facts.debtor_id, name), []).append(outcome)
        if others:
            self.emails.update(uow.cases.invoice_emails([o.facts.invoice_id for _, o in others]))

    @property
    def totals(self) -> dict[tuple[int, str], Decimal]:
        """(debtor, currency) → overdue open amount, read on first use (only a `debtor_minimum` needs it)."""
        if self._totals is None:
            self._totals = {}
            for debtor, currency, amount in self.uow.cases.overdue_amounts(self.debtor_ids, self.as_of, NOT_DUNNED):
                self._totals[(debtor, currency)] = self._totals.get((debtor, currency), Decimal(0)) + Decimal(amount)
        return self._totals

    def _overdue_cases(self, uow: UnitOfWork, debtor_ids: set[int]) -> list[tuple[str, Outcome]]:
        """(policy name, outcome) of the debtors' overdue cases outside the batch that could be lifted."""
        rows = uow.cases.overdue_to_lift(debtor_ids, self.as_of, NOT_DUNNED, list(self.batch))
        waiting = pending_cases(uow, [facts.case_id for _, facts in rows]) if rows else set()
        return [(name, Outcome(facts, facts.state, facts.resume_state, facts.last_step_on, facts.next_action_at,
                               repeats=facts.repeats))
                for name, facts in rows if facts.case_id not in waiting]

    def _minimum(self, settings: Settings, facts: CaseFacts) -> Decimal:
        """The smallest open amount listed: the policy minimum, or nothing when the policy has a debtor minimum
        the debtor's overdue invoices in this currency reach together (then the small ones are dunned too)."""
        minimum: Decimal = settings.minimum_for(facts.currency)
        threshold = settings.debtor_minimum_for(facts.currency)
        if threshold is None:
            return minimum
        total = self.totals.get((facts.debtor_id, facts.currency), Decimal(0))
        return Decimal(0) if total >= threshold else minimum

    def raise_member(self, outcome: Outcome, step: Step) -> Outcome:
        """A member due a lower step goes out at the notice's step; its queued entry names the step sent."""
        assert outcome.notice is not None
        if outcome.notice.id == step.id:
            return outcome
        own = outcome.notice.id
        self._move(outcome, step)
        queued = max(i for i, r in enumerate(outcome.records) if r.status == "queued")
        record = outcome.records[queued]
        outcome.records[queued] = replace(record, step=step.id, to_state=outcome.state, rule=(
            f"{record.rule}; sent as {step.id}, the highest step of the debtor's grouped notice (own step: {own})"))
        outcome.notice = step
        return outcome

    def lift_others(self, members: list[Outcome], step: Step, email: str = "") -> list[Outcome]:
        """The debtor's other overdue invoices (same currency, policy and contact) below the notice's step,
        lifted."""
        first = members[0].facts
        policy = self.versions.compiled(first.policy_version_id).policy
        key = group_key(first, policy, step, email)
        lifted: list[Outcome] = []
        listed = {o.facts.case_id for o in members}
        candidates = self.overdue_in_batch.get(first.debtor_id, []) + self.others.get((first.debtor_id, policy.name), [])
        for outcome in candidates:
            if outcome.facts.case_id in listed or outcome.notice is not None or outcome.waiting or outcome.facts.pending:
                continue
            compiled = self.versions.compiled(outcome.facts.policy_version_id)
            own_email = self.emails.get(outcome.facts.invoice_id, "")
            if (group_key(outcome.facts, compiled.policy, step, own_email) != key
                    or outcome.state not in compiled.dunning_states
                    or outcome.facts.open_amount < self._minimum(compiled.policy.settings, outcome.facts)
                    or compiled.reached_index(outcome.state) >= compiled.policy.step_index(step.id)):
                continue
            before = outcome.state
            self._move(outcome, step)
            outcome.records.append(Record("lifted", step.id, (
                f"{step.id}: listed on the debtor's grouped notice of {self.as_of} at its highest step "
                f"(own step: {before if before != 'new' else 'none yet'})"), "queued", before, outcome.state))
            if outcome.facts.case_id not in self.batch:
                self.companions.append(outcome)
            lifted.append(outcome)
        return lifted

    def _move(self, outcome: Outcome, step: Step) -> None:
        """Fire the machine's advance to `step` and look again when the step after it falls due."""
        version_id = outcome.facts.policy_version_id
        compiled = self.versions.compiled(version_id)
        case = CaseState(outcome.state, outcome.resume_state)
        compiled.fire(advance_event(step.id), case)
        outcome.state, outcome.resume_state, outcome.repeats = case.state, case.resume_state, 0
        nxt = next_planned(compiled.policy, compiled.reached_index(case.state), outcome.facts.due_date, self.as_of,
                           self.as_of, self.versions.calendar(version_id), issue_date=outcome.facts.issue_date)
        outcome.next_action_at = not_before_tomorrow(nxt, self.as_of)
