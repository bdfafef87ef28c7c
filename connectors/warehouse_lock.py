"""One Claimflow run at a time on the embedded DuckDB warehouse, whoever launched it.

DuckDB lets one process at a time open a database file for writing; a second one fails with
"Could not set lock". Every run takes this lock (an fcntl lock on `warehouse.lock` beside the
file) for its whole duration, in the warehouse resource's set-up: runs from the CLI, from the
Dagster daemon (sensors, schedules) and from the UI queue for the warehouse instead of failing.

The lock is re-entrant within the thread that holds it (the CLI takes it before it executes a
run in process, whose resource then finds it held) and counts as held for that process's
children (the step processes of a multiprocess executor), so nothing waits for itself. Another
thread of the same process waits like any other process.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

LOCK_NAME = "warehouse.lock"


class WarehouseBusy(RuntimeError):
    """The warehouse stayed locked by another run past the wait: one line naming the holder and the lock."""


def lock_path(warehouse: Path | str) -> Path:
    """The lock file of the warehouse file `warehouse` (beside it)."""
    return Path(warehouse).parent / LOCK_NAME


_local = threading.local()  # .held: lock file -> depth, for the locks this thread holds


def holder(path: Path | str) -> dict:
    """Who holds the lock now, as they wrote it ({} when free or unknown): pid, who, since."""
    try:
        return json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _ancestors() -> set[int]:
    pids, pid = set(), os.getppid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def describe(record: dict) -> str:
    if not record:
        return "another process"
    return f"{record.get('who') or 'another run'} (pid {record.get('pid')}, since {record.get('since')})"


@contextlib.contextmanager
def hold_warehouse(
    path: Path | str,
    *,
    who: str,
    wait_s: float | None = None,
    on_wait: Callable[[str], None] | None = None,
    poll_s: float = 0.2,
) -> Iterator[None]:
    """Hold the lock file `path` for the block: wait for another holder at most `wait_s` seconds (None: as
    long as it takes), telling `on_wait` who that is once, then raise `WarehouseBusy`."""
    path = Path(path)
    key = str(path.absolute())
    held = _local.__dict__.setdefault("held", {})
    if key in held:
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        deadline = None if wait_s is None else time.monotonic() + wait_s
        told = inherited = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                record = holder(path)
                if record.get("pid") in _ancestors():  # the run this step process belongs to holds it
                    inherited = True
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"the warehouse is locked by {describe(record)} for more than {wait_s:g} s ({path}); "
                        "retry when that run ends"
                    ) from None
                if on_wait and not told:
                    on_wait(describe(record))
                    told = True
                time.sleep(poll_s)
        if inherited:
            yield
            return
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"pid": os.getpid(), "who": who,
                                     "since": datetime.now(UTC).isoformat(timespec="seconds")}))
            handle.flush()
            held[key] = 1
            try:
                yield
            finally:
                del held[key]
                handle.seek(0)
                handle.truncate()
                handle.flush()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
