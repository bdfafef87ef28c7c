"""The high-risk claim classifier: encode, train, evaluate, score, describe.

"High risk" means the claim needed a specialist or a fraud review (`LABEL`).
The score routes claims: at or above `review_threshold` a claim goes to a
person, below it follows the standard path. It never denies a claim.

The model is a calibrated gradient-boosted tree ensemble behind a small,
pure-numpy feature encoder (`encode_features`). The encoder turns the
`FEATURES` columns of a frame into one float32 matrix; the same function runs
in training, in the ONNX parity check and in the Triton client, so the served
model and the trained one see identical numbers. Categories are one-hot over
fixed vocabularies (`DEFAULT_ENCODING`), which keeps the input width stable
across model versions and converts to ONNX without categorical tree splits.

Plain functions, no orchestration imports: the Dagster assets and the MLflow
logging call these.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from models.contracts import LOSS_TYPES
from models.features import (
    CATEGORICAL_FEATURES,
    FEATURES,
    ID_COLUMN,
    LABEL,
    NUMERIC_FEATURES,
    TIME_COLUMN,
)

MONOTONIC_INCREASING: tuple[str, ...] = ("estimated_amount_eur",)
ECE_BINS = 10

# Vocabularies are fixed, not learned: the serving client encodes with the same
# constants, and a new category must be a reviewed change, not a silent widening
# of the model input. Anything else (or missing) encodes as all zeros.
DEFAULT_VOCABULARIES: dict[str, tuple[str, ...]] = {
    "area": ("A", "B", "C", "D", "E", "F"),  # freMTPL density classes
    "vehicle_brand": ("B1", "B2", "B3", "B4", "B5", "B6", "B10", "B11", "B12", "B13", "B14"),
    "loss_type": LOSS_TYPES,
}


@dataclass(frozen=True)
class FeatureEncoding:
    """How a claims frame becomes the model's float32 matrix: numeric columns, then one-hot blocks."""

    numeric: tuple[str, ...] = NUMERIC_FEATURES
    categorical: tuple[str, ...] = CATEGORICAL_FEATURES
    vocabularies: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_VOCABULARIES))

    def __post_init__(self) -> None:
        missing = [c for c in self.categorical if c not in self.vocabularies]
        if missing:
            raise ValueError(f"no vocabulary for categorical feature(s) {missing}")
        frozen = {c: tuple(str(v) for v in self.vocabularies[c]) for c in self.categorical}
        object.__setattr__(self, "vocabularies", frozen)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the encoded columns, in order (`area=A`, ...)."""
        onehot = tuple(f"{c}={v}" for c in self.categorical for v in self.vocabularies[c])
        return self.numeric + onehot

    @property
    def width(self) -> int:
        return len(self.feature_names)

    def index_of(self, name: str) -> int:
        """Column index of an encoded feature."""
        return self.feature_names.index(name)

    def to_json(self) -> str:
        """Canonical JSON, stored in the ONNX metadata and the model's MLflow run."""
        payload = {
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "vocabularies": {c: list(self.vocabularies[c]) for c in self.categorical},
            "feature_names": list(self.feature_names),
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> FeatureEncoding:
        payload = json.loads(text)
        return cls(
            numeric=tuple(payload["numeric"]),
            categorical=tuple(payload["categorical"]),
            vocabularies={c: tuple(v) for c, v in payload["vocabularies"].items()},
        )

    @property
    def digest(self) -> str:
        """Short fingerprint a serving client compares with the model's before it scores."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The float32 matrix [rows, width]; see `encode_features`."""
        missing = [c for c in (*self.numeric, *self.categorical) if c not in frame.columns]
        if missing:
            raise KeyError(f"frame lacks feature column(s) {missing}")
        out = np.zeros((len(frame), self.width), dtype=np.float32)
        for j, column in enumerate(self.numeric):
            try:
                values = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"feature {column!r} is not numeric: {exc}") from None
            if np.isinf(values).any():
                raise ValueError(f"feature {column!r} has infinite values")
            out[:, j] = values
        j = len(self.numeric)
        for column in self.categorical:
            vocabulary = self.vocabularies[column]
            values = frame[column].astype(object).to_numpy()
            for k, category in enumerate(vocabulary):
                out[:, j + k] = values == category
            j += len(vocabulary)
        return out


DEFAULT_ENCODING = FeatureEncoding()


def encode_features(frame: pd.DataFrame, encoding: FeatureEncoding = DEFAULT_ENCODING) -> np.ndarray:
    """The model input for a claims frame: float32 [rows, encoding.width].

    Numeric features keep their value (NaN stays NaN, the trees route it);
    each categorical becomes a one-hot block over its fixed vocabulary, with
    unknown or missing categories as all zeros. Columns are selected by name,
    so extra columns and column order never change the result.
    """
    return encoding.encode(frame)


class FeatureEncoder(TransformerMixin, BaseEstimator):
    """`encode_features` as a stateless scikit-learn step, so the pipeline accepts raw frames."""

    def __init__(self, encoding: FeatureEncoding = DEFAULT_ENCODING) -> None:
        self.encoding = encoding

    def fit(self, X: pd.DataFrame, y: object = None) -> FeatureEncoder:
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        return encode_features(X, self.encoding)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return np.asarray(self.encoding.feature_names, dtype=object)

    def __sklearn_is_fitted__(self) -> bool:
        return True


@dataclass(frozen=True)
class TrainingParams:
    """Hyper-parameters of the risk model and its routing threshold; logged with every run."""

    learning_rate: float = 0.08
    max_iter: int = 300
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    l2_regularization: float = 0.0
    # Sigmoid: it converts to ONNX exactly. skl2onnx turns isotonic into a
    # nearest-point lookup that drifts up to 0.02 from scikit-learn's linear
    # interpolation, for no gain in ranking and little in calibration.
    calibration: Literal["sigmoid", "isotonic"] = "sigmoid"
    cv: int = 3
    random_state: int = 0
    early_stopping: bool = True  # on a 10% split of each fold's training part
    review_threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.calibration not in ("sigmoid", "isotonic"):
            raise ValueError(f"calibration must be 'sigmoid' or 'isotonic', not {self.calibration!r}")
        if not 0.0 < self.review_threshold < 1.0:
            raise ValueError(f"review_threshold must be in (0, 1), not {self.review_threshold}")
        if self.cv < 2:
            raise ValueError(f"cv must be at least 2, not {self.cv}")

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def build_pipeline(params: TrainingParams = TrainingParams(), encoding: FeatureEncoding = DEFAULT_ENCODING) -> Pipeline:
    """Unfitted pipeline: `FeatureEncoder` then gradient boosting calibrated by cross-validation.

    `estimated_amount_eur` carries a +1 monotonic constraint: a larger claimed
    amount must never lower the risk. Without it, sparse data at high amounts
    lets the trees learn dips, and a claimant could then push a claim out of
    review by inflating it; routing must also stay explainable to the risk officer.
    """
    monotonic = np.zeros(encoding.width, dtype=int)
    for name in MONOTONIC_INCREASING:
        monotonic[encoding.index_of(name)] = 1
    booster = HistGradientBoostingClassifier(
        learning_rate=params.learning_rate,
        max_iter=params.max_iter,
        max_leaf_nodes=params.max_leaf_nodes,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization,
        monotonic_cst=monotonic.tolist(),
        categorical_features=None,
        early_stopping=params.early_stopping,
        random_state=params.random_state,
    )
    calibrated = CalibratedClassifierCV(booster, method=params.calibration, cv=params.cv, ensemble=True)
    return Pipeline([("encode", FeatureEncoder(encoding)), ("classifier", calibrated)])


def split_by_time(frame: pd.DataFrame, *, holdout_share: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout): the holdout is the latest `holdout_share` of claims by `TIME_COLUMN`.

    Claims of one day never straddle the cut, so every holdout claim is strictly
    later than every training claim (the share is met as closely as days allow).
    The training set's split is made in dbt (`training_set.sql`) by this same rule; this is
    it for frames outside the warehouse (benches, behaviour tests), and
    tests/integration/test_dbt_models.py checks that the two agree.
    """
    if not 0.0 < holdout_share < 1.0:
        raise ValueError(f"holdout_share must be in (0, 1), not {holdout_share}")
    if TIME_COLUMN not in frame.columns:
        raise KeyError(f"frame lacks the time column {TIME_COLUMN!r}")
    times = pd.to_datetime(frame[TIME_COLUMN])
    if times.isna().any():
        raise ValueError(f"{int(times.isna().sum())} row(s) have no {TIME_COLUMN}; they cannot be placed in time")
    # Ties broken by claim number, so the same claims give the same split in any input order.
    tiebreak = frame[ID_COLUMN].astype(str).to_numpy() if ID_COLUMN in frame else np.arange(len(frame))
    order = np.lexsort((tiebreak, times.to_numpy()))
    ordered = frame.iloc[order].reset_index(drop=True)
    ordered_times = times.iloc[order].reset_index(drop=True)
    n_holdout = math.ceil(len(frame) * holdout_share)
    cutoff = ordered_times.iloc[len(frame) - n_holdout] if n_holdout < len(frame) else None
    if cutoff is None or cutoff == ordered_times.iloc[0]:
        raise ValueError(f"cannot split {len(frame)} row(s) in time: need at least two distinct {TIME_COLUMN} values")
    is_holdout = (ordered_times >= cutoff).to_numpy()
    return ordered[~is_holdout].reset_index(drop=True), ordered[is_holdout].reset_index(drop=True)


def _labels(frame: pd.DataFrame) -> np.ndarray:
    if LABEL not in frame.columns:
        raise KeyError(f"frame lacks the label column {LABEL!r}")
    labels = frame[LABEL]
    if labels.isna().any():
        raise ValueError(f"{int(labels.isna().sum())} row(s) have no {LABEL}")
    values = labels.astype(int).to_numpy()
    if not np.isin(values, (0, 1)).all():
        raise ValueError(f"{LABEL} must be 0/1, found {sorted(set(values.tolist()))}")
    return values


def train(
    train_frame: pd.DataFrame, params: TrainingParams = TrainingParams(), *, threads: int | None = None
) -> Pipeline:
    """Fit the pipeline on `FEATURES` and `LABEL` of `train_frame`; deterministic for `params.random_state`.

    `threads` caps the OpenMP threads of the boosting (None: the library
    default, all cores). Set it where the cores are shared or CPU-limited:
    OpenMP sizes itself to the host, and oversubscribed spin-waits made a 5k-row
    fit 20x slower on a busy 2-core machine.
    """
    y = _labels(train_frame)
    positives = int(y.sum())
    if min(positives, len(y) - positives) < params.cv:
        raise ValueError(f"need at least {params.cv} claims of each class, got {positives} high-risk of {len(y)}")
    model = build_pipeline(params)
    with threadpool_limits(limits=threads, user_api="openmp"):
        model.fit(train_frame.loc[:, list(FEATURES)], y)
    _check_calibration_keeps_order(model)
    return model


def _check_calibration_keeps_order(model: Pipeline) -> None:
    # The amount guarantee holds only if calibration is increasing in the
    # booster's score; a sigmoid fitted with the wrong sign would reverse it.
    for fold in model.named_steps["classifier"].calibrated_classifiers_:
        for calibrator in fold.calibrators:
            slope = getattr(calibrator, "a_", None)  # sigmoid: p = 1 / (1 + exp(a * score + b))
            if slope is not None and slope >= 0:
                raise ValueError(f"sigmoid calibration is not increasing (a={slope:.3g}); the booster learned nothing")


def predict_proba(model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """P(high_risk) per row of `frame` (only the `FEATURES` columns are read), float64 [rows]."""
    return model.predict_proba(frame)[:, 1]


def needs_review(scores: np.ndarray, review_threshold: float) -> np.ndarray:
    """The routing rule: a score at or above the threshold goes to specialist/fraud review."""
    return np.asarray(scores) >= review_threshold


def expected_calibration_error(y_true: np.ndarray, scores: np.ndarray, *, bins: int = ECE_BINS) -> float:
    """Share-weighted mean |observed rate - mean score| over `bins` equal-width score bins."""
    y_true, scores = np.asarray(y_true, dtype=float), np.asarray(scores, dtype=float)
    index = np.minimum((scores * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = index == b
        if in_bin.any():
            total += in_bin.sum() * abs(y_true[in_bin].mean() - scores[in_bin].mean())
    return float(total / len(scores))


def evaluate(model: Pipeline, holdout: pd.DataFrame, *, review_threshold: float) -> dict[str, float]:
    """Holdout metrics: ranking, calibration, and what the review threshold does to the queue.

    `precision_at_review_threshold` is NaN when no claim reaches the threshold
    (undefined, not zero); a holdout with a single class is an error, since
    ROC and PR AUC would be meaningless.
    """
    y = _labels(holdout)
    if len(y) == 0:
        raise ValueError("holdout is empty")
    if y.min() == y.max():
        raise ValueError(f"holdout has only {LABEL}={y[0]}; ranking metrics need both classes")
    scores = predict_proba(model, holdout)
    return metrics_from_scores(y, scores, review_threshold=review_threshold)


def metrics_from_scores(y: np.ndarray, scores: np.ndarray, *, review_threshold: float) -> dict[str, float]:
    """The `evaluate` metrics for given labels and scores (also used on served scores)."""
    y, scores = np.asarray(y, dtype=int), np.asarray(scores, dtype=float)
    flagged = needs_review(scores, review_threshold)
    true_flagged = int((flagged & (y == 1)).sum())
    return {
        "roc_auc": float(roc_auc_score(y, scores)),
        "pr_auc": float(average_precision_score(y, scores)),
        "brier": float(brier_score_loss(y, scores)),
        "ece": expected_calibration_error(y, scores),
        "recall_at_review_threshold": true_flagged / int(y.sum()),
        "precision_at_review_threshold": true_flagged / int(flagged.sum()) if flagged.any() else float("nan"),
        "review_rate": float(flagged.mean()),
        "positives_rate": float(y.mean()),
        "n": float(len(y)),
    }


Scorer = Callable[[pd.DataFrame], np.ndarray]


def _scorer(model: Pipeline | Scorer) -> Scorer:
    if hasattr(model, "predict_proba"):
        return lambda frame: predict_proba(model, frame)  # type: ignore[arg-type]
    return model  # type: ignore[return-value]


def amount_grid(frame: pd.DataFrame, points: int = 24) -> np.ndarray:
    """Amounts to sweep in the direction check: a log grid over 1 EUR .. 10x the largest seen."""
    observed = pd.to_numeric(frame["estimated_amount_eur"], errors="coerce").dropna()
    top = max(float(observed.max()) * 10 if len(observed) else 0.0, 1e6)
    return np.round(np.geomspace(1.0, top, points), 2)


def reference_claims() -> pd.DataFrame:
    """Two claims whose routing nobody would argue about, for minimum-functionality checks.

    `obvious_high_risk`: a 60,000 EUR theft reported four months late by a new,
    worst-rated policyholder with five prior claims and no photos.
    `obvious_benign`: a 250 EUR windscreen reported the same day by a
    best-rated, long-standing policyholder with four good photos.
    """
    common = {
        "driver_age": 42, "vehicle_age": 6, "vehicle_power": 6, "exposure": 1.0, "area": "C", "vehicle_brand": "B12",
    }
    rows = {
        "obvious_high_risk": {
            "bonus_malus": 200, "prior_claims": 5, "tenure_days": 20, "estimated_amount_eur": 60_000.0,
            "report_delay_days": 120, "photo_count": 0, "photo_quality": np.nan, "loss_type": "theft",
        },
        "obvious_benign": {
            "bonus_malus": 50, "prior_claims": 0, "tenure_days": 2_500, "estimated_amount_eur": 250.0,
            "report_delay_days": 0, "photo_count": 4, "photo_quality": 0.95, "loss_type": "auto_glass",
        },
    }
    frame = pd.DataFrame([{**common, **values} for values in rows.values()], index=list(rows))
    return frame.loc[:, list(FEATURES)]


def behaviour_checks(
    model: Pipeline | Scorer,
    frame: pd.DataFrame,
    *,
    review_threshold: float | None = None,
    sample_rows: int = 200,
    seed: int = 0,
    tolerance: float = 1e-6,
) -> dict[str, bool | float]:
    """Behavioural checks the deployment gate runs on real claims (Made-With-ML style).

    `model` is a fitted pipeline or any scorer `frame -> P(high_risk)` (the
    ONNX session, the Triton client). Direction: on `sample_rows` claims, each
    swept over `amount_grid`, the score never drops as the amount rises (a drop
    above `tolerance` is a violation). Invariance: adding non-feature columns
    (free-text description, ids) and shuffling column order leaves the scores
    unchanged. With a `review_threshold`, minimum functionality too: the
    `reference_claims` land on the right side of it. `passed` is all of them.
    """
    score = _scorer(model)
    sample = frame.sample(n=min(sample_rows, len(frame)), random_state=seed).reset_index(drop=True)
    grid = amount_grid(frame)
    swept = sample.loc[sample.index.repeat(len(grid))].reset_index(drop=True)
    swept["estimated_amount_eur"] = np.tile(grid, len(sample))
    by_row = np.asarray(score(swept), dtype=float).reshape(len(sample), len(grid))
    drops = -np.diff(by_row, axis=1)
    violations = int((drops > tolerance).sum())

    base = np.asarray(score(sample), dtype=float)
    rng = np.random.default_rng(seed)
    wording = rng.choice(["vole sur un parking", "raye par un tiers", "incendie la nuit"], len(sample))
    noisy = sample.assign(
        description=[f"Note {i}: le vehicule a ete {w}." for i, w in enumerate(wording)],
        claim_number=[f"CLM-0000-{i:06d}" for i in rng.permutation(len(sample))],
        free_text_score=rng.random(len(sample)),
    )
    noisy = noisy[list(rng.permutation(noisy.columns))]
    invariance = float(np.max(np.abs(np.asarray(score(noisy), dtype=float) - base), initial=0.0))
    results: dict[str, bool | float] = {
        "rows_checked": float(len(sample)),
        "amount_grid_points": float(len(grid)),
        "monotonic_amount_violations": float(violations),
        "monotonic_amount_max_drop": max(0.0, float(drops.max(initial=0.0))),
        "monotonic_amount_ok": violations == 0,
        "invariance_max_diff": invariance,
        "invariance_ok": invariance <= tolerance,
    }
    passed = violations == 0 and invariance <= tolerance
    if review_threshold is not None:
        high, benign = np.asarray(score(reference_claims()), dtype=float)
        results |= {
            "obvious_high_risk_score": float(high),
            "obvious_benign_score": float(benign),
            "minimum_functionality_ok": bool(high >= review_threshold > benign),
        }
        passed = passed and bool(results["minimum_functionality_ok"])
    results["passed"] = passed
    return results


_CARD_METRICS = (
    ("roc_auc", "ROC AUC", True),
    ("pr_auc", "PR AUC", True),
    ("brier", "Brier score", False),
    ("ece", "Expected calibration error (10 bins)", False),
    ("recall_at_review_threshold", "Recall at review threshold", True),
    ("precision_at_review_threshold", "Precision at review threshold", True),
    ("review_rate", "Review rate", None),
    ("positives_rate", "High-risk rate", None),
    ("n", "Holdout claims", None),
)


def _defined(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _fmt(value: float | None, key: str) -> str:
    if not _defined(value):
        return "n/a"
    return f"{int(value):,}" if key == "n" else f"{value:.4f}"


def _percent(value: float | None) -> str:
    if not _defined(value):
        return "n/a"
    return f"{100 * value:.1f}%"


def model_card(
    metrics: Mapping[str, float],
    params: TrainingParams,
    dataset_digest: str,
    *,
    champion_metrics: Mapping[str, float] | None = None,
) -> str:
    """A short Markdown model card for the MLflow run and the approver."""
    header = "| metric | candidate |" + (" champion | better? |" if champion_metrics else "")
    rule = "|---|---|" + ("---|---|" if champion_metrics else "")
    rows = []
    for key, label, higher_is_better in _CARD_METRICS:
        row = f"| {label} | {_fmt(metrics.get(key), key)} |"
        if champion_metrics:
            ours, theirs = metrics.get(key), champion_metrics.get(key)
            verdict = ""
            if higher_is_better is not None and _defined(ours) and _defined(theirs):
                verdict = "yes" if (ours >= theirs if higher_is_better else ours <= theirs) else "no"
            row += f" {_fmt(theirs, key)} | {verdict} |"
        rows.append(row)
    numeric = ", ".join(f"`{c}`" for c in NUMERIC_FEATURES)
    categorical = ", ".join(f"`{c}`" for c in CATEGORICAL_FEATURES)
    settings = ", ".join(f"`{k}={v}`" for k, v in params.as_dict().items())
    review_rate, recall = metrics.get("review_rate"), metrics.get("recall_at_review_threshold")
    sections = {
        "Intended use": (
            f"Scores each motor claim with P({LABEL}): the probability that it needs a specialist or "
            "fraud review. Claims at or above the review threshold go to a person; the score never "
            "rejects, settles or prices a claim by itself, and reviewers can overrule it."
        ),
        "Model": (
            f"Gradient-boosted trees (scikit-learn HistGradientBoosting), {params.calibration} calibration "
            f"over {params.cv} folds, served as ONNX. `estimated_amount_eur` is constrained monotonic: a "
            f"larger amount never lowers the score. Parameters: {settings}."
        ),
        "Data": (
            f"Training set digest `{dataset_digest}`. The holdout is the latest claims by `{TIME_COLUMN}`, "
            f"never a random split. Numeric features: {numeric}. Categorical features: {categorical} "
            "(one-hot over fixed vocabularies; an unknown value encodes as none of them)."
        ),
        "Holdout metrics": "\n".join([header, rule, *rows]),
        "Thresholds": (
            f"Review threshold {params.review_threshold:.2f}: a score at or above it goes to review. On the "
            f"holdout that sends {_percent(review_rate)} of claims to review and catches {_percent(recall)} "
            "of the high-risk ones."
        ),
        "Limits": (
            "- Learned from past review decisions: it inherits their blind spots and cannot see fraud that "
            "was never reviewed.\n"
            "- Amounts, delays and photo quality come from e-mail extraction; a wrong extraction gives a "
            "wrong score.\n"
            "- Calibration holds for the period trained on; drift checks gate every new version."
        ),
        "Fairness": (
            "No protected attribute (sex, ethnicity, nationality, religion, health) is a feature, and none is "
            "derived from the free-text description, which the model never reads. `driver_age` is used: it is "
            "a standard motor rating factor, not a neutral one, so review rates by age band are worth "
            "monitoring. `area` and `vehicle_brand` can act as proxies for where and how people live."
        ),
    }
    body = "\n\n".join(f"## {title}\n{text}" for title, text in sections.items())
    return f"# Claim risk model\n\n{body}\n"
