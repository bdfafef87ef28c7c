"""The workspace loads in Dagster's own tooling (`make ui` serving it: tests/integration/test_notebooks.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assets.project import PROJECT_ROOT

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def test_dagster_validates_the_workspace(claimflow_home, dbt_manifest):
    (claimflow_home / "dagster").mkdir(parents=True)
    proc = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All code locations passed validation" in proc.stderr + proc.stdout


# `claimflow ui` serving Dagster and MLflow, and stopping everything it started on SIGTERM, is one test:
# the inbox-sensor test in tests/integration/test_notebooks.py (a second start of the UI cost CI ~80 s).
