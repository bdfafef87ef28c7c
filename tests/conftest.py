"""Shared fixtures: a temporary $CLAIMFLOW_HOME per test, the dbt manifest once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _restore_umask():
    """`claimflow` sets umask 077 for its own process; a test calling `cli.main` in-process must not pass that on
    to the next test's servers (Dovecot's auth worker could no longer read its users file)."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


@pytest.fixture
def claimflow_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty $CLAIMFLOW_HOME for one test."""
    home = tmp_path / "claimflow"
    monkeypatch.setenv("CLAIMFLOW_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    return home


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """The dbt manifest, built if a fresh clone has none yet."""
    from assets.dbt.project import ensure_manifest

    return ensure_manifest()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """A real MLflow tracking server on a free loopback port, stopped after the session."""
    from models.tracking import free_port, start_tracking_server

    root = tmp_path_factory.mktemp("mlflow")
    # A shared 2-core CI box under load needs more than the default 90 s for MLflow to come up.
    server = start_tracking_server(root, port=free_port(), reuse=False, timeout=300)
    yield server
    server.stop()


# The longest files first, so two workers finish together instead of one running a long file alone at the
# end (measured on CI's 2-core box; seconds per file with two workers). The rest keep their order.
# pyproject passes --no-loadscope-reorder: without it xdist ignores this order and runs the files with most tests first.
LONGEST_FIRST = (
    "integration/test_prod_flow.py",  # 242-443 at load 5-8 (the whole PROD flow on Postgres + S3, 500 mails)
    "integration/test_notebooks.py",  # ~160 + the `claimflow ui` sensor and SIGTERM test (~150-360 by load)
    "integration/test_model_lifecycle.py",  # ~270 before its three unshifted-world tests shared one training
    "integration/test_chaos.py",  # ~130 estimated (230 s alone on a 2-core box at load average 8)
    "integration/test_claude_in_the_flow.py",  # ~125
    "integration/test_social_flow.py",  # ~110
    "integration/test_dagster_postgres.py",  # ~105
    "integration/test_claims_intake.py",  # ~90
    "integration/test_retrain_noop.py",  # ~80
    "integration/test_k8s_contract.py",  # ~60
)


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        path = item.path.as_posix()
        return next((i for i, name in enumerate(LONGEST_FIRST) if path.endswith(name)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: the order within a file and among the rest is unchanged
