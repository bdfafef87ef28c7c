"""Intake throughput: e-mails with photos through `claim_emails` + `parsed_claims` into DuckDB, via Dagster.

Baseline, same files, same process: a bare `email.message_from_bytes` loop (read + parse).
Goal: ratio >= 0.3, peak RSS <= 1 GiB. The mails are generated in a child process first,
so the RSS figure is the intake's own.
"""

from __future__ import annotations

import argparse
import email
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bare_loop(files: list[Path]) -> float:
    t0 = time.perf_counter()
    for f in files:
        email.message_from_bytes(f.read_bytes())
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=99)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        os.environ["CLAIMFLOW_HOME"] = str(home)
        new = home / "inbox" / "new"
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "orchestration.cli", "sample-inbox", "--count", str(args.count), "--seed",
             str(args.seed), "--out", str(new), "--truth", str(Path(tmp) / "truth.jsonl"),
             "--as-of", "2026-10-01T12:00:00+00:00"],
            check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
        )
        files = sorted(p for p in new.iterdir() if p.is_file())
        size = sum(p.stat().st_size for p in files)
        print(f"generated {len(files)} e-mails ({size / 2**20:.0f} MiB) in {time.perf_counter() - t0:.1f} s")

        import dagster as dg

        from assets.claims.assets import claim_emails, parsed_claims_and_quarantine
        from assets.resources import (
            AttachmentStoreResource,
            ClaudeResource,
            InboxResource,
            SystemOfRecordResource,
            WarehouseResource,
        )

        baseline = min(bare_loop(files) for _ in range(2))
        resources = {
            "inbox": InboxResource(root=str(home / "inbox")),
            "attachments": AttachmentStoreResource(root=str(home / "attachments")),
            "warehouse": WarehouseResource(path=str(home / "warehouse.duckdb")),
            "claude": ClaudeResource(api_key_env="CLAIMFLOW_BENCH_NO_KEY"),  # rules only: the bench measures intake
            "system_of_record": SystemOfRecordResource(url=f"sqlite:///{home / 'sor.db'}"),
        }
        t0 = time.perf_counter()
        result = dg.materialize(
            [claim_emails, parsed_claims_and_quarantine], resources=resources, instance=dg.DagsterInstance.ephemeral()
        )
        ours = time.perf_counter() - t0
        assert result.success
        md = result.asset_materializations_for_node("parsed_claims_and_quarantine")[0].metadata
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = len(files)
    print(f"baseline email.message_from_bytes loop: {n / baseline:,.0f} e-mails/s ({baseline:.2f} s)")
    print(f"claimflow intake via Dagster:           {n / ours:,.0f} e-mails/s ({ours:.2f} s), "
          f"{md['claims_total'].value} claims")
    ratio = baseline / ours
    print(f"ratio to baseline: {ratio:.3f} (goal >= 0.3: {'met' if ratio >= 0.3 else 'MISSED'})")
    print(f"peak RSS: {peak:.0f} MiB (goal <= 1024: {'met' if peak <= 1024 else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
