"""The review queue: claim, release, decide, expiry, audit entries and training labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from assets.claims.assignment import default_roster
from assets.claims.review import ReviewError, ReviewQueue
from connectors.audit import AuditLog
from connectors.system_of_record import ClaimsSystem

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
HELD = "CLM-2026-000001"  # low extraction confidence; the rules behind the hold propose specialist
FRAUD = "CLM-2026-000002"  # reused photo, assigned to a fraud handler
UNSCORED = "CLM-2026-000003"  # no risk score


def rows():
    return [
        {"claim_number": HELD, "queue": "human_review", "rule": "R1_low_extraction_confidence",
         "reason": "weakest extracted field confidence 0.52 is below 0.75",
         "inputs": {"min_confidence": 0.52, "min_extraction_confidence": 0.75}, "risk_score": 0.3,
         "policy_verdict": "verified", "proposed_queue": "specialist"},
        {"claim_number": FRAUD, "queue": "fraud_review", "rule": "R5_fraud_signal",
         "reason": "a photo was already used on another claim",
         "inputs": {"photo_reused": True, "risk_score": 0.2, "fraud_threshold": 0.8}, "risk_score": 0.2,
         "policy_verdict": "verified", "assigned_to": "H02", "skill": "fraud"},
        {"claim_number": UNSCORED, "queue": "human_review", "rule": "R4_risk_score_missing",
         "reason": "no risk score (scoring unavailable)", "inputs": {"risk_score": None},
         "policy_verdict": "verified", "proposed_queue": "standard"},
    ]


@pytest.fixture
def system(tmp_path):
    sor = ClaimsSystem(f"sqlite:///{tmp_path / 'sor.db'}")
    sor.seed_roster(default_roster())
    sor.record_decisions(rows(), step="triage", model_version="7")
    yield sor
    sor.dispose()


@pytest.fixture
def queue(system):
    return ReviewQueue(system, claim_timeout=30)


def actions(system, subject=None):
    return [(e.actor, e.action, e.subject) for e in AuditLog(system.url).entries(subject=subject)]


def test_items_carry_the_suggestion_and_its_evidence(queue):
    items = {i["claim_number"]: i for i in queue.list_items(now=T0)}
    assert set(items) == {HELD, FRAUD, UNSCORED}
    held = items[HELD]
    assert (held["suggested_queue"], held["rule"], held["proposed_queue"]) == (
        "human_review", "R1_low_extraction_confidence", "specialist")
    assert held["evidence"] == {"min_confidence": 0.52, "min_extraction_confidence": 0.75}
    assert queue.show(HELD)["claim"]["status"] == "awaiting_review"


def test_claim_release_claim_decide_is_one_audited_cycle(queue, system):
    queue.claim(HELD, "alice", now=T0)
    with pytest.raises(ReviewError, match="already claimed by alice"):
        queue.claim(HELD, "bob", now=T0)
    with pytest.raises(ReviewError, match="claimed by alice, not bob"):
        queue.release(HELD, "bob", now=T0)
    queue.release(HELD, "alice", now=T0 + timedelta(minutes=2))
    assert queue.show(HELD)["status"] == "waiting"
    queue.claim(HELD, "bob", now=T0 + timedelta(minutes=3))
    with pytest.raises(ReviewError, match="claimed by bob, not alice"):
        queue.decide(HELD, "alice", "approve", reason="fine", now=T0 + timedelta(minutes=4))
    label = queue.decide(HELD, "bob", "approve", reason="bodywork and glass", now=T0 + timedelta(minutes=5))

    assert label == {"claim_number": HELD, "high_risk": True, "reviewer": "bob",
                     "decided_at": datetime(2026, 6, 1, 9, 5), "reason": "bodywork and glass"}
    claim = system.claim(HELD)
    assert (claim["queue"], claim["status"], claim["reviewed_by"], claim["rule"]) == (
        "specialist", "reviewed", "bob", "reviewer_approve")
    item = queue.show(HELD)
    assert (item["status"], item["decision"], item["final_queue"]) == ("decided", "approve", "specialist")
    assert actions(system, HELD) == [("alice", "review.claim", HELD), ("alice", "review.release", HELD),
                                     ("bob", "review.claim", HELD), ("bob", "review.decide", HELD)]
    decide = AuditLog(system.url).entries(action="review.decide")[0].payload
    assert decide["suggestion"]["rule"] == "R1_low_extraction_confidence" and decide["final_queue"] == "specialist"
    assert decide["evidence"] == {"min_confidence": 0.52, "min_extraction_confidence": 0.75}
    assert AuditLog(system.url).verify().intact


def test_an_override_needs_a_known_queue_and_a_reason(queue, system):
    queue.claim(FRAUD, "carla", now=T0)
    with pytest.raises(ReviewError, match="needs the queue"):
        queue.decide(FRAUD, "carla", "override", reason="photo is the customer's own", now=T0)
    with pytest.raises(ReviewError, match="unknown queue 'vip'"):
        queue.decide(FRAUD, "carla", "override", queue="vip", reason="x", now=T0)
    with pytest.raises(ReviewError, match="needs a reason"):
        queue.decide(FRAUD, "carla", "override", queue="standard", reason="  ", now=T0)
    with pytest.raises(ReviewError, match="unknown action"):
        queue.decide(FRAUD, "carla", "escalate", now=T0)
    label = queue.decide(FRAUD, "carla", "override", queue="standard",
                         reason="same garage, different car: not a reuse", now=T0)
    assert label["high_risk"] is False and label["reviewer"] == "carla"
    assert system.claim(FRAUD)["queue"] == "standard"
    # The claim left the fraud handler's queue, so it left the handler's load.
    assert system.claim(FRAUD)["assigned_to"] is None
    assert {h["id"]: h["current_load"] for h in system.roster()}["H02"] == 0


def test_approving_a_fraud_suggestion_keeps_its_queue_and_handler(queue, system):
    queue.claim(FRAUD, "carla", now=T0)
    assert queue.decide(FRAUD, "carla", "approve", reason="confirmed reuse", now=T0)["high_risk"] is True
    assert (system.claim(FRAUD)["queue"], system.claim(FRAUD)["assigned_to"]) == ("fraud_review", "H02")


def test_a_claim_nobody_decides_returns_to_the_queue_after_the_timeout(queue, system):
    queue.claim(UNSCORED, "alice", now=T0)
    assert queue.list_items("claimed", now=T0 + timedelta(minutes=29))[0]["claimed_by"] == "alice"
    with pytest.raises(ReviewError, match="already claimed by alice"):
        queue.claim(UNSCORED, "bob", now=T0 + timedelta(minutes=29))

    waiting = {i["claim_number"]: i for i in queue.list_items("waiting", now=T0 + timedelta(minutes=31))}
    assert waiting[UNSCORED]["claimed_by"] is None
    queue.claim(UNSCORED, "bob", now=T0 + timedelta(minutes=32))
    with pytest.raises(ReviewError, match="not claimed"):
        queue.release(HELD, "alice")
    assert ("system", "review.expire", UNSCORED) in actions(system, UNSCORED)
    assert actions(system, UNSCORED)[-1] == ("bob", "review.claim", UNSCORED)


def test_the_timeout_is_configurable_and_claiming_applies_it(system):
    quick = ReviewQueue(system, claim_timeout=5)
    quick.claim(HELD, "alice", now=T0)
    quick.claim(HELD, "bob", now=T0 + timedelta(minutes=6))  # alice's claim expired on the way
    assert quick.show(HELD)["claimed_by"] == "bob"
    with pytest.raises(ValueError):
        ReviewQueue(system, claim_timeout=0)


def test_refusals_are_one_line_errors(queue):
    with pytest.raises(ReviewError, match="no review item for CLM-2026-999999"):
        queue.claim("CLM-2026-999999", "alice")
    with pytest.raises(ReviewError, match="claim it first"):
        queue.decide(HELD, "alice", "approve", reason="x")
    with pytest.raises(ReviewError, match="reviewer name"):
        queue.claim(HELD, " ")
    with pytest.raises(ReviewError, match="unknown status"):
        queue.list_items("pending")
    queue.claim(HELD, "alice", now=T0)
    # Regression: an empty approval reason was stored as "suggestion approved".
    with pytest.raises(ReviewError, match="an approve needs a reason"):
        queue.decide(HELD, "alice", "approve", reason="  ", now=T0)
    queue.decide(HELD, "alice", "override", queue="standard", reason="minor", now=T0)
    with pytest.raises(ReviewError, match="not waiting"):
        queue.claim(HELD, "bob", now=T0)


def test_an_item_without_a_proposal_can_only_be_overridden(system, queue):
    system.record_decisions(
        [{"claim_number": "CLM-2026-000009", "queue": "human_review", "rule": "R2_suspicious_content",
          "reason": "instructions in the text", "inputs": {"suspicious_content": True}}],
        step="triage", model_version="7",
    )
    queue.claim("CLM-2026-000009", "alice", now=T0)
    with pytest.raises(ReviewError, match="override with a queue"):
        queue.decide("CLM-2026-000009", "alice", "approve", reason="ok", now=T0)


def test_labels_since_returns_reviewer_decisions_for_training(queue):
    for n, (number, minutes) in enumerate(((HELD, 0), (UNSCORED, 60))):
        queue.claim(number, "alice", now=T0 + timedelta(minutes=minutes))
        queue.decide(number, "alice", "approve", reason=f"ok {n}", now=T0 + timedelta(minutes=minutes))
    assert [x["claim_number"] for x in queue.labels_since(T0)] == [HELD, UNSCORED]
    later = queue.labels_since(T0 + timedelta(minutes=30))
    assert later == [{"claim_number": UNSCORED, "high_risk": False, "reviewer": "alice",
                      "decided_at": datetime(2026, 6, 1, 10, 0), "reason": "ok 1"}]
    assert queue.list_items("decided", now=T0)[0]["decided_by"] == "alice"
    assert len(queue.list_items("all", now=T0)) == 3
