"""The task queue: work for people, at most one task per message key."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from dunflow.store.orm import Action, Case, Debtor, Invoice, Task, table_of

TASKS, DEBTORS, INVOICES = table_of(Task), table_of(Debtor), table_of(Invoice)
ACTIONS, CASES = table_of(Action), table_of(Case)


class TaskRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def add_once(self, values: dict[str, Any]) -> tuple[int, bool]:
        """(task id, created): a task with the same `message_key` is found instead of a second one, also when
        another sender inserts it at the same moment (the insert runs in a savepoint and its loss is looked up)."""
        key = values.get("message_key")
        if key is not None:
            found = self.id_of_key(key)
            if found is not None:
                return found, False
        try:
            with self.connection.begin_nested():
                task_id = self.connection.execute(insert(TASKS).values(**values).returning(TASKS.c.id)).scalar_one()
        except IntegrityError:
            if key is None:
                raise
            found = self.id_of_key(key)
            if found is None:
                raise
            return found, False
        return int(task_id), True

    def id_of_key(self, key: str) -> int | None:
        found: int | None = self.connection.execute(select(TASKS.c.id).where(TASKS.c.message_key == key)).scalar()
        return found

    def get(self, task_id: int) -> Any:
        return self.connection.execute(self._listing().where(TASKS.c.id == task_id)).first()

    def listing(self, status: str | None) -> list[Any]:
        """Tasks with their debtor's code, name and phone and their invoice's number, oldest due first."""
        query = self._listing().order_by(TASKS.c.due_on, TASKS.c.id)
        if status:
            query = query.where(TASKS.c.status == status)
        return list(self.connection.execute(query))

    def _listing(self) -> Any:
        return (select(TASKS, DEBTORS.c.code.label("debtor_code"), DEBTORS.c.name.label("debtor_name"),
                       DEBTORS.c.phone.label("debtor_phone"), INVOICES.c.number.label("invoice_number"))
                .join(DEBTORS, DEBTORS.c.id == TASKS.c.debtor_id)
                .outerjoin(INVOICES, INVOICES.c.id == TASKS.c.invoice_id))

    def close(self, task_id: int, outcome: str, note: str, at: datetime) -> bool:
        """Mark an open task done; False if it was not open (closed by someone else meanwhile)."""
        done = self.connection.execute(update(TASKS).where(TASKS.c.id == task_id, TASKS.c.status == "open")
                                       .values(status="done", outcome=outcome, note=note, closed_at=at))
        return bool(done.rowcount == 1)

    def invoice_id(self, number: str) -> int | None:
        found: int | None = self.connection.execute(select(INVOICES.c.id).where(INVOICES.c.number == number)).scalar()
        return found

    def policy_versions_of(self, key: str | None, invoice_id: int | None) -> list[int]:
        """The policy versions of the cases message `key` was queued for (else the invoice's case)."""
        query = select(CASES.c.policy_version_id).distinct()
        if key:
            query = query.join(ACTIONS, ACTIONS.c.case_id == CASES.c.id).where(ACTIONS.c.message_key == key)
        elif invoice_id is not None:
            query = query.where(CASES.c.invoice_id == invoice_id)
        else:
            return []
        return sorted(self.connection.execute(query).scalars())
