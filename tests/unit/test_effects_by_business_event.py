"""Effects are keyed by a claim's state change, not by the model version that happened to decide.

Regression (issue 12, finding 1): a champion change re-decided 523 claims, unassigned 180 of 181
assigned claims and queued a second status message to 520 customers.
"""

from __future__ import annotations

import pytest

from assets.claims.assignment import default_roster
from assets.claims.review import ReviewQueue
from connectors.system_of_record import ClaimsSystem, WriteReport

CLAIM = "CLM-2026-000001"


@pytest.fixture
def system(tmp_path) -> ClaimsSystem:
    sor = ClaimsSystem(f"sqlite:///{tmp_path / 'sor.db'}")
    sor.ensure_schema()
    sor.seed_roster(default_roster())
    yield sor
    sor.dispose()


def decision(number: str, queue: str, *, assigned: str | None = None, status: str = "specialist") -> dict:
    return {"claim_number": number, "queue": queue, "rule": f"R_{queue}", "reason": "x", "inputs": {},
            "risk_score": 0.4, "assigned_to": assigned, "skill": "fire" if assigned else None,
            "outbox": {"subject": f"Claim {number}", "body": "text",
                       "payload": {"claim_number": number, "status": status, "next_step": "handler_contact"}}}


def test_a_new_champion_deciding_the_same_route_changes_nothing_the_customer_or_a_handler_sees(system):
    rows = [decision(f"CLM-2026-{i:06d}", "specialist", assigned="H01" if i % 2 else "H02") for i in range(40)]
    system.record_decisions(rows, step="triage", model_version="1")
    before = (system.counts(), system.assignments(), system.outbox())

    # The new champion scores differently but lands on the same route (and the assigner would pick others).
    rescored = [{**r, "risk_score": 0.45, "assigned_to": "H10"} for r in rows]
    report = system.record_decisions(rescored, step="triage", model_version="2")

    assert report == WriteReport(written=0, skipped_duplicates=40)
    assert (system.counts(), system.assignments(), system.outbox()) == before
    assert len(system.effects("triage")) == 40


def test_a_changed_route_is_one_state_change_and_the_customer_hears_only_if_what_they_are_told_changes(system):
    system.record_decisions([decision(CLAIM, "human_review", status="under_review")], step="triage", model_version="1")
    # human_review -> fraud_review: a new route, but the customer still reads "under review".
    report = system.record_decisions([decision(CLAIM, "fraud_review", status="under_review")],
                                     step="triage", model_version="2")
    assert report.written == 1
    assert system.claim(CLAIM)["queue"] == "fraud_review"
    assert len(system.outbox(CLAIM)) == 1
    # fraud_review -> standard: the customer is told something new, once.
    system.record_decisions([decision(CLAIM, "standard", status="received")], step="triage", model_version="3")
    system.record_decisions([decision(CLAIM, "standard", status="received")], step="triage", model_version="4")
    assert [m["payload_json"].count("received") for m in system.outbox(CLAIM)] == [0, 1]


def test_a_route_that_flips_back_is_a_new_state_change_with_its_own_key(system):
    for version, queue in enumerate(["standard", "specialist", "standard"], start=1):
        system.record_decisions([decision(CLAIM, queue)], step="triage", model_version=str(version))
    keys = [e["idempotency_key"] for e in system.effects("triage")]
    assert keys == [f"{CLAIM}:triage:1:standard", f"{CLAIM}:triage:2:specialist", f"{CLAIM}:triage:3:standard"]
    assert system.claim(CLAIM)["queue"] == "standard"


def test_a_claim_a_reviewer_has_picked_up_is_not_re_routed_by_a_new_model(system):
    system.record_decisions([decision(CLAIM, "human_review", status="under_review")], step="triage", model_version="1")
    ReviewQueue(system).claim(CLAIM, "alice")
    report = system.record_decisions([decision(CLAIM, "fast_track", status="fast_track")],
                                     step="triage", model_version="2")
    assert report == WriteReport(written=0, skipped_duplicates=0, kept_reviewer_decision=1)
    assert system.claim(CLAIM)["queue"] == "human_review" and len(system.outbox(CLAIM)) == 1


def test_a_changed_route_moves_the_assignment_and_the_load_once(system):
    system.record_decisions([decision(CLAIM, "specialist", assigned="H01")], step="triage", model_version="1")
    system.record_decisions([decision(CLAIM, "standard", status="received")], step="triage", model_version="2")
    system.record_decisions([decision(CLAIM, "standard", status="received")], step="triage", model_version="3")
    loads = {h["id"]: h["current_load"] for h in system.roster()}
    assert loads["H01"] == 0 and system.claim(CLAIM)["assigned_to"] is None
    assert len(system.assignments(CLAIM)) == 1
