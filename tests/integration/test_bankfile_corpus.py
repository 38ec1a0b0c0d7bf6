"""Every bad bank file of tests/corpus/bankfiles is answered with a located error and an unchanged database.

Each file is listed here with the words its error must contain, so a new corpus file without an
expectation fails, and a reader that starts accepting a broken file fails too.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_payments import Dunflow, dunflow  # noqa: F401 - fixture

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "bankfiles"
EXPECTED = {
    "amount-too-large.xml": (":3:7:", "is too large"),
    "currency-xxx.xml": (":3:7:", "currency 'XXX' is no currency"),
    "cut-off.xml": (":4:", "malformed XML"),
    "duplicate-id.csv": (":3:1:", "id 'BK-1' is used twice"),
    "entity-bomb.xml": (":2:", "DOCTYPE declarations are not allowed"),
    "entry-without-amount.xml": (":3:1:", "entry has no amount"),
    "export.ofx": (":1:", "format OFX is not supported"),
    "export.qif": (":1:", "format QIF is not supported"),
    "intraday-camt052.xml": (":2:", "intraday account report"),
    "mt940-balance-mismatch.sta": (":7:", "the balances differ by 90.00"),
    "mt940-broken-entry.sta": (":5:", "unreadable MT940"),
    "rabobank-without-profile.csv": (":1:", "missing required column 'id'"),
    "summary-mismatch.xml": (":3:", "the statement says 2 credit entries"),
    "zip-with-broken-statement.zip": ("[2026-10-05.xml]:4:", "malformed XML"),
}


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(path.name for path in CORPUS.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_bank_file_gets_a_located_error_and_changes_nothing(dunflow: Dunflow, name: str) -> None:
    before = dunflow.counts()
    out = dunflow("import", "payments", str(CORPUS / name), code=1)
    where, words = EXPECTED[name]
    assert f"{name}{where}" in out and "error:" in out, out
    assert words in out, out
    assert "nothing was changed" in out and "Traceback" not in out
    assert dunflow.counts() == before
