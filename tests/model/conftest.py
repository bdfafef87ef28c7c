"""Synthetic claims with a known risk structure, and one model trained on them per session.

Until the claims-history generator lands, the label here is a logistic of the
drivers a claims handler would name: amount, reporting delay, prior claims,
missing or poor photos, bonus-malus, a short tenure, theft and fire.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from models import onnx_export, risk
from models.contracts import LOSS_TYPES
from models.features import LABEL

_LOSS_WEIGHTS = (0.35, 0.2, 0.07, 0.03, 0.1, 0.08, 0.12, 0.05)
_TYPICAL_AMOUNT = {
    "auto_glass": 600, "theft": 8_000, "fire": 9_000, "liability": 4_000, "water_damage": 3_000, "other": 1_500,
}
_LOSS_RISK = {"theft": 1.2, "fire": 0.8, "auto_glass": -1.0}


def synthetic_claims(n: int = 5_000, *, seed: int = 0) -> pd.DataFrame:
    """`n` claims over 2023-2025 with every feature, an id, a date, a free-text description and the label."""
    rng = np.random.default_rng(seed)
    loss = rng.choice(LOSS_TYPES, n, p=_LOSS_WEIGHTS)
    typical = np.array([_TYPICAL_AMOUNT.get(t, 2_500) for t in loss], dtype=float)
    amount = np.round(typical * rng.lognormal(0.0, 0.8, n), 2)
    photo_count = rng.poisson(2.2, n)
    photo_quality = np.where((photo_count > 0) & (rng.random(n) > 0.3), rng.beta(4, 2, n), np.nan)
    frame = pd.DataFrame({
        "claim_number": [f"CLM-2024-{i:06d}" for i in rng.permutation(n)],
        "incident_date": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365, n), unit="D"),
        "bonus_malus": np.clip(50 + rng.gamma(1.0, 15.0, n), 50, 230).round().astype(int),
        "driver_age": rng.integers(18, 90, n),
        "vehicle_age": rng.integers(0, 25, n),
        "vehicle_power": rng.integers(4, 15, n),
        "exposure": rng.uniform(0.05, 1.0, n).round(2),
        "prior_claims": rng.poisson(0.4, n),
        "tenure_days": rng.integers(1, 3_000, n),
        "estimated_amount_eur": amount,
        "report_delay_days": np.minimum(rng.exponential(5.0, n).round(), 365).astype(int),
        "photo_count": photo_count,
        "photo_quality": photo_quality,
        "area": rng.choice(list("ABCDEF"), n),
        "vehicle_brand": rng.choice(risk.DEFAULT_VOCABULARIES["vehicle_brand"], n),
        "loss_type": loss,
        "description": rng.choice(["Accrochage sur parking", "Pare-brise fissure", "Vehicule vole la nuit"], n),
    })
    logit = (
        -3.0
        + np.log(amount / 2_500)
        + 0.06 * frame["report_delay_days"]
        + 0.7 * frame["prior_claims"]
        + 0.9 * (photo_count == 0)
        + 1.5 * (0.6 - np.nan_to_num(photo_quality, nan=0.4))
        + 0.015 * (frame["bonus_malus"] - 50)
        - 0.0003 * frame["tenure_days"]
        + np.array([_LOSS_RISK.get(t, 0.0) for t in loss])
    )
    frame[LABEL] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


@pytest.fixture(scope="session", autouse=True)
def _one_openmp_thread() -> Iterator[None]:
    # Other suites share two cores; oversubscribed OpenMP spin-waits made fits 20x slower.
    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="session")
def claims() -> pd.DataFrame:
    return synthetic_claims(5_000, seed=7)


@pytest.fixture(scope="session")
def split(claims: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return risk.split_by_time(claims)


@pytest.fixture(scope="session")
def params() -> risk.TrainingParams:
    return risk.TrainingParams()


@pytest.fixture(scope="session")
def model(split: tuple[pd.DataFrame, pd.DataFrame], params: risk.TrainingParams):
    train_frame, _ = split
    return risk.train(train_frame, params)


@pytest.fixture(scope="session")
def holdout(split: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return split[1]


@pytest.fixture(scope="session")
def onnx_model(model, holdout: pd.DataFrame) -> bytes:
    return onnx_export.to_onnx(model, holdout.head(300))
