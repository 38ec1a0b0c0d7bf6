"""Rows written through the driver's executemany are stored exactly as SQLAlchemy's own insert stores them."""
from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from dunflow.bootstrap import Workspace
from dunflow.scaffold import init_project
from dunflow.store.orm import Debtor, Run, table_of
from dunflow.store.rows import insert_rows, update_rows
from dunflow.store.uow import DuplicateWrite

DEBTORS, RUNS = table_of(Debtor), table_of(Run)


def workspace(tmp_path: Path, database_url: str) -> Workspace:
    project = tmp_path / "demo"
    init_project(project, sample_data=False)
    return Workspace.open(project, database_url)


def test_driver_rows_read_back_like_sqlalchemy_rows_defaults_included(tmp_path: Path, database_url: str) -> None:
    ws = workspace(tmp_path, database_url)
    at = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
    with ws.store.writing() as uow:
        insert_rows(uow.connection, DEBTORS, [dict(code="D1", name="Alpha", type="business", country="DE")])
        uow.connection.execute(insert(DEBTORS), [dict(code="D2", name="Alpha", type="business", country="DE")])
        insert_rows(uow.connection, RUNS, [dict(as_of=date(2026, 12, 1), started_at=at, finished_at=at, status="done",
                                                cases_advanced=3, messages=2)])
        uow.connection.execute(insert(RUNS), [dict(as_of=date(2026, 12, 1), started_at=at, finished_at=at,
                                                   status="done", cases_advanced=3, messages=2)])
    with ws.store.reading() as uow:
        debtors = [dict(row._mapping) for row in uow.connection.execute(select(DEBTORS).order_by(DEBTORS.c.id))]
        runs = [dict(row._mapping) for row in uow.connection.execute(select(RUNS).order_by(RUNS.c.id))]
    assert [{k: v for k, v in d.items() if k not in ("id", "code")} for d in debtors][0] == \
        [{k: v for k, v in d.items() if k not in ("id", "code")} for d in debtors][1]
    assert {k: v for k, v in runs[0].items() if k != "id"} == {k: v for k, v in runs[1].items() if k != "id"}
    with ws.store.writing() as uow:
        changed = update_rows(uow.connection, RUNS, ("messages",), ("id", "messages"), [(5, runs[0]["id"], 2),
                                                                                        (5, runs[1]["id"], 9)])
    assert changed == 1  # only the row whose where-values matched


def test_a_taken_unique_key_written_by_the_driver_is_a_duplicate_write_and_nothing_stays(tmp_path: Path,
                                                                                        database_url: str) -> None:
    ws = workspace(tmp_path, database_url)
    rows = [dict(code="D1", name="Alpha", type="business", country="DE")]
    with ws.store.writing() as uow:
        insert_rows(uow.connection, DEBTORS, rows)
    with pytest.raises(DuplicateWrite):
        with ws.store.writing() as uow:
            insert_rows(uow.connection, DEBTORS, [dict(code="D3", name="B", type="business", country="DE"), *rows])
    with ws.store.reading() as uow:
        assert list(uow.connection.execute(select(DEBTORS.c.code)).scalars()) == ["D1"]
