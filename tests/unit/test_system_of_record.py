"""The claims system of record: each effect written exactly once, whatever fails or repeats."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter

import pytest
import sqlalchemy as sa
from fakes.system_of_record import CrashingClaimsSystem, UnkeyedClaimsSystem

from assets.claims.assignment import assign, default_roster
from assets.claims.review import ReviewQueue
from assets.claims.routing import route
from assets.claims.verification import PolicyVerdict
from connectors.system_of_record import (
    ClaimsSystem,
    SimulatedFailure,
    WriteReport,
    assignments_table,
    claims_table,
    effect_key,
    effects_table,
    outbox_table,
    review_items_table,
    specialists_table,
)

N = 1200
STEP, VERSION = "triage", "7"


def batch(n: int = N, seed: int = 11, prefix: str = "CLM-2026-") -> list[dict]:
    """Decision rows as the triage asset writes them: routed, assigned, with a drafted message."""
    rng = random.Random(seed)
    claims, verdicts = [], []
    for i in range(n):
        claims.append({
            "claim_number": f"{prefix}{i:06d}",
            "min_confidence": rng.choice([0.95, 0.9, 0.88, 0.6]),
            "suspicious_content": rng.random() < 0.01,
            "risk_score": None if rng.random() < 0.02 else round(rng.random() ** 2, 3),
            "photo_reused": rng.random() < 0.02,
            "poor_photos": rng.choice([0, 0, 0, 1]),
            "loss_type": rng.choice(["auto_collision", "auto_glass", "storm", "fire", "theft", "water_damage"]),
            "estimated_amount_eur": rng.choice([250, 900, 1400, 4000, 12000, 30000]),
        })
        ok = rng.random() > 0.05
        verdicts.append(PolicyVerdict(ok, "verified" if ok else "lapsed", "x"))
    decisions = [route(c, v) for c, v in zip(claims, verdicts)]
    assignments = assign(decisions, default_roster())
    return [
        {
            "claim_number": d.claim_number, "queue": d.queue, "rule": d.rule, "reason": d.reason, "inputs": d.inputs,
            "risk_score": c["risk_score"], "policy_verdict": v.code, "assigned_to": a.specialist_id, "skill": a.skill,
            "proposed_queue": d.proposed_queue,
            "outbox": {"subject": f"Votre sinistre {d.claim_number}", "body": "Nous avons bien reçu votre déclaration.",
                       "payload": {"claim_number": d.claim_number, "queue": d.queue}},
        }
        for c, v, d, a in zip(claims, verdicts, decisions, assignments)
    ]


@pytest.fixture
def system(tmp_path) -> ClaimsSystem:
    sor = ClaimsSystem(f"sqlite:///{tmp_path / 'sor.db'}")
    sor.ensure_schema()
    sor.seed_roster(default_roster())
    yield sor
    sor.dispose()


def write_audit(system: ClaimsSystem, rows: list[dict]) -> dict:
    """Compare what the database holds with what the batch asked for, effect by effect."""
    with system.engine.connect() as con:
        def count_by(table, column):
            return Counter(dict(con.execute(sa.select(column, sa.func.count()).group_by(column)).all()))

        outbox = count_by(outbox_table, outbox_table.c.claim_number)
        assigned = count_by(assignments_table, assignments_table.c.claim_number)
        claims = count_by(claims_table, claims_table.c.claim_number)
        effects = count_by(effects_table, effects_table.c.claim_number)
        review = Counter(dict(con.execute(
            sa.select(review_items_table.c.claim_number, sa.func.count()).group_by(review_items_table.c.claim_number)
        ).all()))
        loads = dict(con.execute(sa.select(specialists_table.c.specialist_id, specialists_table.c.current_load)).all())
    wanted_assigned = Counter(r["claim_number"] for r in rows if r["assigned_to"])
    wanted_review = {r["claim_number"] for r in rows if r["queue"] in ("human_review", "fraud_review")}
    wanted_load = Counter(r["assigned_to"] for r in rows if r["assigned_to"])
    return {
        "duplicates": sum(n - 1 for c in (outbox, assigned, claims, review) for n in c.values() if n > 1),
        "lost": sum(1 for r in rows if outbox[r["claim_number"]] == 0 or claims[r["claim_number"]] == 0)
        + sum(1 for k in wanted_assigned if assigned[k] == 0) + sum(1 for k in wanted_review if review[k] == 0),
        "load_drift": sum(abs(loads.get(h, 0) - wanted_load.get(h, 0)) for h in set(loads) | set(wanted_load)),
        "effects": sum(effects.values()),
        "claims": len(claims),
    }


def test_a_batch_re_executed_after_a_crash_writes_every_effect_exactly_once(system):
    rows = batch()
    with pytest.raises(SimulatedFailure) as crash:
        CrashingClaimsSystem(system.url, crash_after=437).record_decisions(rows, step=STEP, model_version=VERSION)
    partial = crash.value.report
    after_crash = write_audit(system, rows)
    # The chunk in flight rolled back whole: no key without its writes, no writes without a key.
    assert partial.written == after_crash["effects"] == after_crash["claims"] == 400
    assert after_crash["duplicates"] == 0

    again = system.record_decisions(rows, step=STEP, model_version=VERSION)
    assert again == WriteReport(written=N - 400, skipped_duplicates=400)
    assert write_audit(system, rows) == {"duplicates": 0, "lost": 0, "load_drift": 0, "effects": N, "claims": N}

    # A third, complete re-execution (say, a retried run) changes nothing.
    assert system.record_decisions(rows, step=STEP, model_version=VERSION) == WriteReport(0, N)
    assert write_audit(system, rows)["duplicates"] == 0 and write_audit(system, rows)["load_drift"] == 0


def test_without_the_idempotency_key_the_same_re_execution_duplicates_writes(system):
    rows = batch()
    with pytest.raises(SimulatedFailure):
        UnkeyedClaimsSystem(system.url, crash_after=437).record_decisions(rows, step=STEP, model_version=VERSION)
    UnkeyedClaimsSystem(system.url).record_decisions(rows, step=STEP, model_version=VERSION)
    found = write_audit(system, rows)
    # The check above is able to see duplicates: the first 400 claims got their message and handler twice.
    assert found["duplicates"] >= 400 and found["load_drift"] > 0 and found["lost"] == 0
    assert found["effects"] == 0


def test_the_unique_key_decides_even_when_the_fast_path_misses_a_concurrent_write(system):
    rows = batch(200)

    class Blind(ClaimsSystem):
        def _present_keys(self, con, keys):  # as if another process committed right after we looked
            return set()

    system.record_decisions(rows[:120], step=STEP, model_version=VERSION)
    racing = Blind(system.url)
    report = racing.record_decisions(rows, step=STEP, model_version=VERSION, chunk_size=50)
    assert report == WriteReport(written=80, skipped_duplicates=120)
    assert write_audit(system, rows)["duplicates"] == 0 and write_audit(system, rows)["lost"] == 0
    racing.dispose()


@pytest.mark.slow
def test_two_processes_writing_the_same_batch_apply_each_effect_once(system, tmp_path):
    rows = batch(400, seed=5)
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    start = time.time() + 2.5
    code = (
        "import json, sys, time\n"
        "from connectors.system_of_record import ClaimsSystem\n"
        f"rows = json.load(open({str(tmp_path / 'rows.json')!r}))\n"
        f"while time.time() < {start}: time.sleep(0.005)\n"
        f"r = ClaimsSystem({system.url!r}).record_decisions(rows, step='triage', model_version='7', chunk_size=10)\n"
        "print(r.written, r.skipped_duplicates)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-500:] for _, err in results]
    reports = [tuple(map(int, out.split())) for out, _ in results]
    assert sum(w for w, _ in reports) == 400 and all(w + s == 400 for w, s in reports)
    assert write_audit(system, rows) == {"duplicates": 0, "lost": 0, "load_drift": 0, "effects": 400, "claims": 400}


def test_the_effect_key_names_claim_step_change_and_route_not_the_model_version(system):
    rows = batch(3)
    system.record_decisions(rows, step=STEP, model_version=VERSION)
    with system.engine.connect() as con:
        keys = set(con.execute(sa.select(effects_table.c.idempotency_key)).scalars())
    assert keys == {effect_key(r["claim_number"], STEP, 1, r["queue"]) for r in rows}
    assert effect_key("CLM-2026-000001", "triage", 1, "standard") == "CLM-2026-000001:triage:1:standard"


def test_a_new_model_version_that_changes_the_route_frees_the_previous_handlers_slot(system):
    row = {"claim_number": "CLM-2026-000001", "queue": "specialist", "rule": "R6_specialist", "reason": "fire",
           "inputs": {}, "assigned_to": "H01", "skill": "fire"}
    system.record_decisions([row], step=STEP, model_version="1")
    system.record_decisions([{**row, "queue": "fraud_review", "rule": "R3_fraud", "assigned_to": None}],
                            step=STEP, model_version="2")
    loads = {h["id"]: h["current_load"] for h in system.roster()}
    assert loads["H01"] == 0
    assert system.claim("CLM-2026-000001")["assigned_to"] is None
    assert system.claim("CLM-2026-000001")["model_version"] == "2"


def test_a_reviewers_decision_is_not_overwritten_by_a_later_machine_write(system):
    row = {"claim_number": "CLM-2026-000001", "queue": "human_review", "rule": "R1_low_extraction_confidence",
           "reason": "low", "inputs": {"min_confidence": 0.4}, "proposed_queue": "standard"}
    system.record_decisions([row], step=STEP, model_version="1")
    queue = ReviewQueue(system)
    queue.claim("CLM-2026-000001", "alice")
    queue.decide("CLM-2026-000001", "alice", "override", queue="specialist", reason="windscreen and bodywork")
    report = system.record_decisions(
        [{**row, "queue": "fast_track", "rule": "R7_fast_track"}], step=STEP, model_version="2"
    )
    assert report == WriteReport(written=0, skipped_duplicates=0, kept_reviewer_decision=1)
    assert system.claim("CLM-2026-000001")["queue"] == "specialist"


def test_an_open_review_item_is_superseded_when_the_claim_no_longer_needs_a_person(system):
    row = {"claim_number": "CLM-2026-000001", "queue": "human_review", "rule": "R4_risk_score_missing",
           "reason": "no score", "inputs": {"risk_score": None}, "proposed_queue": "standard"}
    system.record_decisions([row], step=STEP, model_version="1")
    system.record_decisions([{**row, "queue": "standard", "rule": "R8_standard"}], step="rescore", model_version="1")
    assert ReviewQueue(system).list_items("superseded")[0]["claim_number"] == "CLM-2026-000001"
    assert system.counts()["review"]["waiting"] == 0


def test_a_bad_row_fails_the_batch_before_anything_is_written(system):
    rows = batch(10)
    rows[7] = {**rows[7], "queue": "vip_lane"}
    with pytest.raises(ValueError, match="unknown queue 'vip_lane'"):
        system.record_decisions(rows, step=STEP, model_version=VERSION)
    assert system.counts()["claims"] == 0


def test_seeding_the_roster_twice_keeps_the_loads(system):
    system.record_decisions(batch(50), step=STEP, model_version=VERSION)
    before = system.roster()
    assert system.seed_roster(default_roster()) == 0
    assert system.roster() == before and len(before) == 12


def test_counts_report_queues_loads_and_waiting_review_items(system):
    rows = batch(300)
    system.record_decisions(rows, step=STEP, model_version=VERSION)
    counts = system.counts()
    assert counts["claims"] == 300 and sum(counts["by_queue"].values()) == 300
    assert counts["by_queue"] == {q: sum(r["queue"] == q for r in rows) for q in counts["by_queue"]}
    assert counts["review"]["waiting"] == sum(r["queue"] in ("human_review", "fraud_review") for r in rows)
    assert sum(h["current_load"] for h in counts["specialists"]) == sum(bool(r["assigned_to"]) for r in rows)
    assert counts["outbox"]["pending"] == 300 and counts["effects"] == 300
    assert counts["review_waiting_age_minutes"]["oldest"] >= 0


def test_the_driver_executemany_stores_what_sqlalchemy_would_store(tmp_path, monkeypatch):
    import connectors.system_of_record as sor_module
    from connectors.system_of_record import CLAIMS_TABLES

    # Regression guard for the SQLite fast path: same rows, same text for every value (times included).
    fixed = sor_module.utc_naive()
    monkeypatch.setattr(sor_module, "utc_naive", lambda *a: fixed)
    rows = batch(700)

    def stored(name: str) -> dict:
        system = ClaimsSystem(f"sqlite:///{tmp_path / name}")
        system.ensure_schema()
        system.seed_roster(default_roster())
        system.record_decisions(rows, step=STEP, model_version=VERSION, chunk_size=300)
        with system.engine.connect() as con:
            out = {t.name: con.exec_driver_sql(f"select * from {t.name} order by 1").all() for t in CLAIMS_TABLES}
        system.dispose()
        return out

    fast = stored("fast.db")
    monkeypatch.setattr(sor_module, "_insert_many", lambda con, table, rs: con.execute(table.insert(), rs))
    assert fast == stored("sqlalchemy.db")
