"""MLflow logging overhead as a share of training wall time, against a real tracking server.

Baseline (same run): the training itself (fit + holdout evaluation + ONNX export with its parity
check), which any training run does. Measured: `models.lineage.log_candidate` (params, metrics,
dataset with digest, ONNX model with signature and input example, model card, registration and
alias) on a loopback MLflow server. Goal: <= 2%. Prints both at several training-set sizes,
plus peak RSS.
"""

from __future__ import annotations

import argparse
import resource
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
from models.lineage import frame_digest, log_candidate  # noqa: E402
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


def one_size(policies, rows: int, tracking_uri: str) -> tuple[float, float]:
    frame = training_frame(policies, rows)
    params = risk.TrainingParams()
    t0 = time.perf_counter()
    train_part, holdout = risk.split_by_time(frame)
    model = risk.train(train_part, params, threads=1)
    metrics = risk.evaluate(model, holdout, review_threshold=params.review_threshold)
    onnx_bytes = to_onnx(model, holdout.sample(min(500, len(holdout)), random_state=0))
    train_s = time.perf_counter() - t0
    digest = frame_digest(frame[[*FEATURES, LABEL]])
    example = holdout.head(5)
    t1 = time.perf_counter()
    log_candidate(
        tracking_uri=tracking_uri, experiment="bench_training", params=params.as_dict(),
        metrics={k: v for k, v in metrics.items() if v == v}, training_frame=frame, dataset_digest=digest,
        onnx_bytes=onnx_bytes, encoded_example=risk.encode_features(example),
        example_scores=risk.predict_proba(model, example), model_card=risk.model_card(metrics, params, digest),
        trained_by="bench", repo_dir=ROOT, name="bench_claims_risk",
    )
    return train_s, time.perf_counter() - t1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[30_000, 100_000, 300_000])
    args = ap.parse_args()
    policies = build_policy_table()
    with tempfile.TemporaryDirectory() as tmp, start_tracking_server(Path(tmp), port=free_port(), reuse=False) as srv:
        one_size(policies, 5_000, srv.url)  # warm-up: imports, first experiment and registered model
        print(f"{'rows':>8} {'training s':>11} {'logging s':>10} {'share':>7}")
        for rows in args.rows:
            train_s, log_s = one_size(policies, rows, srv.url)
            share = log_s / train_s
            print(f"{rows:>8} {train_s:>11.2f} {log_s:>10.2f} {share:>7.1%}  goal <= 2%: {'met' if share <= 0.02 else 'MISSED'}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
