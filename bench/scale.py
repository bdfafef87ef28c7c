"""Mails through the inbox sensor and `dagster-daemon`: a Dagster instance on PostgreSQL with several runs in
flight vs the embedded SQLite instance with one (the local dagster.yaml), in the same process, interleaved.

What runs: the product's `claims_inbox_sensor` (micro-batches of 500, its cursor and back-pressure), the
QueuedRunCoordinator, the DefaultRunLauncher (a process per run), and a lean `claim_emails` op that parses
every mail with the product's MIME parser and commits a receipt to Postgres before marking it processed
(tests/fakes/scale_location.py: the warehouse write is left out because DuckDB takes one writer).
Prints mails/s per mode and their ratio, Dagster's share of the runs' wall time, peak Postgres
connections, mails lost and doubled, the test Postgres start-up time and peak memory.

    .venv/bin/python bench/scale.py --mails 50000 --in-flight 4 --repeats 1
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mails", type=int, default=50_000)
    p.add_argument("--in-flight", type=int, default=4, help="runs in flight on the Postgres instance")
    p.add_argument("--repeats", type=int, default=1, help="alternating sqlite/postgres pairs")
    p.add_argument("--timeout", type=float, default=7200)
    args = p.parse_args()

    from fakes.postgres import start_postgres
    from fakes.scale import run_daemon

    pg = start_postgres(max_connections=200)
    print(f"test Postgres accepting connections after {pg.startup_seconds:.2f} s (initdb + start)")
    results = {"sqlite": [], "postgres": []}
    try:
        for repeat in range(args.repeats):
            order = ("sqlite", "postgres") if repeat % 2 == 0 else ("postgres", "sqlite")
            for mode in order:
                sink = pg.create_database(f"sink_{mode}_{repeat}")
                r = run_daemon(mode=mode, mails=args.mails, sink_url=sink, postgres=pg if mode == "postgres" else None,
                               in_flight=args.in_flight, timeout=args.timeout)  # fmt: skip
                results[mode].append(r)
                print(
                    f"  {mode:<8} {r.mails:>6} mails in {r.wall_seconds:7.1f} s = {r.mails_per_second:6.1f} mails/s; "
                    f"runs {r.runs_succeeded}/{r.runs}, at most {r.max_runs_in_flight} in flight; "
                    f"Dagster share {r.dagster_share:.0%}; lost {r.lost}, doubled {r.doubled}; "
                    f"Postgres connections (peak, instance + sink) {r.max_pg_connections if mode == 'postgres' else '-'}"
                )
    finally:
        pg.stop()

    def best(mode: str):
        return max(results[mode], key=lambda r: r.mails_per_second)

    base, scaled = best("sqlite"), best("postgres")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"\nPostgres instance ({args.in_flight} in flight) vs embedded SQLite (1 in flight): "
        f"{scaled.mails_per_second:.1f} vs {base.mails_per_second:.1f} mails/s = "
        f"{scaled.mails_per_second / base.mails_per_second:.2f}x (goal >= 1.5x)"
    )
    print(f"lost {sum(r.lost for v in results.values() for r in v)}, "
          f"doubled {sum(r.doubled for v in results.values() for r in v)} (goal 0, 0)")  # fmt: skip
    print(f"peak RSS of one child process {peak_mb:.0f} MB")
    lost_or_doubled = any(r.lost or r.doubled for v in results.values() for r in v)
    return 1 if lost_or_doubled else 0


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"bench wall time {time.monotonic() - started:.0f} s")
    sys.exit(code)
