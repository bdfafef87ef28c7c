"""SIGTERM to a long-running command unwinds it: every process group it started is stopped, temp folders removed.

The mechanism `claimflow serve` and `claimflow ui` use, checked by PID on a small stand-in
(`claimflow ui` itself is covered by the inbox-sensor test in tests/integration/test_notebooks.py, marked slow).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

COMMAND = """
import subprocess, sys, tempfile, shutil, time, contextlib
sys.path.insert(0, {root!r})
from orchestration.commands.lifecycle import stop_group, stop_on_signals
work = tempfile.mkdtemp(prefix="claimflow-test-")
child = None
with stop_on_signals():
    try:
        # A server that has a worker of its own, in its own process group (like mlflow or dagster dev).
        child = subprocess.Popen([sys.executable, "-c",
            "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); time.sleep(300)"],
            start_new_session=True)
        print(work, child.pid, flush=True)
        while True:
            time.sleep(0.2)
    except SystemExit:
        pass
    finally:
        stop_group(child)
        shutil.rmtree(work, ignore_errors=True)
"""


def descendants(pid: int) -> set[int]:
    out, todo = set(), [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            todo += [k for k in kids if k not in out]
            out.update(kids)
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sigterm_stops_the_children_their_workers_and_removes_the_temp_folder():
    proc = subprocess.Popen([sys.executable, "-c", COMMAND.format(root=str(ROOT))], stdout=subprocess.PIPE, text=True)
    work, child = proc.stdout.readline().split()
    deadline = time.monotonic() + 30
    while len(descendants(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    started = descendants(proc.pid)
    assert int(child) in started and len(started) >= 2
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    deadline = time.monotonic() + 10
    while any(alive(p) for p in started) and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        assert not [p for p in started if alive(p)] and not os.path.exists(work)
    finally:
        for p in started:
            if alive(p):
                os.kill(p, signal.SIGKILL)
