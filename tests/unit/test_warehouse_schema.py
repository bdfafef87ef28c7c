"""The warehouse owns the raw schema: every table declared once, created once, written through keyed helpers."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from connectors import schema
from connectors.schema import PARSED_CLAIMS, RISK_SCORES, TABLES, TRIAGE_DECISIONS, Table, table
from connectors.warehouse import Warehouse, records

ROOT = Path(__file__).resolve().parents[2]


def columns_in_db(wh: Warehouse, t: Table) -> list[tuple[str, str]]:
    rows = wh.read(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [t.schema, t.name],
    )
    return list(zip(rows["column_name"], rows["data_type"]))


def test_ensure_schema_creates_every_declared_table_with_its_columns_and_key(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.ensure_schema()
    for t in TABLES.values():
        got = columns_in_db(wh, t)
        assert [c for c, _ in got] == t.column_names, t.name
        # DuckDB spells the declared types its own way; the family must match.
        for (_, declared), (_, actual) in zip(t.columns, got):
            assert declared.split("(")[0].upper()[:4] == actual.upper()[:4] or (declared, actual) in {
                ("integer", "INTEGER"), ("double", "DOUBLE"), ("bigint", "BIGINT"),
            }, (t.name, declared, actual)
    keys = wh.read("select table_name, constraint_type from information_schema.table_constraints "
                   "where constraint_type = 'PRIMARY KEY'")
    assert set(keys["table_name"]) == {t.name for t in TABLES.values() if t.key}


def test_the_schema_is_created_once_per_process_and_again_for_a_new_file(tmp_path):
    path = tmp_path / "w.duckdb"
    wh = Warehouse(path)
    wh.ensure_schema()
    with wh.connect() as con:
        con.execute(f"drop table {TRIAGE_DECISIONS}")
    wh.ensure_schema()  # already done for this file in this process: no DDL runs
    assert wh.read(f"select count(*) as n from information_schema.tables where table_name = '{TRIAGE_DECISIONS.name}'"
                   )["n"].iloc[0] == 0
    path.unlink()
    Warehouse(path).ensure_schema()  # a new file (fresh $CLAIMFLOW_HOME) gets every table again
    assert columns_in_db(Warehouse(path), TRIAGE_DECISIONS)


def test_a_table_is_declared_once_and_its_key_is_among_its_columns():
    with pytest.raises(ValueError, match="declared twice"):
        table("parsed_claims", "x varchar", owner=schema.CLAIMS)
    with pytest.raises(ValueError, match="not among its columns"):
        table("a_table_with_a_stray_key", "x varchar", key="y", owner=schema.CLAIMS)
    assert "a_table_with_a_stray_key" not in TABLES
    assert str(PARSED_CLAIMS) == "raw.parsed_claims"
    assert PARSED_CLAIMS.column_names[0] == "claim_number"
    assert dict(PARSED_CLAIMS.columns)["estimated_amount"] == "decimal(14,2)"


def test_a_failed_transaction_leaves_nothing_behind(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.ensure_schema()
    frame = pd.DataFrame([{"claim_number": "CLM-1", "model_version": "1", "score": 0.2}])
    with pytest.raises(RuntimeError), wh.transaction() as con:
        wh.upsert(con, RISK_SCORES, frame)
        raise RuntimeError("the step failed half-way")
    assert wh.read(f"select count(*) as n from {RISK_SCORES}")["n"].iloc[0] == 0


def test_upsert_and_insert_new_match_on_the_declared_key(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.ensure_schema()
    first = pd.DataFrame([{"claim_number": "CLM-1", "model_version": "1", "score": 0.2},
                          {"claim_number": "CLM-1", "model_version": "2", "score": 0.3}])
    with wh.transaction() as con:
        assert wh.insert_new(con, RISK_SCORES, first) == 2
        assert wh.insert_new(con, RISK_SCORES, first.assign(score=0.9)) == 0  # first writer wins
        wh.upsert(con, RISK_SCORES, first.head(1).assign(score=0.5))  # replaces that key only
    got = wh.read(f"select model_version, score from {RISK_SCORES} order by model_version")
    assert records(got) == [{"model_version": "1", "score": 0.5}, {"model_version": "2", "score": 0.3}]


def test_pending_is_the_work_no_done_table_has_seen(tmp_path):
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.ensure_schema()
    claims = pd.DataFrame({"claim_number": ["A", "B", "C"], "model_version": ["1", "1", "1"]})
    with wh.transaction() as con:
        wh.append(con, TRIAGE_DECISIONS, claims)
        wh.append(con, RISK_SCORES, pd.DataFrame({"claim_number": ["A", "B"], "model_version": ["1", "2"]}))
    # Not yet scored by version 2: A (scored by 1 only) and C.
    todo = wh.pending(TRIAGE_DECISIONS, done=RISK_SCORES, on=["claim_number"], where="d.model_version = ?",
                      params=["2"], order_by="s.claim_number")
    assert list(todo["claim_number"]) == ["A", "C"]
    todo = wh.pending(TRIAGE_DECISIONS, done=[RISK_SCORES], on=["claim_number"], order_by="s.claim_number")
    assert list(todo["claim_number"]) == ["C"]


def test_no_asset_module_creates_a_table():
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "assets").rglob("*.py")
        if re.search(r"create\s+(or\s+replace\s+)?table", p.read_text(), re.IGNORECASE)
    ]
    assert offenders == []
