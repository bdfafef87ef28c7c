"""Live monitoring of the served model, one day at a time: drift, prediction drift, confidence drift, bias.

Pure functions over frames (the assets in `assets/monitoring/live.py` read and write the
stores). The drift test is the training-time gate's (`monitoring/drift.py`, the same tests
and thresholds as Evidently's DataDriftPreset), so a day that would have failed the gate at
training time fails here too.

Bias: for each region (freMTPL `area`) and driver-age band, the share of claims the model
sends towards a person (score at or above the review threshold) is compared with the same
band's share of high-risk outcomes in the training period, both relative to their overall
rate. A band whose live ratio moves outside [0.8, 1.25] of its training ratio fails: the
"four-fifths rule" regulators use for adverse impact, applied to change over time, so a band
that was always riskier is not flagged, but one the model has started to single out is.
A ratio outside the band only fails when it is also statistically clear (a binomial test of
the band's count against what its training ratio predicts, p < 0.01): on a day with few claims
sent to people, a handful of claims moves a ratio a long way by chance. Bands with fewer than
`min_claims` live claims are reported, not judged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from models.features import CATEGORICAL_FEATURES, LABEL, NUMERIC_FEATURES
from monitoring.drift import DriftVerdict, ReferenceProfile, detect_drift

AGE_BANDS = (18, 25, 35, 50, 65, 120)
FOUR_FIFTHS = (0.8, 1.25)
ALPHA = 0.01


@dataclass
class DayVerdict:
    """What one day of live claims says about the served model."""

    day: str
    claims: int
    model_versions: list[str]
    feature_drift: DriftVerdict | None
    prediction_drift: dict
    confidence_drift: dict
    bias: list[dict] = field(default_factory=list)

    @property
    def bias_failed(self) -> list[dict]:
        return [b for b in self.bias if b["verdict"] == "fail"]

    @property
    def alerts(self) -> list[str]:
        """The reasons to tell a risk officer today, in words."""
        out = []
        if self.feature_drift is not None and self.feature_drift.dataset_drifted:
            out.append(f"feature drift: {len(self.feature_drift.drifted_columns)} of "
                       f"{len(self.feature_drift.columns)} features drifted "
                       f"({', '.join(self.feature_drift.drifted_columns)})")
        if self.prediction_drift.get("drifted"):
            out.append(f"prediction drift: risk-score distribution moved "
                       f"({self.prediction_drift['method']} {self.prediction_drift['statistic']:.3f})")
        if self.confidence_drift.get("drifted"):
            out.append(f"extraction-confidence drift ({self.confidence_drift['method']} "
                       f"{self.confidence_drift['statistic']:.3f})")
        for b in self.bias_failed:
            out.append(f"bias: {b['dimension']} {b['band']} sent to people {b['ratio_change']:.2f}x "
                       f"as often relative to others as in training")
        return out

    def summary(self) -> dict:
        return {
            "day": self.day, "claims": self.claims, "model_versions": self.model_versions,
            "feature_drift": self.feature_drift.to_metadata() if self.feature_drift else None,
            "prediction_drift": self.prediction_drift, "confidence_drift": self.confidence_drift,
            "bias_failed": self.bias_failed, "alerts": self.alerts,
        }


def _one_column_drift(reference: pd.Series, current: pd.Series, name: str) -> dict:
    ref, cur = reference.dropna(), current.dropna()
    if ref.empty or cur.empty:
        return {"column": name, "drifted": False, "method": "n/a", "statistic": 0.0,
                "note": "no baseline yet" if ref.empty else "no values today"}
    profile = ReferenceProfile.fit(pd.DataFrame({name: ref.astype(float)}), [name], [])
    verdict = detect_drift(profile, pd.DataFrame({name: cur.astype(float)}))
    col = verdict.columns[0]
    return {"column": name, "drifted": bool(col.drifted), "method": col.method,
            "statistic": float(col.statistic), "reference_rows": int(len(ref)), "current_rows": int(len(cur))}


def age_band(ages: pd.Series) -> pd.Series:
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(AGE_BANDS[:-1], AGE_BANDS[1:])]
    return pd.cut(ages, bins=list(AGE_BANDS), right=False, labels=labels).astype(str)


def bias_table(live: pd.DataFrame, training: pd.DataFrame, *, threshold: float, min_claims: int = 30) -> list[dict]:
    """Per region and age band: live share sent to people vs the training share of high-risk outcomes.

    `live` needs `score`, `area`, `driver_age`; `training` needs `LABEL`, `area`, `driver_age`.
    """
    out: list[dict] = []
    if live.empty or training.empty:
        return out
    live = live.assign(flag=(live["score"] >= threshold).astype(float), age_band=age_band(live["driver_age"]))
    training = training.assign(flag=training[LABEL].astype(float), age_band=age_band(training["driver_age"]))
    live_rate, train_rate = live["flag"].mean(), training["flag"].mean()
    for dimension in ("area", "age_band"):
        lg = live.groupby(dimension)["flag"].agg(["mean", "size"])
        tg = training.groupby(dimension)["flag"].agg(["mean", "size"])
        for band, row in lg.iterrows():
            if band not in tg.index or band in ("nan", "None"):
                continue
            live_ratio = row["mean"] / live_rate if live_rate > 0 else np.nan
            train_ratio = tg.loc[band, "mean"] / train_rate if train_rate > 0 else np.nan
            change = live_ratio / train_ratio if train_ratio and train_ratio > 0 else np.nan
            judged = row["size"] >= min_claims and np.isfinite(change)
            p_value = None
            if judged and not FOUR_FIFTHS[0] <= change <= FOUR_FIFTHS[1]:
                expected = float(np.clip(live_rate * train_ratio, 1e-9, 1 - 1e-9))
                flagged = int(round(row["mean"] * row["size"]))
                p_value = float(binomtest(flagged, int(row["size"]), expected).pvalue)
            verdict = ("fail" if p_value is not None and p_value < ALPHA else "ok") if judged else "too few"
            out.append({"dimension": dimension, "band": str(band), "live_claims": int(row["size"]),
                        "live_share_to_people": round(float(row["mean"]), 4),
                        "training_high_risk_share": round(float(tg.loc[band, "mean"]), 4),
                        "ratio_change": round(float(change), 3) if np.isfinite(change) else None,
                        "p_value": round(p_value, 6) if p_value is not None else None,
                        "verdict": verdict})
    return out


def assess_day(
    day: str,
    today: pd.DataFrame,
    reference: pd.DataFrame,
    earlier_scores: pd.Series,
    earlier_confidence: pd.Series,
    training: pd.DataFrame,
    *,
    review_threshold: float,
    share_threshold: float = 0.5,
    min_claims: int = 30,
) -> DayVerdict:
    """The verdict for one day.

    `today`: claims scored that day with their features, `score`, `model_version`, `min_confidence`;
    `reference`: the champion's reference (the training set's holdout period);
    `earlier_scores`/`earlier_confidence`: the same model version's scores and the extraction
    confidence of claims before this day (the prediction and confidence baselines);
    `training`: the training set with its label, for the bias view.
    """
    feature = None
    if not today.empty and not reference.empty:
        present = [c for c in (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES)
                   if c in today and today[c].notna().any() and reference[c].notna().any()]
        profile = ReferenceProfile.fit(reference, [c for c in NUMERIC_FEATURES if c in present],
                                       [c for c in CATEGORICAL_FEATURES if c in present])
        feature = detect_drift(profile, today, share_threshold=share_threshold)
    return DayVerdict(
        day=day,
        claims=int(len(today)),
        model_versions=sorted(today["model_version"].astype(str).unique().tolist()) if not today.empty else [],
        feature_drift=feature,
        prediction_drift=_one_column_drift(earlier_scores, today.get("score", pd.Series(dtype=float)), "risk_score"),
        confidence_drift=_one_column_drift(earlier_confidence,
                                           today.get("min_confidence", pd.Series(dtype=float)), "min_confidence"),
        bias=bias_table(today, training, threshold=review_threshold, min_claims=min_claims),
    )


def verdict_row(v: DayVerdict, report: str | None) -> dict:
    """One row of `raw.live_monitoring` for the day."""
    fd = v.feature_drift
    return {
        "day": v.day, "claims": v.claims, "model_versions": ",".join(v.model_versions),
        "share_drifted": fd.share_drifted if fd else None,
        "drifted_columns": ",".join(fd.drifted_columns) if fd else "",
        "dataset_drifted": bool(fd.dataset_drifted) if fd else False,
        "prediction_drifted": bool(v.prediction_drift.get("drifted")),
        "confidence_drifted": bool(v.confidence_drift.get("drifted")),
        "bias_failed": len(v.bias_failed),
        "alerts": "\n".join(v.alerts),
        "report": report or "",
    }


__all__ = ["DayVerdict", "assess_day", "bias_table", "age_band", "verdict_row", "asdict"]
