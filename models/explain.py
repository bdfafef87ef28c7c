"""Why a claim scored what it did: each feature's effect on its risk score, in the model's own terms.

For a claim, each feature in turn is set to its typical value among reference claims (median,
or the most common category) with everything else kept; the score's change is that feature's
effect. One batch of `len(features) + 1` rows through the same scorer that served the claim
(the champion's ONNX), so the explanation is of the model that decided, not of a proxy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from models.features import CATEGORICAL_FEATURES, FEATURES


def typical_values(reference: pd.DataFrame, features: tuple[str, ...] = FEATURES) -> dict:
    """Median of each numeric feature and the most common value of each category among `reference`."""
    out = {}
    for f in features:
        column = reference[f].dropna() if f in reference else pd.Series(dtype=object)
        if f in CATEGORICAL_FEATURES:
            out[f] = column.mode().iloc[0] if len(column) else None
        else:
            out[f] = float(column.median()) if len(column) else np.nan
    return out


def contributions(
    score: Callable[[pd.DataFrame], np.ndarray],
    claim: pd.DataFrame,
    typical: dict,
    *,
    features: tuple[str, ...] = FEATURES,
    top: int = 5,
) -> list[dict]:
    """The `top` features by size of effect: feature, the claim's value, the typical value, effect on the score."""
    if len(claim) != 1:
        raise ValueError("explain one claim at a time")
    rows = [claim]
    for f in features:
        changed = claim.copy()
        changed[f] = typical.get(f)
        rows.append(changed)
    scores = np.asarray(score(pd.concat(rows, ignore_index=True)), dtype=float)
    effects = [
        {"feature": f, "value": claim[f].iloc[0], "typical": typical.get(f), "effect": float(scores[0] - scores[i + 1])}
        for i, f in enumerate(features)
    ]
    return sorted(effects, key=lambda e: -abs(e["effect"]))[:top]
