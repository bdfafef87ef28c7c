"""MLflow lineage overhead as a share of training wall time, against a real tracking server.

Baseline (same run, interleaved): the training itself (fit + holdout evaluation + ONNX export
with its parity check), which any training run does. Candidate: the same training with its
lineage (`models.lineage.begin_candidate` before the fit: run, tags, git commit, params, dataset
with digest and schema, logged model, registered name, on a background thread;
`CandidateLineage.finish` after it: ONNX model with signature and input example, metrics,
model card, registered version and alias) on a loopback MLflow server.

Printed per size, medians of `--repeats` interleaved pairs: the time training waits on MLflow
(`begin` + `finish`) as a share of the training it belongs to (goal <= 2%), and the end-to-end
overhead (trained-with-lineage wall minus training-alone wall, which also charges the background
thread's CPU to the lineage; noisy on a shared machine, so read it with the spread). Peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from connectors.samples.history import generate_claims_history  # noqa: E402
from connectors.samples.policies import build_policy_table  # noqa: E402
from models import risk  # noqa: E402
from models.features import FEATURES, LABEL  # noqa: E402
from models.lineage import begin_candidate, frame_digest  # noqa: E402
from models.onnx_export import to_onnx  # noqa: E402
from models.tracking import free_port, start_tracking_server  # noqa: E402


def training_frame(policies: pd.DataFrame, rows: int) -> pd.DataFrame:
    """The training set as dbt builds it: history joined with the policy attributes."""
    history = generate_claims_history(policies, n=rows, seed=7, start=date(2023, 1, 1), end=date(2026, 6, 30))
    pol = policies.set_index("policy_number")
    frame = history.join(pol[["bonus_malus", "driver_age", "vehicle_age", "vehicle_power", "exposure", "area",
                              "vehicle_brand", "start_date"]], on="policy_number")
    frame["tenure_days"] = (pd.to_datetime(frame["incident_date"]) - pd.to_datetime(frame["start_date"])).dt.days
    frame[LABEL] = frame[LABEL].astype(int)
    frame["incident_date"] = pd.to_datetime(frame["incident_date"])
    return frame


def _train(frame: pd.DataFrame, params: risk.TrainingParams):
    train_part, holdout = risk.split_by_time(frame)
    model = risk.train(train_part, params, threads=1)
    metrics = risk.evaluate(model, holdout, review_threshold=params.review_threshold)
    onnx_bytes = to_onnx(model, holdout.sample(min(500, len(holdout)), random_state=0))
    return model, holdout, metrics, onnx_bytes


def training_alone(frame: pd.DataFrame) -> float:
    """Baseline: wall seconds of the training without any lineage."""
    t0 = time.perf_counter()
    _train(frame, risk.TrainingParams())
    return time.perf_counter() - t0


def training_with_lineage(frame: pd.DataFrame, tracking_uri: str) -> tuple[float, float, float]:
    """(training wall s, time spent waiting on MLflow s, whole wall s) of a training run with its lineage."""
    params = risk.TrainingParams()
    digest = frame_digest(frame[[*FEATURES, LABEL]])  # every training run computes it, MLflow or not
    t0 = time.perf_counter()
    lineage = begin_candidate(
        tracking_uri=tracking_uri, experiment="bench_training", params=params.as_dict(), training_frame=frame,
        dataset_digest=digest, trained_by="bench", repo_dir=ROOT, name="bench_claims_risk",
    )  # fmt: skip
    t1 = time.perf_counter()
    model, holdout, metrics, onnx_bytes = _train(frame, params)
    example = holdout.head(5)
    card = risk.model_card(metrics, params, digest)
    t2 = time.perf_counter()
    lineage.finish(
        metrics={k: v for k, v in metrics.items() if v == v}, onnx_bytes=onnx_bytes,
        encoded_example=risk.encode_features(example), example_scores=risk.predict_proba(model, example),
        model_card=card,
    )  # fmt: skip
    t3 = time.perf_counter()
    return t2 - t1, (t1 - t0) + (t3 - t2), t3 - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[30_000, 100_000, 300_000])
    ap.add_argument("--repeats", type=int, default=3, help="interleaved (baseline, candidate) pairs per size")
    args = ap.parse_args()
    policies = build_policy_table()
    with tempfile.TemporaryDirectory() as tmp, start_tracking_server(Path(tmp), port=free_port(), reuse=False) as srv:
        training_with_lineage(training_frame(policies, 5_000), srv.url)  # warm-up: imports, experiment, model name
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; medians of {args.repeats} pairs")
        print(f"{'rows':>8} {'training s':>11} {'waits s':>8} {'share':>7} {'(min-max)':>13} "
              f"{'alone s':>8} {'overhead':>9}")  # fmt: skip
        for rows in args.rows:
            frame = training_frame(policies, rows)
            shares, waits, trains, alone, overheads = [], [], [], [], []
            for i in range(args.repeats):
                # Alternate which goes first, so a load swing does not always land on one side.
                order = (False, True) if i % 2 == 0 else (True, False)
                for with_lineage in order:
                    if with_lineage:
                        train_s, wait_s, wall_s = training_with_lineage(frame, srv.url)
                        trains.append(train_s), waits.append(wait_s), shares.append(wait_s / train_s)
                        candidate_wall = wall_s
                    else:
                        base = training_alone(frame)
                        alone.append(base)
                overheads.append(candidate_wall / alone[-1] - 1)
            share = statistics.median(shares)
            print(f"{rows:>8} {statistics.median(trains):>11.2f} {statistics.median(waits):>8.3f} {share:>7.2%} "
                  f"{f'({min(shares):.1%}-{max(shares):.1%})':>13} {statistics.median(alone):>8.2f} "
                  f"{statistics.median(overheads):>+9.1%}  goal share <= 2%: {'met' if share <= 0.02 else 'MISSED'}",
                  flush=True)  # fmt: skip
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
