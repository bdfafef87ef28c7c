import json
from datetime import date, datetime
from decimal import Decimal

from assets.claims.intake import _claim_row, merge_follow_up
from models.contracts import ClaimFields

EMAIL = {"sender": "a@example.fr", "content_hash": "h1", "received_at": datetime(2026, 3, 1, 10)}


def first_claim():
    fields = ClaimFields(
        claim_number="CLM-2026-000001",
        policy_number="POL-1234567",
        incident_date=date(2026, 2, 27),
        photos=["p1"],
        confidence={"claim_number": 0.99, "policy_number": 0.99, "incident_date": 0.97, "photos": 1.0},
        provenance={"claim_number": "rules", "policy_number": "rules", "incident_date": "rules", "photos": "rules"},
    )
    return _claim_row(fields, EMAIL, "run-1")


def test_a_follow_up_fills_missing_fields_and_adds_photos_but_keeps_first_values():
    later = ClaimFields(
        claim_number="CLM-2026-000001",
        policy_number="POL-7654321",
        estimated_amount=Decimal("800.00"),
        currency="EUR",
        photos=["p1", "p2"],
        confidence={"policy_number": 0.9, "estimated_amount": 0.95, "currency": 0.95, "photos": 1.0},
        provenance={"policy_number": "rules", "estimated_amount": "rules", "currency": "rules", "photos": "rules"},
    )
    email = {**EMAIL, "content_hash": "h2", "received_at": datetime(2026, 3, 3, 9)}
    merged = merge_follow_up(first_claim(), later, email, "run-2")
    assert merged["policy_number"] == "POL-1234567"
    assert merged["estimated_amount"] == Decimal("800.00") and merged["currency"] == "EUR"
    assert json.loads(merged["photos"]) == ["p1", "p2"] and merged["photo_count"] == 2
    assert (merged["message_count"], merged["follow_up_count"]) == (2, 1)
    assert str(merged["last_received_at"]) == "2026-03-03 09:00:00"
    assert json.loads(merged["confidence"])["estimated_amount"] == 0.95
    assert merged["updated_run_id"] == "run-2"


def test_large_amounts_after_small_ones_land_in_the_warehouse_exactly(tmp_path):
    # Regression: DuckDB guessed DECIMAL(7,2) from the first rows and refused a 109,257.05 claim.
    import pandas as pd

    from connectors.schema import PARSED_CLAIMS
    from connectors.warehouse import Warehouse

    wh = Warehouse(tmp_path / "w.duckdb")
    wh.ensure_schema()
    rows = [first_claim() | {"claim_number": f"CLM-2026-{i:06d}", "estimated_amount": str(Decimal(a))}
            for i, a in enumerate(["12.50", "999.99", "109257.05"], start=1)]
    with wh.connect() as con:
        wh.upsert(con, PARSED_CLAIMS, pd.DataFrame(rows), ["claim_number"])
    got = wh.read(f"select estimated_amount::varchar as a from {PARSED_CLAIMS} order by claim_number")["a"]
    assert list(got) == ["12.50", "999.99", "109257.05"]
