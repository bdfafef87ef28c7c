"""Cost and completeness of claim tracing.

Baseline: the same triage tail (system-of-record write and audit log, as a Dagster run over the
same claims) without `claim_traces`; candidate: with it. Both run on a fresh home each repeat,
interleaved (baseline first on even repeats, candidate first on odd ones), and the median of
repeats is compared. The tail is the cheap end of triage (no dbt, no Triton, no drafting), so
the overhead it shows is an upper bound for the whole triage run.

Completeness: a run that crashes in the system-of-record step a third of the way through, its
re-execution from failure, and a second run; then every claim's trace must hold every step once.
Also reported: one metrics scrape over the same home (the exporter runs out of band).

    .venv/bin/python bench/observability.py --claims 1000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="claimflow-obs-")) / "claimflow"
    home.mkdir(parents=True)
    os.environ["CLAIMFLOW_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    return home


def _run(home: Path, claims: int, traced: bool) -> tuple[float, float]:
    """(wall seconds of the run, seconds in claim_traces)."""
    import dagster as dg

    from tests.fakes.milestones import land_milestones, reconstructable_job

    land_milestones(home, claims)
    os.environ["CLAIMFLOW_TEST_NO_TRACES"] = "0" if traced else "1"
    with dg.instance_for_test() as instance:
        started = time.perf_counter()
        result = dg.execute_job(reconstructable_job(Path(f"{home}-{traced}")), instance, raise_on_error=True)
        wall = time.perf_counter() - started
    traces = sum(e.event_specific_data.duration_ms / 1000 for e in result.all_events
                 if e.event_type_value == "STEP_SUCCESS" and e.step_key == "claim_traces")
    return wall, traces


def _completeness(claims: int) -> tuple[int, int, int]:
    """(claims with a complete trace, claims, spans recorded twice) after crash, re-execution, re-run."""
    import dagster as dg

    from connectors.schema import CLAIM_STEPS
    from connectors.warehouse import Warehouse
    from monitoring import telemetry
    from tests.fakes.milestones import land_milestones, reconstructable_job

    home = _home()
    numbers = land_milestones(home, claims)
    os.environ["CLAIMFLOW_TEST_NO_TRACES"] = "0"
    job = reconstructable_job(home)
    with dg.instance_for_test() as instance:
        os.environ["CLAIMFLOW_TEST_CRASH_AFTER"] = str(claims // 3)
        crashed = dg.execute_job(job, instance, raise_on_error=False)
        assert not crashed.success, "the crash did not happen"
        del os.environ["CLAIMFLOW_TEST_CRASH_AFTER"]
        dg.execute_job(job, instance, raise_on_error=True,
                       reexecution_options=dg.ReexecutionOptions.from_failure(crashed.run_id, instance))
        dg.execute_job(job, instance, raise_on_error=True)
    ledger = Warehouse(home / "warehouse.duckdb").read(f"select claim_number, step, span_id from {CLAIM_STEPS}")
    done = telemetry.completeness(ledger, numbers)
    spans = telemetry.read_spans(home)
    steps = spans[spans["kind"] == "claim_step"]
    return int(done["complete"].sum()), len(numbers), int(steps["span_id"].duplicated().sum())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import logging

    logging.getLogger("dagster").setLevel(logging.WARNING)

    _run(_home(), min(args.claims, 100), True)  # warm-up: imports, definitions, dbt manifest, not timed
    base, cand, traces = [], [], []
    for r in range(args.repeats):
        for traced in ((False, True) if r % 2 == 0 else (True, False)):
            wall, in_traces = _run(_home(), args.claims, traced)
            (cand if traced else base).append(wall)
            if traced:
                traces.append(in_traces)
            print(f"  repeat {r + 1} {'with traces   ' if traced else 'without traces'} {wall:7.2f} s"
                  + (f" (claim_traces {in_traces:.2f} s)" if traced else ""), flush=True)
    b, c, t = statistics.median(base), statistics.median(cand), statistics.median(traces)
    complete, total, doubled = _completeness(args.claims)

    from monitoring.metrics import ClaimflowCollector, exposition

    home = Path(os.environ["CLAIMFLOW_HOME"])
    started = time.perf_counter()
    exposition(ClaimflowCollector(home=home, warehouse_path=home / "warehouse.duckdb",
                                  sor_url=f"sqlite:///{home / 'system_of_record.db'}", inbox_dir=home / "inbox"))
    scrape = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nclaims per run                 {args.claims}")
    print(f"baseline (SoR write + audit)   {b:.2f} s median of {args.repeats}")
    print(f"candidate (+ claim_traces)     {c:.2f} s median of {args.repeats}")
    print(f"ratio candidate / baseline     {c / b:.3f}  (overhead {100 * (c / b - 1):+.1f} %; "
          f"claim_traces step itself {100 * t / b:.1f} % of the baseline; goal <= 3 % of a whole triage run)")
    print(f"trace completeness             {complete}/{total} claims ({100 * complete / total:.1f} %) after a crash "
          f"at {total // 3}, re-execution and a re-run; spans recorded twice: {doubled}")
    print(f"one metrics scrape             {scrape * 1000:.0f} ms")
    print(f"peak RSS                       {peak:.0f} MiB")
    return 0 if complete == total and doubled == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
