"""Behaviour of the trained risk model: direction, invariance, minimum functionality.

Each test runs on the scikit-learn pipeline and on its ONNX export, since the
served model is the one that routes claims.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import onnx_export, risk
from models.features import FEATURES

AUC_FLOOR = 0.78  # the synthetic label's best possible AUC is about 0.85


@pytest.fixture(params=["sklearn", "onnx"])
def score(request, model, onnx_model):
    if request.param == "sklearn":
        return lambda frame: risk.predict_proba(model, frame)
    return lambda frame: onnx_export.onnx_predict(onnx_model, frame)


# Direction


def test_a_larger_amount_never_lowers_the_score(score, holdout):
    rows = holdout.sample(300, random_state=1).reset_index(drop=True)
    amounts = np.round(np.geomspace(1.0, 2_000_000.0, 40), 2)
    swept = rows.loc[rows.index.repeat(len(amounts))].reset_index(drop=True)
    swept["estimated_amount_eur"] = np.tile(amounts, len(rows))
    scores = score(swept).reshape(len(rows), len(amounts))
    assert (np.diff(scores, axis=1) >= 0).all()


def test_a_larger_amount_raises_the_score_somewhere(score, holdout):
    rows = holdout.head(50).assign(estimated_amount_eur=100.0)
    assert (score(rows.assign(estimated_amount_eur=50_000.0)) > score(rows)).mean() > 0.9


def test_the_gate_checks_find_no_violation(score, holdout, params):
    checks = risk.behaviour_checks(score, holdout, review_threshold=params.review_threshold)
    assert checks["monotonic_amount_violations"] == 0
    assert checks["passed"], checks


# Invariance


def test_text_and_id_columns_and_column_order_do_not_change_the_score(score, holdout):
    rows = holdout.head(200).reset_index(drop=True)
    noisy = rows.assign(
        description=rows["description"].str.upper() + " URGENT fraude!!",
        claim_number=rows["claim_number"].iloc[::-1].to_numpy(),
        incident_date=pd.Timestamp("2030-01-01"),
        email_body="Bonjour, je vous ecris au sujet de mon sinistre.",
    )
    shuffled = noisy[list(np.random.default_rng(0).permutation(noisy.columns))]
    np.testing.assert_array_equal(score(shuffled), score(rows))


def test_scores_depend_on_features_only_not_on_batch_neighbours(score, holdout):
    rows = holdout.head(100).reset_index(drop=True)
    together = score(rows)
    alone = np.concatenate([score(rows.iloc[[i]]) for i in range(0, 100, 10)])
    np.testing.assert_allclose(alone, together[::10], rtol=0, atol=1e-7)


# Minimum functionality


def test_an_obviously_risky_claim_goes_to_review(score, params):
    high = score(risk.reference_claims().loc[["obvious_high_risk"]])
    assert high[0] >= params.review_threshold


def test_an_obviously_benign_claim_does_not(score, params):
    benign = score(risk.reference_claims().loc[["obvious_benign"]])
    assert benign[0] < params.review_threshold


def test_a_claim_with_no_photo_score_still_gets_a_probability(score, holdout):
    rows = holdout.head(20).assign(photo_count=0, photo_quality=np.nan)
    scores = score(rows)
    assert np.isfinite(scores).all() and ((scores > 0) & (scores < 1)).all()


def test_holdout_metrics_clear_the_floor(model, holdout, params):
    metrics = risk.evaluate(model, holdout, review_threshold=params.review_threshold)
    assert metrics["roc_auc"] > AUC_FLOOR
    assert metrics["pr_auc"] > 2 * metrics["positives_rate"]
    assert metrics["ece"] < 0.05


def test_the_model_reads_exactly_the_feature_contract(model):
    assert tuple(model.named_steps["encode"].encoding.numeric) + tuple(
        model.named_steps["encode"].encoding.categorical
    ) == FEATURES
