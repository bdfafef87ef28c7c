"""MLflow lineage overhead as a share of training wall time, against a real tracking server.

Baseline (same run, interleaved): the training itself (fit + holdout evaluation + ONNX conversion
and its parity check), which any training run does. Candidate: the same training with its lineage,
called as the training asset calls it: `models.lineage.begin_candidate` before the fit (run, tags,
git commit, params, dataset with digest and schema, logged model, registered name, on a background
thread); `evaluated` after the evaluation (version, metrics, the input example scored on the
lineage's thread, signature, environment files and model card, sent while the model converts);
`exported` after the conversion (graph and MLmodel stored, logged model READY, while the parity is
checked); `finish` (alias `challenger` and run end, once all of that is stored) on a loopback
MLflow server.

Printed per size, medians of `--repeats` interleaved pairs: the time training waits on MLflow
(`begin`, the `evaluated` and `exported` calls with the card they are given, and `finish`) as a
share of the training it belongs to (goal <= 2%); the end-to-end overhead (trained-with-lineage
wall over training-alone wall, which also charges the background threads to the lineage; noisy on
a shared machine); and the CPU share: CPU seconds of the waited-for part (this thread plus the
MLflow server) over the training's CPU seconds. On a busy machine every request to the server
waits for a core, so the wall share follows the load; the CPU share is what the wall share would
be on an idle one. Peak RSS.

Measured 2026-12-03 on the shared 2-core box, before (694611c) and after (twice), 3 interleaved
pairs each, while other engineers' tests and benches ran (load average printed: 3.4 before, 4.8 and
3.7 after; every training far slower than on a quiet box). Before: 30k wait 0.318 s = 6.0% of 5.2 s
(4.9-6.1%, CPU share 4.4%), 100k 0.438 s = 1.6% (CPU 1.4%). After, first run: 30k 0.192 s = 2.8%
of 7.0 s (2.2-3.0%, CPU share 2.0%), 100k 0.207 s = 0.7% (CPU 0.5%); second run: 30k 0.161 s = 1.6%
of 9.7 s (0.8-2.0%, CPU 1.4%), 100k 0.153 s = 0.65% (CPU 0.5%). Peak RSS 500-508 MiB. The 30k
share meets 2% in the second run only because the load slowed the training; the wait itself,
0.16-0.19 s, is still above the ~90 ms that 2% of a quiet box's 4.5 s allows, while the CPU share
(load-independent) meets it in both. Open: the end-to-end overhead column was -10% (30k) / +1.5%
(100k) before and +75% / +14% and +28% / +22% after. A per-phase A/B at 30k (fit, evaluate,
convert, parity timed apart, 4 pairs at load 5-7) showed phases swinging 0.1-4.6 s with no side
consistently slower, so it may be the load, but it is not ruled out that the work now done during
the conversion (example scoring, the uploads) slows the training. Process-CPU A/B at 30k, 4 pairs,
this code and 694611c's: lineage minus alone +0.9 s (new) and -0.9 s (old), server 0.29-0.37 s
in both, while the identical training alone varied 2.9-4.9 s: too noisy here to settle it.
What changed: the files that do not depend on the graph (input example, serving example,
conda.yaml, python_env.yaml, requirements.txt) and the card are written and sent during the
conversion, the example scored off the training thread; the graph and MLmodel go out and the
logged model turns READY during the parity check; the lineage's worker threads start on its own
thread (each thread started from the training thread cost it 0-27 ms on this box). What is left
after the parity check is one wave of two writes, the alias and the run end (35-400 ms at load 5:
the server's single worker commits them one after the other to SQLite); `begin` adds 10-16 ms
(starting the first worker thread). At 30k on a quiet box (4.5 s training) 2% is 90 ms; those two
writes alone took 80-200 ms (median 119 ms) side by side at load 3, the alias alone 40-80 ms.
Next step, if needed: end the run alongside READY during the parity check (a failed check already
marks it FAILED afterwards), leaving only the alias; not done, since the run would show FINISHED
for the ~0.1-0.3 s the check takes before a rare failure flips it.
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
from models.onnx_export import check_parity, convert_to_onnx  # noqa: E402
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


def _train(frame: pd.DataFrame, params: risk.TrainingParams, lineage=None, digest: str = ""):
    """Fit, evaluate, export and check parity, as the asset does; with a lineage, also the asset's calls to it.

    Returns the model, holdout, metrics, ONNX bytes and the wall and CPU seconds this thread spent in
    those calls (the card and the lineage calls: charged to the wait, not to the training).
    """
    train_part, holdout = risk.split_by_time(frame)
    model = risk.train(train_part, params, threads=1)
    metrics = risk.evaluate(model, holdout, review_threshold=params.review_threshold)
    sample = holdout.sample(min(500, len(holdout)), random_state=0)
    spent = [0.0, 0.0]

    def lineage_call(call, *args, **kwargs):
        t, c = time.perf_counter(), time.thread_time()
        call(*args, **kwargs)
        spent[0] += time.perf_counter() - t
        spent[1] += time.thread_time() - c

    if lineage is not None:  # as the asset does: version, metrics, example and card go out while the model is exported
        lineage_call(lambda: lineage.evaluated({k: v for k, v in metrics.items() if v == v}, model=model,
                                               example=holdout.head(5), model_card=risk.model_card(metrics, params, digest)))  # fmt: skip
    onnx_bytes = convert_to_onnx(model)
    if lineage is not None:  # the graph is stored while its parity is checked
        lineage_call(lineage.exported, onnx_bytes)
    check_parity(model, onnx_bytes, sample)
    return model, holdout, metrics, onnx_bytes, spent


def training_alone(frame: pd.DataFrame) -> tuple[float, float]:
    """Baseline: wall and CPU seconds of the training without any lineage."""
    t0, c0 = time.perf_counter(), time.thread_time()
    _train(frame, risk.TrainingParams())
    return time.perf_counter() - t0, time.thread_time() - c0


def _server_cpu(pid: int) -> float:
    """User + system CPU seconds of the MLflow server (the CLI process and its uvicorn worker)."""
    pids, frontier = [pid], [pid]
    while frontier:
        for task in Path(f"/proc/{frontier.pop()}/task").glob("*/children"):
            kids = [int(k) for k in task.read_text().split()]
            pids += kids
            frontier += kids
    ticks = 0
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def training_with_lineage(frame: pd.DataFrame, tracking_uri: str, server_pid: int) -> dict[str, float]:
    """Timings of a training run with its lineage: training wall and CPU, time waiting on MLflow, and
    the CPU the waited-for part cost (this thread plus the server): on an idle machine that is what
    the wait would be, since the server answers one request at a time on one core."""
    params = risk.TrainingParams()
    digest = frame_digest(frame[[*FEATURES, LABEL]])  # every training run computes it, MLflow or not
    t0, c0, s0 = time.perf_counter(), time.thread_time(), _server_cpu(server_pid)
    lineage = begin_candidate(
        tracking_uri=tracking_uri, experiment="bench_training", params=params.as_dict(), training_frame=frame,
        dataset_digest=digest, trained_by="bench", repo_dir=ROOT, name="bench_claims_risk",
    )  # fmt: skip
    t1, c1 = time.perf_counter(), time.thread_time()
    _, _, metrics, onnx_bytes, (calls_s, calls_cpu_s) = _train(frame, params, lineage, digest)
    t2, c2, s2 = time.perf_counter(), time.thread_time(), _server_cpu(server_pid)
    lineage.finish(metrics={k: v for k, v in metrics.items() if v == v}, onnx_bytes=onnx_bytes)
    t3, c3, s3 = time.perf_counter(), time.thread_time(), _server_cpu(server_pid)
    return {
        "train_s": t2 - t1 - calls_s, "train_cpu_s": c2 - c1 - calls_cpu_s,
        "wait_s": (t1 - t0) + calls_s + (t3 - t2), "wall_s": t3 - t0,
        "wait_cpu_s": (c1 - c0) + calls_cpu_s + (c3 - c2) + (s3 - s2), "background_server_cpu_s": s2 - s0,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[30_000, 100_000, 300_000])
    ap.add_argument("--repeats", type=int, default=3, help="interleaved (baseline, candidate) pairs per size")
    args = ap.parse_args()
    policies = build_policy_table()
    with tempfile.TemporaryDirectory() as tmp, start_tracking_server(Path(tmp), port=free_port(), reuse=False, timeout=600) as srv:
        pid = srv.process.pid
        training_with_lineage(training_frame(policies, 5_000), srv.url, pid)  # warm-up: imports, experiment, name
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; medians of {args.repeats} pairs")
        print(f"{'rows':>8} {'training s':>11} {'waits s':>8} {'share':>7} {'(min-max)':>15} {'alone s':>8} "
              f"{'overhead':>9} {'CPU share':>10}")  # fmt: skip
        for rows in args.rows:
            frame = training_frame(policies, rows)
            runs, alone = [], []
            for i in range(args.repeats):
                # Alternate which goes first, so a load swing does not always land on one side.
                for with_lineage in (False, True) if i % 2 == 0 else (True, False):
                    if with_lineage:
                        runs.append(training_with_lineage(frame, srv.url, pid))
                    else:
                        alone.append(training_alone(frame))
            med = statistics.median
            shares = [r["wait_s"] / r["train_s"] for r in runs]
            overhead = med(r["wall_s"] / a[0] - 1 for r, a in zip(runs, alone))
            # Load-independent: CPU of the waited-for requests (client + server) over the training's CPU.
            cpu_share = med(r["wait_cpu_s"] / a[1] for r, a in zip(runs, alone))
            share = med(shares)
            print(f"{rows:>8} {med(r['train_s'] for r in runs):>11.2f} {med(r['wait_s'] for r in runs):>8.3f} "
                  f"{share:>7.2%} {f'({min(shares):.1%}-{max(shares):.1%})':>15} {med(a[0] for a in alone):>8.2f} "
                  f"{overhead:>+9.1%} {cpu_share:>10.2%}  goal share <= 2%: {'met' if share <= 0.02 else 'MISSED'}"
                  f" (CPU share {'met' if cpu_share <= 0.02 else 'MISSED'}; background server CPU "
                  f"{med(r['background_server_cpu_s'] for r in runs):.2f} s)", flush=True)  # fmt: skip
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
