"""The accuracy gate asks a challenger for a stated gain over the champion, or a written reason.

Regression (issue 12, finding 1): re-running the demo registered an identical model (ROC AUC
+0.000), and the gate let it through to a promotion that re-scored every claim.
"""

from assets.training.gates import AccuracyPolicy, accuracy_gate

CHAMPION = {"roc_auc": 0.800, "recall_at_review_threshold": 0.60, "brier": 0.10}


def test_an_equal_challenger_fails_without_a_stated_reason():
    verdict = accuracy_gate(dict(CHAMPION), CHAMPION, AccuracyPolicy(min_auc_improvement=0.002))
    assert not verdict.passed
    assert "below the required improvement" in verdict.reason


def test_an_equal_challenger_passes_with_a_stated_reason_recorded_in_the_verdict():
    policy = AccuracyPolicy(min_auc_improvement=0.002, equal_model_reason="retrained on the corrected labels")
    verdict = accuracy_gate(dict(CHAMPION), CHAMPION, policy)
    assert verdict.passed and "corrected labels" in verdict.reason
    assert verdict.evidence["equal_model_reason"] == "retrained on the corrected labels"


def test_a_challenger_with_the_stated_gain_passes_and_a_worse_one_fails_even_with_a_reason():
    better = {**CHAMPION, "roc_auc": 0.805}
    assert accuracy_gate(better, CHAMPION, AccuracyPolicy(min_auc_improvement=0.002)).passed
    worse = {**CHAMPION, "roc_auc": 0.780}
    assert not accuracy_gate(worse, CHAMPION, AccuracyPolicy(equal_model_reason="anything")).passed


def test_the_champion_itself_passes_as_such():
    verdict = accuracy_gate(dict(CHAMPION), CHAMPION, AccuracyPolicy(), is_champion=True)
    assert verdict.passed and "current champion" in verdict.reason
