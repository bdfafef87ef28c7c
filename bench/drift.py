"""Drift gate at scale: `detect_drift` against Evidently's `DataDriftPreset` on the full data.

1M reference x 1M current rows x 20 feature columns (14 numeric, 6 categorical; some
drifted, some stable, some within 15% of the 0.1 threshold, with missing values and
unseen categories). Baseline, same process, same data: Evidently 0.7 `DataDriftPreset`
on the full frames (default per-column tests). Goals: gate wall time (profile fitted
beforehand, as at training time) <= 0.1 x Evidently's, per-column verdict agreement
with Evidently >= 95%. Peak memory is tracemalloc's peak during fit and detect (numpy
reports its buffers to it), and the process's max RSS before Evidently runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitoring.drift import (
    ReferenceProfile,
    detect_drift,
    evidently_report,
    evidently_verdict,
)

BENCH_SEED = 515151  # never used by a test
GOAL_RATIO = 0.1
GOAL_AGREEMENT = 0.95
BORDERLINE = 0.15  # Evidently's statistic within 15% of its threshold


def _choice(rng: np.random.Generator, values: list, p: list[float], n: int) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=p / p.sum())]


def _with_missing(rng: np.random.Generator, x: np.ndarray, share: float) -> np.ndarray:
    x = x.astype(object if x.dtype == object else float)
    x[rng.random(len(x)) < share] = None if x.dtype == object else np.nan
    return x


def make_frames(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str], dict[str, str]]:
    """Reference and current frames; `design` says what was done to each column."""
    rng = np.random.default_rng(seed)
    ref: dict[str, np.ndarray] = {}
    cur: dict[str, np.ndarray] = {}
    design: dict[str, str] = {}

    def num(name: str, what: str, make) -> None:
        ref[name], cur[name] = make(False), make(True)
        design[name] = what

    num("bonus_malus", "stable", lambda c: np.clip(50 + rng.gamma(1.2, 20, n), 50, 350).round())
    num("driver_age", "shift +0.097 sd (borderline)",
        lambda c: np.clip(rng.normal(45 + 0.097 * 14 * c, 14, n), 18, 95).round())
    num("vehicle_age", "shift +2 years", lambda c: np.clip(rng.normal(7 + 2 * c, 4, n), 0, 30).round())
    num("vehicle_power", "stable, 12 values", lambda c: rng.integers(4, 16, n).astype(float))
    num("exposure", "spread x1.25 (borderline)",
        lambda c: np.clip(rng.normal(0.5, 0.2 * (1.25 if c else 1), n), 0.01, 1.0))
    num("prior_claims", "5 values, mix change (JS)",
        lambda c: _choice(rng, [0, 1, 2, 3, 4], [50, 25, 12, 8, 5] if c else [70, 18, 7, 3, 2], n).astype(float))
    num("tenure_days", "stable", lambda c: rng.integers(0, 3650, n).astype(float))
    num("estimated_amount_eur", "log-normal, median +9%, 1% missing (borderline)",
        lambda c: _with_missing(rng, rng.lognormal(7.5 + 0.09 * c, 0.9, n).round(2), 0.01))
    num("report_delay_days", "mean 6 -> 6.55 days (borderline)",
        lambda c: rng.geometric(1 / (6.55 if c else 6.0), n).astype(float) - 1)
    num("photo_count", "5 values, stable (JS)",
        lambda c: _choice(rng, [0, 1, 2, 3, 4], [10, 30, 30, 20, 10], n).astype(float))
    num("photo_quality", "beta, 30% -> 45% missing, slight shift",
        lambda c: _with_missing(rng, rng.beta(5 + 0.4 * c, 2, n), 0.45 if c else 0.30))
    num("vehicle_value_eur", "log-normal, stable", lambda c: rng.lognormal(9.6, 0.5, n).round(-1))
    num("claim_hour", "24 values, night-time surge",
        lambda c: np.where(rng.random(n) < (0.25 if c else 0.05), rng.integers(0, 6, n), rng.integers(7, 22, n))
        .astype(float))
    num("repair_shop_distance_km", "gamma, shift +0.1 sd (on the line)",
        lambda c: rng.gamma(2.0, 6.0, n) + 0.1 * np.sqrt(2.0) * 6.0 * c)
    numeric = list(ref)

    def cat(name: str, what: str, values: list, p_ref: list[float], p_cur: list[float], missing: float = 0.0) -> None:
        ref[name] = _with_missing(rng, _choice(rng, values, p_ref, n), missing)
        cur[name] = _with_missing(rng, _choice(rng, values, p_cur, n), missing)
        design[name] = what

    cat("area", "6 levels, stable", list("ABCDEF"), [15, 11, 28, 22, 5, 19], [15, 11, 28, 22, 5, 19])
    brands = ["B1", "B2", "B3", "B4", "B5", "B6", "B10", "B11", "B12", "B13", "B14"]
    p_brand = [24, 23, 8, 4, 5, 4, 3, 2, 24, 2, 1]
    cat("vehicle_brand", "B12 share 24% -> 43% (borderline)", brands, p_brand,
        [24, 23, 8, 4, 5, 4, 3, 2, 43, 2, 1])
    losses = ["auto_collision", "auto_glass", "theft", "fire", "water_damage", "storm", "liability", "other"]
    cat("loss_type", "hail storm: storm 5% -> 30%, 2% missing", losses, [40, 15, 8, 3, 12, 5, 10, 7],
        [30, 12, 6, 2, 9, 30, 6, 5], missing=0.02)
    cat("fuel_type", "2 levels, stable", ["Diesel", "Regular"], [49, 51], [50, 50])
    channels = ["agent", "broker", "online", "bank", "comparison_site"]
    cat("sales_channel", "new channel unseen in training (6%)", channels, [40, 25, 25, 10, 0], [37, 24, 24, 9, 6])
    regions = [f"R{i:02d}" for i in range(22)]
    p_region = list(rng.dirichlet(np.full(22, 3.0)))
    cat("region", "22 levels, slight noise", regions, p_region, list(np.asarray(p_region) * rng.uniform(0.9, 1.1, 22)))
    categorical = [c for c in ref if c not in numeric]
    return pd.DataFrame(ref), pd.DataFrame(cur), numeric, categorical, design


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows per side (default 1M)")
    ap.add_argument("--seed", type=int, default=BENCH_SEED)
    ap.add_argument("--bins", type=int, default=None, help="profile bins (default: the module's)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    reference, current, numeric, categorical, design = make_frames(args.rows, args.seed)
    print(f"data: {len(reference):,} reference x {len(current):,} current rows, {len(numeric)} numeric + "
          f"{len(categorical)} categorical columns (generated in {time.perf_counter() - t0:.1f} s)")
    fit_kw = {"bins": args.bins} if args.bins else {}

    t0 = time.perf_counter()
    profile = ReferenceProfile.fit(reference, numeric, categorical, **fit_kw)
    fit_s = time.perf_counter() - t0
    detect_runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        ours = detect_drift(profile, current)
        detect_runs.append(time.perf_counter() - t0)
    detect_s = min(detect_runs)

    tracemalloc.start()
    ReferenceProfile.fit(reference, numeric, categorical, **fit_kw)
    fit_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    detect_drift(profile, current)
    detect_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print("running Evidently DataDriftPreset on the full data (this is the slow part)...", flush=True)
    import evidently.presets  # noqa: F401  (import time, ~4 s, is not Evidently's per-run cost)

    t0 = time.perf_counter()
    theirs = evidently_verdict(reference, current, numeric=numeric, categorical=categorical)
    evidently_s = time.perf_counter() - t0
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        page = evidently_report(reference, current, Path(tmp) / "drift.html", numeric=numeric,
                                categorical=categorical, verdict=ours)
        report_s = time.perf_counter() - t0
        report_kib = page.stat().st_size / 1024

    ev = {c.column: c for c in theirs.columns}
    agree = 0
    borderline = 0
    print()
    print(f"{'column':<24} {'design':<48} {'method':<13} {'evidently':>10} {'gate':>10} {'abs diff':>9} "
          f"{'ev':>6} {'gate':>6}  agree")
    for c in ours.columns:
        e = ev[c.column]
        same = e.drifted == c.drifted and e.method == c.method
        agree += same
        near = abs(e.statistic - e.threshold) <= BORDERLINE * e.threshold
        borderline += near
        print(f"{c.column:<24} {design[c.column][:48]:<48} {c.method:<13} {e.statistic:10.6f} {c.statistic:10.6f} "
              f"{abs(e.statistic - c.statistic):9.1e} {'DRIFT' if e.drifted else 'ok':>6} "
              f"{'DRIFT' if c.drifted else 'ok':>6}  {'yes' if same else 'NO'}{'  (borderline)' if near else ''}")
    n = len(ours.columns)
    agreement = agree / n
    ratio = detect_s / evidently_s
    ratio_fit = (fit_s + detect_s) / evidently_s
    print()
    print(f"dataset drift: Evidently {theirs.dataset_drifted} (share {theirs.share_drifted:.2f}), "
          f"gate {ours.dataset_drifted} (share {ours.share_drifted:.2f})")
    print(f"Evidently DataDriftPreset, full data:  {evidently_s:8.2f} s")
    print(f"gate detect_drift (best of 3):        {detect_s:8.3f} s   runs {', '.join(f'{r:.3f}' for r in detect_runs)}")
    print(f"gate ReferenceProfile.fit (once):      {fit_s:8.3f} s   bins {profile.bins}")
    print(f"RATIO detect / Evidently:              {ratio:8.4f}   goal <= {GOAL_RATIO}  "
          f"{'PASS' if ratio <= GOAL_RATIO else 'FAIL'}")
    print(f"ratio (fit + detect) / Evidently:      {ratio_fit:8.4f}")
    print(f"AGREEMENT per-column verdicts:         {agreement:8.1%}   ({agree}/{n}, {borderline} borderline)  goal >= "
          f"{GOAL_AGREEMENT:.0%}  {'PASS' if agreement >= GOAL_AGREEMENT else 'FAIL'}")
    print(f"peak traced memory: fit {fit_peak / 2**20:.0f} MiB, detect {detect_peak / 2**20:.0f} MiB; "
          f"process max RSS before Evidently {rss_before:.0f} MiB (data included), after {rss_after:.0f} MiB")
    profile_kib = len(json.dumps(profile.to_dict())) / 1024
    print(f"profile size as JSON: {profile_kib:.0f} KiB")
    print(f"evidently_report (HTML, 50k-row samples): {report_s:.1f} s, {report_kib:.0f} KiB  goal < ~20 s")
    return 0 if ratio <= GOAL_RATIO and agreement >= GOAL_AGREEMENT else 1


if __name__ == "__main__":
    sys.exit(main())
