"""Runs launched from the CLI, the demo and the benches show in the Dagster UI under the workspace's
code location, and say who launched them."""

import dagster as dg

from orchestration import runner


def test_run_tags_name_the_workspace_code_location_and_the_launcher(monkeypatch):
    monkeypatch.setenv("CLAIMFLOW_USER", "ops.bot")
    tags = runner.run_tags()
    assert tags[runner.REPOSITORY_LABEL_TAG] == "__repository__@claimflow"  # workspace.yaml's location
    assert tags[runner.LAUNCHED_BY_TAG] == "claimflow-cli (ops.bot)"


def test_a_run_job_run_is_listed_under_its_job_in_the_code_location(claimflow_home, monkeypatch):
    # Regression: in-process runs had no repository label, so a job's Runs tab never listed them.
    monkeypatch.setenv("CLAIMFLOW_USER", "ops.bot")
    claimflow_home.mkdir(parents=True)
    runner.set_launcher("bench/test")
    try:
        result = runner.run_job("claims_history_sync", {"ops": {"claims_history": {"config": {"rows": 200}}}})
    finally:
        runner.set_launcher("claimflow-cli")
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name="claims_history_sync",
                                               tags={runner.REPOSITORY_LABEL_TAG: "__repository__@claimflow"}))
    assert [r.run_id for r in runs] == [result.run_id]
    assert runs[0].tags[runner.LAUNCHED_BY_TAG] == "bench/test (ops.bot)"
