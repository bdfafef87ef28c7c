"""Feature effects on one claim's score: the feature that drives the score comes first, with its sign."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.explain import contributions, typical_values
from models.features import CATEGORICAL_FEATURES, FEATURES


def claims(n: int = 50, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f: rng.normal(10, 2, n) for f in FEATURES if f not in CATEGORICAL_FEATURES})
    for f in CATEGORICAL_FEATURES:
        frame[f] = rng.choice(["a", "b"], n)
    return frame


def score(frame: pd.DataFrame) -> np.ndarray:
    """A known model: risk rises with the amount, a little with prior claims, and for loss type 'b'."""
    z = 0.8 * (frame["estimated_amount_eur"] - 10) + 0.1 * (frame["prior_claims"] - 10) + (frame["loss_type"] == "b")
    return 1 / (1 + np.exp(-z.to_numpy(dtype=float)))


def test_the_feature_that_drives_the_score_comes_first_with_its_sign():
    reference = claims()
    typical = typical_values(reference)
    claim = reference.iloc[[0]].copy()
    claim["estimated_amount_eur"] = typical["estimated_amount_eur"] + 6  # an unusually large amount
    claim["prior_claims"] = typical["prior_claims"]
    top = contributions(score, claim, typical, top=3)
    assert top[0]["feature"] == "estimated_amount_eur" and top[0]["effect"] > 0.3
    # A feature already at its typical value explains nothing; one the model ignores neither.
    effects = {e["feature"]: e["effect"] for e in contributions(score, claim, typical, top=len(FEATURES))}
    assert effects["prior_claims"] == 0 and effects["vehicle_power"] == 0


def test_a_small_amount_pulls_the_score_down():
    reference = claims()
    typical = typical_values(reference)
    claim = reference.iloc[[1]].copy()
    claim["estimated_amount_eur"] = typical["estimated_amount_eur"] - 5
    assert contributions(score, claim, typical, top=1)[0]["effect"] < -0.2


def test_the_served_onnx_model_explains_a_large_amount_by_the_amount():
    # The explanation runs through the same ONNX the champion is served as, not a proxy model.
    from models import onnx_export, risk
    from tests.unit.test_risk import claims as labelled_claims

    frame = labelled_claims(1_500, seed=5)
    onnx_bytes = onnx_export.to_onnx(risk.train(frame, risk.TrainingParams()), frame.head(200))
    typical = typical_values(frame)
    claim = frame.iloc[[0]].copy()
    for f in FEATURES:
        claim[f] = typical[f]
    claim["estimated_amount_eur"] = 60_000.0
    top = contributions(lambda x: onnx_export.onnx_predict(onnx_bytes, x), claim, typical, top=2)
    assert top[0]["feature"] == "estimated_amount_eur" and top[0]["effect"] > 0.05
