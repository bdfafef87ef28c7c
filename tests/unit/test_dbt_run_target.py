"""dbt run artefacts go under $CLAIMFLOW_HOME and are pruned, never piled up in the repository.

Regression (issue 12, finding 6): every run added a folder under the repo's dbt/target (31 folders, 71 MB).
"""

import os
import time

from assets.dbt.assets import run_target


def test_each_run_gets_a_folder_under_the_home_and_only_the_newest_are_kept(tmp_path):
    made = []
    for i in range(8):
        made.append(run_target(tmp_path, f"run-{i}", keep=3))
        os.utime(made[-1], (time.time() + i, time.time() + i))
    left = sorted(p.name for p in (tmp_path / "dbt" / "runs").iterdir())
    assert left == ["run-5", "run-6", "run-7"]
    assert all(p.is_relative_to(tmp_path) for p in made)


def test_the_second_dbt_run_of_a_home_parses_partially_from_the_first_runs_state(tmp_path):
    # Each run has its own target folder; without the home's saved state every `dbt build` re-parsed the
    # whole project (~8 s of 11.5 s). The real dbt decides whether the state is usable.
    from assets.dbt.assets import PARTIAL_PARSE, keep_partial_parse
    from assets.dbt.project import dbt_args, dbt_resource

    def parse(run_id: str) -> str:
        target = run_target(tmp_path, run_id)
        invocation = dbt_resource().cli(dbt_args("parse", warehouse=tmp_path / "warehouse.duckdb"),
                                        target_path=target, raise_on_error=True)  # fmt: skip
        logs = "\n".join(str(e.raw_event.get("info", {}).get("msg", "")) for e in invocation.stream_raw_events())
        invocation.wait()
        keep_partial_parse(tmp_path, target)
        return logs

    first = parse("first")  # the repository's state was built for another warehouse path: a full parse
    assert "Unable to do partial parsing" in first, first[-2000:]
    assert (tmp_path / "dbt" / PARTIAL_PARSE).exists()
    second = parse("second")
    assert "Unable to do partial parsing" not in second, second[-2000:]
