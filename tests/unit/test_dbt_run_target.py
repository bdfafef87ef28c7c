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
