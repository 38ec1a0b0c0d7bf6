"""A `dunflow` worker process that stops between reading its due set and its first batch.

Usage: python held_worker.py READY GO dunflow-arguments...

It runs the real command line, with one seam: once the runner has read which cases are due, the
worker creates the file READY and waits until the file GO exists. A test starts two of these and
creates GO only when both are READY, so both workers hold the same due set before either advances
a case: their batches really overlap, however the operating system schedules them.
"""
from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from dunflow.store.cases import CaseRepository
from dunflow.cli.main import main

TIMEOUT_SECONDS = 120


def hold_after_reading_the_due_set(ready: Path, go: Path) -> None:
    read_due_keys = CaseRepository.due_keys

    def held(cases: Any, as_of: date) -> list[tuple[int, int]]:
        keys = read_due_keys(cases, as_of)
        ready.touch()
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while not go.exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"{go} never appeared: the other worker did not get ready")
            time.sleep(0.01)
        return keys

    CaseRepository.due_keys = held  # type: ignore[method-assign]


if __name__ == "__main__":
    hold_after_reading_the_due_set(Path(sys.argv[1]), Path(sys.argv[2]))
    main(sys.argv[3:])
