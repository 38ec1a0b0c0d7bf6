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
- invoices already at that step or above, paused or waiting are not listed.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import Connection

from dunflow.domain.policy import NOT_DUNNED, Policy, Step
from dunflow.domain.schedule import next_planned, not_before_tomorrow
from dunflow.engine.advance import CaseFacts, Outcome, Record
from dunflow.engine.cases import locked_cases
from dunflow.engine.receipts import pending_cases
from dunflow.policy.compile import CaseState, advance_event
from dunflow.policy.versions import CompiledVersions
from dunflow.store.orm import Case, Invoice, PolicyVersion, table_of

CASES, INVOICES, VERSIONS = table_of(Case), table_of(Invoice), table_of(PolicyVersion)


def group_key(facts: CaseFacts, policy: Policy, step: Step) -> tuple[Any, ...]:
    """Debtor, currency, policy name and its steps, and whether the notice is a courtesy note."""
    return (facts.debtor_id, facts.currency, policy.name, tuple(s.id for s in policy.all_steps), step.is_courtesy)


class Lifter:
    """Moves the invoices a grouped notice lists to its step: the batch's own outcomes in place, the debtor's
    other cases as `companions` (outcomes of their own, saved by the runner with the batch)."""

    def __init__(self, connection: Connection, versions: CompiledVersions, as_of: date, outcomes: list[Outcome],
                 debtor_ids: set[int]) -> None:
        self.versions, self.as_of = versions, as_of
        self.batch = {o.facts.case_id: o for o in outcomes}
        self.companions: list[Outcome] = []
        self.others = self._overdue_cases(connection, debtor_ids)

    def _overdue_cases(self, connection: Connection, debtor_ids: set[int]) -> list[tuple[str, Outcome]]:
        """(policy name, outcome) of the debtors' overdue cases outside the batch that could be lifted."""
        query = (locked_cases().add_columns(VERSIONS.c.name.label("policy_name"))
                 .join(VERSIONS, VERSIONS.c.id == CASES.c.policy_version_id)
                 .where(CASES.c.debtor_id.in_(debtor_ids), INVOICES.c.due_date < self.as_of,
                        CASES.c.state.not_in(NOT_DUNNED),
                        CASES.c.id.not_in(list(self.batch)))
                 .order_by(CASES.c.id))
        rows = [(row.policy_name, CaseFacts(**{k: v for k, v in row._mapping.items() if k != "policy_name"}))
                for row in connection.execute(query)]
        waiting = pending_cases(connection, [facts.case_id for _, facts in rows])
        return [(name, Outcome(facts, facts.state, facts.resume_state, facts.last_step_on, facts.next_action_at))
                for name, facts in rows if facts.case_id not in waiting]

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

    def lift_others(self, members: list[Outcome], step: Step) -> list[Outcome]:
        """The debtor's other overdue invoices (same currency and policy) below the notice's step, lifted."""
        first = members[0].facts
        policy = self.versions.get(first.policy_version_id).policy
        key = group_key(first, policy, step)
        lifted: list[Outcome] = []
        listed = {o.facts.case_id for o in members}
        candidates = [o for o in self.batch.values() if o.facts.due_date < self.as_of] + \
            [o for name, o in self.others if name == policy.name]
        for outcome in candidates:
            if outcome.facts.case_id in listed or outcome.notice is not None or outcome.waiting or outcome.facts.pending:
                continue
            compiled = self.versions.get(outcome.facts.policy_version_id)
            if (group_key(outcome.facts, compiled.policy, step) != key or outcome.state not in compiled.dunning_states
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
        compiled = self.versions.get(version_id)
        case = CaseState(outcome.state, outcome.resume_state)
        compiled.fire(advance_event(step.id), case)
        outcome.state, outcome.resume_state = case.state, case.resume_state
        nxt = next_planned(compiled.policy, compiled.reached_index(case.state), outcome.facts.due_date, self.as_of,
                           self.as_of, self.versions.calendar(version_id))
        outcome.next_action_at = not_before_tomorrow(nxt, self.as_of)
