"""Code behaviour of models.risk and models.onnx_export: split, encoding, metrics, export, card."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import numpy as np
import onnx
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from models import onnx_export, risk
from models.features import LABEL, TIME_COLUMN


@pytest.fixture(scope="module", autouse=True)
def _one_openmp_thread() -> Iterator[None]:
    # Other suites share two cores; oversubscribed OpenMP spin-waits made fits 20x slower.
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


def claims(n: int = 2_000, *, seed: int = 0) -> pd.DataFrame:
    """Plain random claims whose label follows amount, delay, prior claims, photo quality and bonus-malus."""
    rng = np.random.default_rng(seed)
    photo_quality = np.where(rng.random(n) < 0.4, np.nan, rng.uniform(0, 1, n))
    frame = pd.DataFrame({
        "claim_number": [f"CLM-2025-{i:06d}" for i in range(n)],
        TIME_COLUMN: pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
        "bonus_malus": rng.integers(50, 200, n),
        "driver_age": rng.integers(18, 85, n),
        "vehicle_age": rng.integers(0, 20, n),
        "vehicle_power": rng.integers(4, 14, n),
        "exposure": rng.uniform(0.1, 1.0, n),
        "prior_claims": rng.poisson(0.5, n),
        "tenure_days": rng.integers(1, 3_000, n),
        "estimated_amount_eur": np.round(rng.lognormal(7.5, 1.0, n), 2),
        "report_delay_days": rng.integers(0, 60, n),
        "photo_count": rng.integers(0, 6, n),
        "photo_quality": photo_quality,
        "area": rng.choice(list("ABCDEFZ"), n),  # Z: outside the vocabulary
        "vehicle_brand": rng.choice(["B1", "B2", "B12", None], n),
        "loss_type": rng.choice(["auto_collision", "theft", "auto_glass"], n),
    })
    logit = (
        -2.5 + 0.9 * np.log(frame["estimated_amount_eur"] / 1_800) + 0.04 * frame["report_delay_days"]
        + 0.6 * frame["prior_claims"] - 1.5 * np.nan_to_num(photo_quality - 0.5) + 0.01 * (frame["bonus_malus"] - 50)
    )
    frame[LABEL] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return claims()


@pytest.fixture(scope="module")
def model(frame: pd.DataFrame):
    return risk.train(frame, risk.TrainingParams())


@pytest.fixture(scope="module")
def onnx_model(model, frame: pd.DataFrame) -> bytes:
    return onnx_export.to_onnx(model, frame.head(200))


# split_by_time


def test_split_by_time_puts_every_holdout_claim_after_every_training_claim(frame):
    train, holdout = risk.split_by_time(frame.sample(frac=1, random_state=3), holdout_share=0.25)
    assert train[TIME_COLUMN].max() < holdout[TIME_COLUMN].min()
    assert sorted(pd.concat([train, holdout])["claim_number"]) == sorted(frame["claim_number"])
    assert 0.2 < len(holdout) / len(frame) < 0.3


def test_split_by_time_never_cuts_through_a_day():
    days = pd.to_datetime(["2025-01-01"] * 5 + ["2025-01-02"] * 5)
    train, holdout = risk.split_by_time(pd.DataFrame({TIME_COLUMN: days, "x": range(10)}), holdout_share=0.3)
    assert (len(train), len(holdout)) == (5, 5)


@pytest.mark.parametrize(
    ("times", "share", "error"),
    [
        (["2025-01-01", None, "2025-01-03"], 0.2, "no incident_date"),
        (["2025-01-01"] * 4, 0.2, "two distinct"),
        (["2025-01-01", "2025-01-02"], 1.0, "holdout_share"),
    ],
)
def test_split_by_time_rejects_what_it_cannot_place(times, share, error):
    with pytest.raises(ValueError, match=error):
        risk.split_by_time(pd.DataFrame({TIME_COLUMN: pd.to_datetime(times)}), holdout_share=share)


# encode_features


def test_encoding_reads_features_by_name_so_extra_columns_and_order_do_not_matter(frame):
    rows = frame.head(50)
    shuffled = rows.assign(description="texte libre")[list(reversed(rows.columns)) + ["description"]]
    np.testing.assert_array_equal(risk.encode_features(shuffled), risk.encode_features(rows))


def test_encoding_is_float32_with_nan_kept_and_unknown_categories_as_zeros():
    rows = risk.reference_claims().assign(area=["Z", None], photo_quality=[np.nan, 0.5])
    encoded = risk.encode_features(rows)
    names = risk.DEFAULT_ENCODING.feature_names
    assert encoded.dtype == np.float32 and encoded.shape == (2, risk.DEFAULT_ENCODING.width) == (2, 36)
    assert np.isnan(encoded[0, names.index("photo_quality")])
    assert encoded[:, [i for i, n in enumerate(names) if n.startswith("area=")]].sum() == 0
    assert encoded[0, names.index("loss_type=theft")] == 1 and encoded[1, names.index("loss_type=auto_glass")] == 1


def test_encoding_accepts_decimal_amounts_and_none():
    rows = risk.reference_claims().astype({"estimated_amount_eur": object})
    rows["estimated_amount_eur"] = [Decimal("1234.56"), None]
    column = risk.encode_features(rows)[:, risk.DEFAULT_ENCODING.index_of("estimated_amount_eur")]
    assert column[0] == np.float32(1234.56) and np.isnan(column[1])


def test_encoding_names_what_is_wrong_with_bad_input():
    with pytest.raises(KeyError, match="photo_count"):
        risk.encode_features(risk.reference_claims().drop(columns="photo_count"))
    with pytest.raises(ValueError, match="report_delay_days"):
        risk.encode_features(risk.reference_claims().assign(report_delay_days="deux jours"))


def test_encoding_round_trips_through_json_with_a_stable_digest():
    again = risk.FeatureEncoding.from_json(risk.DEFAULT_ENCODING.to_json())
    assert again == risk.DEFAULT_ENCODING and again.digest == risk.DEFAULT_ENCODING.digest


# evaluate


class FixedScores:
    """A stand-in model that returns given scores, for metrics with known answers."""

    def __init__(self, scores: list[float]) -> None:
        self.scores = np.asarray(scores)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.column_stack([1 - self.scores, self.scores])


def _labelled(labels: list[int]) -> pd.DataFrame:
    rows = risk.reference_claims().iloc[[0] * len(labels)].reset_index(drop=True)
    return rows.assign(**{LABEL: labels})


def test_evaluate_on_a_case_worked_by_hand():
    metrics = risk.evaluate(FixedScores([0.1, 0.6, 0.4, 0.8]), _labelled([0, 0, 1, 1]), review_threshold=0.5)
    assert metrics == pytest.approx({
        "roc_auc": 0.75,  # 3 of 4 (positive, negative) pairs ordered right
        "pr_auc": (1 + 2 / 3) / 2,
        "brier": (0.01 + 0.36 + 0.36 + 0.04) / 4,
        "ece": (0.1 + 0.6 + 0.6 + 0.2) / 4,  # one claim per bin
        "recall_at_review_threshold": 0.5,
        "precision_at_review_threshold": 0.5,
        "review_rate": 0.5,
        "positives_rate": 0.5,
        "n": 4.0,
    })


def test_a_score_exactly_at_the_threshold_goes_to_review():
    metrics = risk.evaluate(FixedScores([0.5, 0.2]), _labelled([1, 0]), review_threshold=0.5)
    assert metrics["review_rate"] == 0.5 and metrics["recall_at_review_threshold"] == 1.0


def test_precision_is_undefined_not_zero_when_nothing_is_reviewed():
    metrics = risk.evaluate(FixedScores([0.1, 0.2]), _labelled([1, 0]), review_threshold=0.5)
    assert np.isnan(metrics["precision_at_review_threshold"]) and metrics["recall_at_review_threshold"] == 0.0


def test_evaluate_refuses_a_single_class_holdout():
    with pytest.raises(ValueError, match="both classes"):
        risk.evaluate(FixedScores([0.1, 0.2]), _labelled([0, 0]), review_threshold=0.5)


def test_ece_is_zero_when_each_bin_matches_its_observed_rate():
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    scores = np.array([0.25] * 4 + [0.75] * 4)
    assert risk.expected_calibration_error(y, scores) == pytest.approx(0.0)
    assert risk.expected_calibration_error(y, np.full(8, 0.5)) == pytest.approx(0.0)
    assert risk.expected_calibration_error(y, np.full(8, 0.9)) == pytest.approx(0.4)


# training


def test_training_is_deterministic_for_a_seed(model, frame):
    again = risk.train(frame, risk.TrainingParams())
    np.testing.assert_array_equal(risk.predict_proba(again, frame), risk.predict_proba(model, frame))


def test_training_needs_both_classes(frame):
    with pytest.raises(ValueError, match="each class"):
        risk.train(frame.head(100).assign(**{LABEL: 0}))


def test_a_calibration_that_reverses_the_boosters_order_is_rejected(frame):
    model = risk.train(frame, risk.TrainingParams(max_iter=3))
    model.named_steps["classifier"].calibrated_classifiers_[0].calibrators[0].a_ *= -1
    with pytest.raises(ValueError, match="not increasing"):
        risk._check_calibration_keeps_order(model)


def test_behaviour_checks_catch_a_model_that_discounts_large_amounts_or_reads_text(frame):
    def perverse(rows: pd.DataFrame) -> np.ndarray:
        text_bonus = 0.1 if "description" in rows.columns else 0.0
        return 1 / (1 + rows["estimated_amount_eur"].to_numpy() / 1_000) * 0.5 + text_bonus

    checks = risk.behaviour_checks(perverse, frame, review_threshold=0.5)
    assert checks["monotonic_amount_violations"] > 0 and checks["invariance_max_diff"] == pytest.approx(0.1)
    assert not (checks["monotonic_amount_ok"] or checks["invariance_ok"] or checks["passed"])


# ONNX export


def test_onnx_contract_is_one_float_tensor_in_and_one_probability_tensor_out(onnx_model):
    graph = onnx.load_from_string(onnx_model).graph
    (inp,), (out,) = graph.input, graph.output
    assert (inp.name, inp.type.tensor_type.elem_type) == ("features", onnx.TensorProto.FLOAT)
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [0, risk.DEFAULT_ENCODING.width]
    assert (out.name, out.type.tensor_type.elem_type) == ("probabilities", onnx.TensorProto.FLOAT)
    assert [d.dim_value for d in out.type.tensor_type.shape.dim] == [0, 2]
    assert onnx_export.encoding_from_onnx(onnx_model) == risk.DEFAULT_ENCODING
    assert onnx_export.onnx_metadata(onnx_model)["claimflow.encoding_digest"] == risk.DEFAULT_ENCODING.digest


def test_onnx_scores_match_scikit_learn_including_missing_values(model, onnx_model, frame):
    assert frame["photo_quality"].isna().mean() > 0.3
    assert onnx_export.check_parity(model, onnx_model, frame) < 1e-5
    all_missing = frame.head(100).assign(**{c: np.nan for c in risk.DEFAULT_ENCODING.numeric})
    assert onnx_export.check_parity(model, onnx_model, all_missing) < 1e-5


def test_parity_check_fails_loudly_on_another_model(onnx_model, frame):
    other = risk.train(frame, risk.TrainingParams(max_iter=3))
    with pytest.raises(onnx_export.ParityError, match="differs"):
        onnx_export.check_parity(other, onnx_model, frame)


def test_export_is_byte_for_byte_reproducible(model, onnx_model, frame):
    assert onnx_export.to_onnx(model, frame.head(200)) == onnx_model


def test_isotonic_calibration_is_refused_for_export(frame):
    with pytest.raises(NotImplementedError, match="isotonic"):
        onnx_export.to_onnx(risk.build_pipeline(risk.TrainingParams(calibration="isotonic")), frame.head(5))


def test_a_split_between_adjacent_float32_values_routes_the_same_in_onnx(monkeypatch):
    # Regression: skl2onnx stores split thresholds rounded to nearest float32;
    # here the split's midpoint rounds up onto the upper value, which then went left in ONNX.
    low = np.nextafter(np.float32(0.5), np.float32(1))
    high = np.nextafter(low, np.float32(1))
    assert np.float32((np.float64(low) + np.float64(high)) / 2) == high
    rng = np.random.default_rng(0)
    rows = claims(900, seed=1).assign(photo_quality=np.where(np.arange(900) % 2, high, low))
    rows[LABEL] = (rng.random(900) < np.where(rows["photo_quality"] == low, 0.8, 0.1)).astype(int)
    model = risk.train(rows, risk.TrainingParams(max_iter=5, early_stopping=False))
    assert onnx_export.check_parity(model, onnx_export.to_onnx(model, rows), rows) < 1e-5

    monkeypatch.setattr(onnx_export, "_round_thresholds_down", lambda *args: 0)
    with pytest.raises(onnx_export.ParityError):
        onnx_export.to_onnx(model, rows)


# model card


def test_model_card_reports_metrics_thresholds_and_the_fairness_note():
    metrics = {
        "roc_auc": 0.8412, "pr_auc": 0.4573, "brier": 0.0796, "ece": 0.0197, "recall_at_review_threshold": 0.2018,
        "precision_at_review_threshold": float("nan"), "review_rate": 0.0349, "positives_rate": 0.1138, "n": 1002.0,
    }
    champion = {**metrics, "roc_auc": 0.85, "brier": 0.09}
    params = risk.TrainingParams(review_threshold=0.35)
    card = risk.model_card(metrics, params, "sha256:abc123", champion_metrics=champion)
    for text in ("0.8412", "0.4573", "0.0197", "1,002", "n/a", "0.8500", "sha256:abc123", "0.35", "3.5%", "sigmoid"):
        assert text in card
    assert "| ROC AUC | 0.8412 | 0.8500 | no |" in card and "| Brier score | 0.0796 | 0.0900 | yes |" in card
    assert "driver_age" in card and "rating factor" in card and "protected attribute" in card
