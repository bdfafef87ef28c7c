"""dbt builds claim_features from crafted raw tables, through Dagster, with its tests."""

import datetime as dt
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from assets.dbt.project import dbt_resource, ensure_manifest
from assets.project import warehouse_path
from assets.resources import WarehouseResource
from connectors.schema import CLAIMS_HISTORY, PHOTO_QUALITY, REVIEW_LABELS

pytestmark = pytest.mark.integration

POLICIES_DDL = """
create table raw.policies (
    policy_number varchar primary key, holder_name varchar, holder_email varchar,
    holder_phone varchar, holder_address varchar, status varchar, start_date date,
    end_date date, lapsed_on date, covered_loss_types varchar, area varchar,
    bonus_malus integer, driver_age integer, vehicle_age integer, vehicle_brand varchar,
    vehicle_power integer, past_claims integer, exposure double
)"""

CLAIMS_DDL = """
create table raw.parsed_claims (
    claim_number varchar primary key, policy_number varchar, incident_date date,
    loss_type varchar, estimated_amount decimal(14, 2), currency varchar, description varchar,
    contact_email varchar, contact_phone varchar, photos varchar, photo_count integer,
    confidence varchar, provenance varchar, min_confidence double, sender varchar,
    source_content_hash varchar, received_at timestamp, last_received_at timestamp,
    message_count integer, follow_up_count integer, extractor_version varchar
)"""

# fmt: off
# policy_number, status, start, end, lapsed_on, covered, area, bonus_malus, driver_age,
# vehicle_age, vehicle_brand, vehicle_power, past_claims, exposure
POLICIES = [
    ("POL-0000001", "active", "2023-01-01", "2024-12-31", None,
     "auto_collision,auto_glass,liability", "C", 85, 41, 3, "B12", 6, 2, 1.0),
    # Blanks and capitals in the covered list, as the system of record sometimes has them.
    ("POL-0000002", "lapsed", "2022-01-01", "2024-12-31", "2024-02-01",
     "Theft, fire", "A", 100, 23, 9, "B1", 4, 0, 0.5),
    ("POL-0000003", "active", "2024-06-01", "2025-05-31", None,
     "water_damage", "E", 50, 67, 12, "B3", 7, 1, 0.75),
]

# claim_number, policy_number as extracted, incident_date, loss_type, received_at
CLAIMS = [
    ("CLM-2024-000001", "POL-0000001", "2024-03-01", "auto_glass", "2024-03-03 09:00"),
    ("CLM-2024-000002", " pol-0000001", "2024-05-10", "theft", "2024-05-10 18:30"),
    ("CLM-2024-000003", "POL-0000001", "2024-03-01", "auto_collision", "2024-03-20 08:00"),
    ("CLM-2025-000004", "POL-0000001", "2025-01-15", "auto_collision", "2025-01-16 10:00"),
    ("CLM-2024-000005", "POL-0000001", None, None, "2024-07-01 12:00"),
    ("CLM-2024-000006", "POL-0000002", "2024-02-01", "fire", "2024-02-05 07:45"),
    ("CLM-2024-000007", "POL-0000002", "2024-01-31", "theft", "2024-02-01 11:00"),
    ("CLM-2024-000008", "POL-0000003", "2024-05-31", "water_damage", "2024-06-02 09:00"),
    ("CLM-2025-000009", "POL-0000003", "2025-05-31", "water_damage", "2025-05-31 23:59"),
    ("CLM-2024-000010", "POL-9999999", "2024-04-04", "storm", "2024-04-05 10:00"),
    ("CLM-2024-000011", None, None, "other", "2024-08-08 08:08"),
]

# Closed claims from the claims system: (claim_number, policy_number, incident_date)
HISTORY = [
    ("CLM-2024-700001", "POL-0000003", "2024-01-10"),
    ("CLM-2020-700002", "POL-0000003", "2020-01-01"),
    # Long before any live claim's lookback: they shape the time split only, with ties on a day.
    *[(f"CLM-2015-8{i:05d}", "POL-0000001", day)
      for i, day in enumerate(["2015-01-05"] * 3 + ["2015-03-01"] * 4 + ["2015-06-01"] * 3 + ["2015-09-01"] * 2)],
]

# policy_found, policy_status_at_incident, loss_covered, tenure_days, prior_claims,
# report_delay_days
EXPECTED = {
    # Ties on the incident date are not "earlier": 000001 and 000003 do not count each other.
    "CLM-2024-000001": (True, "active", True, 425, 2, 2),
    "CLM-2024-000002": (True, "active", False, 495, 4, 0),
    "CLM-2024-000003": (True, "active", True, 425, 2, 19),
    "CLM-2025-000004": (True, "expired", True, 745, 5, 1),
    "CLM-2024-000005": (True, "unknown_date", False, None, 2, None),
    "CLM-2024-000006": (True, "lapsed", True, 761, 1, 4),
    "CLM-2024-000007": (True, "active", True, 760, 0, 1),
    # History claims count too, within the 1095-day lookback (the 2020 one is too old).
    "CLM-2024-000008": (True, "not_started", True, -1, 2, 2),
    "CLM-2025-000009": (True, "active", True, 364, 3, 0),
    "CLM-2024-000010": (False, "unknown_policy", False, None, None, 1),
    "CLM-2024-000011": (False, "unknown_policy", False, None, None, None),
}
# fmt: on


def _write_raw_tables(path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw")
        con.execute(POLICIES_DDL)
        con.execute(CLAIMS_DDL)
        con.executemany(
            "insert into raw.policies values "
            "(?, 'Holder', 'holder@example.fr', '+33100000000', '1 rue X', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            POLICIES,
        )
        for table in (CLAIMS_HISTORY, REVIEW_LABELS, PHOTO_QUALITY):
            con.execute(table.ddl())
        con.executemany(
            "insert into raw.claims_history (claim_number, policy_number, incident_date, reported_date, "
            "loss_type, estimated_amount_eur, high_risk, label_source) values (?, ?, ?, ?, 'storm', 900, false, 'history')",
            [(*h, h[-1]) for h in HISTORY],
        )
        con.executemany(
            """insert into raw.parsed_claims values (
                ?, ?, ?, ?, 1200.50, 'eur', 'Pare-brise fissure', 'client@example.fr', null,
                '["aa11", "bb22"]', 2, '{"policy_number": 0.95, "loss_type": 0.8}',
                '{"policy_number": "rules-v1"}', 0.8, 'client@example.fr', 'sha256:x',
                ?, ?, 1, 0, 'rules-v1')""",
            [(*claim, claim[-1]) for claim in CLAIMS],
        )


@pytest.fixture(scope="module")
def manifest():
    return ensure_manifest()


@pytest.fixture(scope="module")
def built_warehouse(manifest, tmp_path_factory):
    """Raw tables in a fresh CLAIMFLOW_HOME, then the dbt assets materialized on them."""
    from assets.dbt.assets import claimflow_dbt_assets  # needs the manifest

    home = tmp_path_factory.mktemp("claimflow_home")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("CLAIMFLOW_HOME", str(home))
        _write_raw_tables(warehouse_path())
        result = dg.materialize(
            [claimflow_dbt_assets],
            resources={"dbt": dbt_resource(), "warehouse": WarehouseResource(path=str(warehouse_path()))},
            selection=dg.AssetSelection.assets(claimflow_dbt_assets),
            raise_on_error=False,
        )
        with duckdb.connect(str(warehouse_path()), read_only=True) as con:
            features = _rows_by_claim(con, "main.claim_features")
            staged = _rows_by_claim(con, "main.stg_claims")
        path = warehouse_path()
    return result, features, staged, path


def _rows_by_claim(con, table: str) -> dict[str, dict]:
    cursor = con.execute(f"select * from {table}")
    columns = [column[0] for column in cursor.description]
    return {row[0]: dict(zip(columns, row)) for row in cursor.fetchall()}


def test_the_dbt_run_succeeds_and_materializes_every_model(built_warehouse):
    result, *_ = built_warehouse

    assert result.success
    materialized = {
        e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
    }
    assert materialized == {"stg_claims", "stg_policies", "fx_rates", "claim_features", "training_set"}


def test_dbt_tests_ran_as_asset_checks_and_passed(built_warehouse):
    result, *_ = built_warehouse
    evaluations = result.get_asset_check_evaluations()
    by_asset = {}
    for evaluation in evaluations:
        by_asset.setdefault(evaluation.asset_key.to_user_string(), []).append(
            evaluation
        )

    assert set(by_asset) == {"stg_claims", "stg_policies", "fx_rates", "claim_features", "training_set"}
    assert [e.check_name for e in evaluations if not e.passed] == []
    names = {e.check_name for e in by_asset["claim_features"]}
    assert "unique_claim_features_claim_number" in names
    assert any(
        name.startswith("accepted_values_claim_features_policy_status")
        for name in names
    )


def test_source_tests_ran_against_the_raw_tables(built_warehouse):
    result, *_ = built_warehouse
    observed = {
        event.asset_key.to_user_string()
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_OBSERVATION
    }

    assert {"parsed_claims", "policies"} <= observed


def test_every_claim_has_one_feature_row(built_warehouse):
    _, features, *_ = built_warehouse

    assert sorted(features) == sorted(EXPECTED)


@pytest.mark.parametrize("claim_number", sorted(EXPECTED))
def test_claim_features_row_matches_the_policy_rules(built_warehouse, claim_number):
    _, features, *_ = built_warehouse
    row = features[claim_number]
    columns = (
        "policy_found",
        "policy_status_at_incident",
        "loss_covered",
        "tenure_days",
        "prior_claims",
        "report_delay_days",
    )

    assert tuple(row[column] for column in columns) == EXPECTED[claim_number]


def test_claim_features_carry_the_policy_rating_attributes(built_warehouse):
    _, features, *_ = built_warehouse
    row = features["CLM-2024-000008"]

    assert {
        key: row[key] for key in ("area", "bonus_malus", "driver_age", "vehicle_age")
    } == {
        "area": "E",
        "bonus_malus": 50,
        "driver_age": 67,
        "vehicle_age": 12,
    }
    assert (row["vehicle_brand"], row["vehicle_power"], row["exposure"]) == (
        "B3",
        7,
        0.75,
    )
    assert (row["loss_type"], row["estimated_amount"], row["currency"]) == (
        "water_damage",
        Decimal("1200.50"),
        "EUR",
    )
    assert (row["photo_count"], row["min_confidence"], row["incident_date"]) == (
        2,
        0.8,
        dt.date(2024, 5, 31),
    )


def test_staging_normalises_keys_and_unpacks_confidence(built_warehouse):
    _, _, staged, _ = built_warehouse
    row = staged["CLM-2024-000002"]

    assert (row["policy_number"], row["claim_year"], row["currency"]) == (
        "POL-0000001",
        2024,
        "EUR",
    )
    assert (row["policy_number_confidence"], row["loss_type_confidence"]) == (0.95, 0.8)
    assert row["incident_date_confidence"] is None


def test_the_training_split_is_the_one_python_applies_and_never_cuts_a_day(built_warehouse):
    # One time split: dbt makes it, models/risk.py::split_by_time applies the same rule to frames
    # outside the warehouse. Regression: dbt's percent_rank cut through a day, Python never did.
    import pandas as pd

    from models import risk

    with duckdb.connect(str(built_warehouse[3]), read_only=True) as con:
        frame = con.execute("select * from main.training_set").df()
    train, holdout = risk.split_by_time(frame.drop(columns="split"))
    assert set(frame.loc[frame["split"] == "holdout", "claim_number"]) == set(holdout["claim_number"])
    assert set(frame.loc[frame["split"] == "train", "claim_number"]) == set(train["claim_number"])
    days = frame.groupby(pd.to_datetime(frame["incident_date"]))["split"].nunique()
    assert (days == 1).all() and frame["split"].nunique() == 2

