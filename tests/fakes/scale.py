"""Drive `dagster-daemon` over an inbox: the sensor requests micro-batches, the run queue launches them.

Shared by tests/integration/test_dagster_postgres.py and bench/scale.py. One call = one daemon on a
fresh DAGSTER_HOME (Postgres instance or the embedded SQLite one), stopped by PID at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCATION = Path(__file__).with_name("scale_location.py")
LOCAL_YAML = ROOT / "deploy" / "dagster.local.yaml"
POSTGRES_YAML = ROOT / "deploy" / "dagster.postgres.yaml"


@dataclass
class ScaleResult:
    mode: str
    mails: int
    in_flight: int
    wall_seconds: float
    runs: int
    runs_succeeded: int
    max_runs_in_flight: int
    receipts: int
    doubled: int
    compute_seconds: float
    run_seconds: float
    max_pg_connections: int
    extra: dict = field(default_factory=dict)

    @property
    def mails_per_second(self) -> float:
        return self.mails / self.wall_seconds

    @property
    def lost(self) -> int:
        return self.mails - self.receipts

    @property
    def dagster_share(self) -> float:
        """Share of the runs' wall time not spent in the op body (launch, imports, events, storage)."""
        return 1 - self.compute_seconds / self.run_seconds if self.run_seconds else 0.0


def sample_mail(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"client{i}@example.fr"
    msg["To"] = "sinistres@assureur.example"
    msg["Subject"] = f"Sinistre CLM-2026-{i:06d} - police POL-{i % 9_999_999:07d}"
    msg["Message-ID"] = f"<scale-{i}@example.fr>"
    msg.set_content(
        f"Bonjour,\n\nJe déclare un sinistre (dossier CLM-2026-{i:06d}) survenu le {1 + i % 28:02d}/03/2026 :\n"
        f"choc arrière sur parking, montant estimé {200 + i % 5000},00 EUR.\n\nCordialement,\nClient {i}\n"
    )
    return msg.as_bytes()


def fill_inbox(root: Path, n: int) -> None:
    from connectors.inbox import MaildirInbox

    inbox = MaildirInbox(root)
    inbox.ensure()
    for i in range(n):
        inbox.deliver(sample_mail(i))


def _bin(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    return str(exe) if exe.exists() else name


def run_daemon(
    *,
    mode: str,
    mails: int,
    sink_url: str,
    postgres=None,
    in_flight: int = 4,
    timeout: float = 900,
) -> ScaleResult:
    """`mode` is "postgres" (instance on `postgres`, `in_flight` runs) or "sqlite" (the embedded default)."""
    from fakes.scale_location import create_sink, sink_counts

    work = Path(tempfile.mkdtemp(prefix=f"claimflow-scale-{mode}-"))
    home, inbox = work / "dagster", work / "inbox"
    home.mkdir()
    fill_inbox(inbox, mails)
    create_sink(sink_url)
    env = {
        **os.environ, "DAGSTER_HOME": str(home), "CLAIMFLOW_INBOX_DIR": str(inbox),
        "CLAIMFLOW_SCALE_SINK_URL": sink_url,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
    }  # fmt: skip
    if mode == "postgres":
        env["CLAIMFLOW_DAGSTER_PG_URL"] = postgres.create_database(f"dagster_{os.getpid()}_{time.time_ns() % 10**8}")
        env["CLAIMFLOW_MAX_CONCURRENT_RUNS"] = str(in_flight)
        (home / "dagster.yaml").write_text(POSTGRES_YAML.read_text())
    else:
        text = LOCAL_YAML.read_text()
        # The embedded default's own file, with the same dequeue interval as the Postgres one (fair timing).
        text = text.replace("    max_concurrent_runs:", "    dequeue_interval_seconds: 1\n    max_concurrent_runs:")
        (home / "dagster.yaml").write_text(text)
    workspace = work / "workspace.yaml"
    workspace.write_text(
        f"load_from:\n  - python_file:\n      relative_path: {LOCATION}\n      working_directory: {ROOT}\n"
        f"      location_name: claimflow_scale\n"
    )
    subprocess.run(
        [_bin("dagster"), "sensor", "start", "claims_inbox_sensor", "-w", str(workspace)],
        env=env, check=True, capture_output=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    log = open(work / "daemon.log", "ab")  # noqa: SIM115
    started = time.monotonic()
    daemon = subprocess.Popen(
        [_bin("dagster-daemon"), "run", "-w", str(workspace)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
    )  # fmt: skip
    peak = {"pg": 0, "in_flight": 0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            with contextlib.suppress(Exception):
                if postgres is not None:
                    peak["pg"] = max(peak["pg"], postgres.connection_count())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        deadline = started + timeout
        while True:
            if daemon.poll() is not None:
                raise RuntimeError(f"dagster-daemon exited: {(work / 'daemon.log').read_text()[-3000:]}")
            if sink_counts(sink_url)["receipts"] >= mails:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{sink_counts(sink_url)} after {timeout:.0f} s; see {work / 'daemon.log'}")
            time.sleep(0.25)
        wall = time.monotonic() - started
        stats = _run_stats(home, env)
        deadline = time.monotonic() + 120
        while stats["unfinished"] and time.monotonic() < deadline:  # let the last runs record their end
            time.sleep(0.5)
            stats = _run_stats(home, env)
    finally:
        stop.set()
        _stop(daemon)
        log.close()
    counts = sink_counts(sink_url)
    return ScaleResult(
        mode=mode, mails=mails, in_flight=in_flight if mode == "postgres" else 1, wall_seconds=wall,
        runs=stats["runs"], runs_succeeded=stats["succeeded"], max_runs_in_flight=stats["max_in_flight"],
        receipts=counts["receipts"], doubled=counts["doubled"], compute_seconds=counts["compute_seconds"],
        run_seconds=stats["run_seconds"], max_pg_connections=peak["pg"], extra={"work": str(work)},
    )  # fmt: skip


def _run_stats(home: Path, env: dict) -> dict:
    """Runs, successes, summed run wall time and the most runs that overlapped, from the instance."""
    code = (
        "import json, dagster as dg\n"
        "inst = dg.DagsterInstance.get()\n"
        "recs = inst.get_run_records()\n"
        "out = [[r.dagster_run.status.value, r.start_time, r.end_time] for r in recs]\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(check=False, args=[sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    import json

    records = json.loads(proc.stdout.strip().splitlines()[-1])
    spans = [(s, e) for _, s, e in records if s and e]
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = best = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return {
        "runs": len(records),
        "succeeded": sum(status == "SUCCESS" for status, _, _ in records),
        "unfinished": sum(status in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED") for status, _, _ in records),
        "run_seconds": sum(e - s for s, e in spans),
        "max_in_flight": best,
    }


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):  # runs the daemon launched are in its process group
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
