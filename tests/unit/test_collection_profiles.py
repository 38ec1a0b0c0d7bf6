"""Agency export profiles and the flat CSV row of a case file."""
from __future__ import annotations

from pathlib import Path

import pytest

from dunflow.errors import DunflowError
from dunflow.ledger.collection import CSV_FIELDS, csv_row, profile_for

CASE_FILE = {
    "debtor": {"code": "D1", "name": "Alpha GmbH", "type": "business", "country": "DE", "email": "a@x.example",
               "phone": "", "address": "Weg 1", "postal_code": "10115", "city": "Berlin"},
    "invoices": [],
}
INVOICE = {
    "invoice": "L-1", "issue_date": "2026-01-01", "due_date": "2026-01-10", "currency": "EUR", "principal": "1000.00",
    "paid": "51.59", "open_principal": "948.41", "charges_open": "12.50", "total_due": "960.91",
    "agency": "Inkasso Nord GmbH", "handed_on": "2026-02-23",
    "charges": [{"kind": "fee", "open": "2.50"}, {"kind": "fee", "open": "5.00"}, {"kind": "interest", "open": "5.00"}],
    "new_payments": [{"amount": "60.00"}, {"amount": "40.00"}],
}


def test_the_default_profile_writes_json_and_csv_under_collection(tmp_path: Path) -> None:
    profile = profile_for("Inkasso Nord GmbH", {}, tmp_path)
    assert (profile.folder, profile.format, profile.fields) == (tmp_path / "collection" / "inkasso-nord-gmbh", "both",
                                                                ())


def test_a_profile_names_its_folder_format_and_fields(tmp_path: Path) -> None:
    agencies = {"Nord": {"folder": "out/nord", "format": "csv", "fields": {"invoice": "Rechnung", "total_due": "Summe"}}}
    profile = profile_for("Nord", agencies, tmp_path)
    assert (profile.folder, profile.format, profile.fields) == (tmp_path / "out" / "nord", "csv",
                                                                (("invoice", "Rechnung"), ("total_due", "Summe")))


@pytest.mark.parametrize(("config", "message"), [
    ({"folder": "../elsewhere"}, "outside the project"),
    ({"fields": {"amount_due": "X"}}, "unknown field(s) amount_due"),
])
def test_a_bad_profile_is_refused(tmp_path: Path, config: dict[str, object], message: str) -> None:
    with pytest.raises(DunflowError, match=message.replace("(", r"\(").replace(")", r"\)")):
        profile_for("Nord", {"Nord": config}, tmp_path)


def test_a_csv_row_sums_each_charge_kind_and_the_new_payments() -> None:
    row = csv_row(CASE_FILE, INVOICE)
    assert set(row) == set(CSV_FIELDS)
    assert (row["fee"], row["interest"], row["compensation"], row["collection_costs"]) == ("7.50", "5.00", "0.00",
                                                                                            "0.00")
    assert (row["debtor_code"], row["debtor_city"], row["new_payments"], row["total_due"]) == ("D1", "Berlin",
                                                                                               "100.00", "960.91")
