"""The system of record on a real PostgreSQL (the PROD backend): same writes, same once-only guarantees."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa
from fakes.system_of_record import CrashingClaimsSystem
from unit.test_system_of_record import batch, write_audit

from assets.claims.assignment import default_roster
from connectors.audit import AuditLog
from connectors.system_of_record import (
    POLICY_COLUMNS,
    ClaimsSystem,
    SimulatedFailure,
    SqlPolicySystem,
    WriteReport,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def system(postgres_db) -> ClaimsSystem:
    sor = ClaimsSystem(postgres_db)
    sor.ensure_schema()
    sor.seed_roster(default_roster())
    yield sor
    sor.dispose()


def test_the_test_server_is_a_real_postgresql(postgres_server, postgres_db):
    with sa.create_engine(postgres_db).connect() as con:
        version = con.execute(sa.text("select version()")).scalar_one()
    assert version.startswith("PostgreSQL ")
    assert postgres_server.proc.poll() is None and postgres_server.startup_seconds < 60


def test_a_batch_re_executed_after_a_crash_writes_every_effect_once_on_postgres(system):
    rows = batch(600)
    with pytest.raises(SimulatedFailure):
        CrashingClaimsSystem(system.url, crash_after=237).record_decisions(rows, step="triage", model_version="7")
    assert write_audit(system, rows)["effects"] == 200  # the chunk in flight rolled back whole
    assert system.record_decisions(rows, step="triage", model_version="7") == WriteReport(400, 200)
    assert write_audit(system, rows) == {"duplicates": 0, "lost": 0, "load_drift": 0, "effects": 600, "claims": 600}


@pytest.mark.slow
def test_two_processes_writing_the_same_batch_apply_each_effect_once_on_postgres(system, tmp_path):
    # Postgres runs the writers truly concurrently (SQLite serialises them): the unique key decides.
    rows = batch(400, seed=5)
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    start = time.time() + 2.0
    code = (
        "import json, time\n"
        "from connectors.system_of_record import ClaimsSystem\n"
        f"rows = json.load(open({str(tmp_path / 'rows.json')!r}))\n"
        f"while time.time() < {start}: time.sleep(0.005)\n"
        f"r = ClaimsSystem({system.url!r}).record_decisions(rows, step='triage', model_version='7', chunk_size=10)\n"
        "print(r.written, r.skipped_duplicates)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-800:] for _, err in results]
    reports = [tuple(map(int, out.split())) for out, _ in results]
    assert sum(w for w, _ in reports) == 400 and all(w + s == 400 for w, s in reports)
    assert write_audit(system, rows) == {"duplicates": 0, "lost": 0, "load_drift": 0, "effects": 400, "claims": 400}


def test_the_policy_register_round_trips_through_postgres(postgres_db):
    frame = pd.DataFrame([
        {"policy_number": f"POL-{i:07d}", "holder_name": f"Holder {i}", "holder_email": None, "holder_phone": None,
         "holder_address": None, "status": "active", "start_date": date(2024, 1, 1), "end_date": date(2026, 12, 31),
         "lapsed_on": date(2025, 6, 1) if i == 2 else None, "covered_loss_types": "auto_collision,theft",
         "area": "C", "bonus_malus": 50 + i, "driver_age": 30 + i, "vehicle_age": i, "vehicle_brand": "B12",
         "vehicle_power": 6, "past_claims": 0, "exposure": 0.5}
        for i in range(5)
    ])  # fmt: skip
    register = SqlPolicySystem(postgres_db)
    assert register.load_policies(frame) == 5
    assert register.load_policies(frame) == 5  # a re-seed replaces, never doubles
    back = register.fetch_policies().sort_values("policy_number").reset_index(drop=True)
    assert register.policy_count() == 5 and list(back.columns) == POLICY_COLUMNS
    assert back.loc[2, "lapsed_on"] == date(2025, 6, 1) and back.loc[3, "start_date"] == date(2024, 1, 1)


def test_the_audit_chain_verifies_on_postgres_and_catches_an_edit(postgres_db):
    log = AuditLog(postgres_db)
    for i in range(5):
        log.append(actor="triage", action="route", subject=f"CLM-2026-{i:06d}", payload={"queue": "standard"})
    assert log.verify().intact
    with sa.create_engine(postgres_db).begin() as con:
        table = next(t for t in sa.inspect(con).get_table_names() if "audit" in t)
        con.execute(sa.text(f"update {table} set actor = 'someone' where seq = 3"))
    report = log.verify()
    assert not report.intact and report.first_bad_seq == 3
