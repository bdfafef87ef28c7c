"""Both notebooks executed against a demo-sized home: a notebook that raises fails the suite.

The home is built the way `claimflow demo` builds it, only smaller: policies, a sample inbox
through the intake job, a model trained, gated, approved and promoted on a real MLflow server,
triage scored by a real Triton, a second (challenger) model, and two reviewer decisions.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAILS = 400  # the drift gate needs a few hundred recent claims: its distances are noisy below that
SEED = 5
HISTORY_ROWS = 8_000  # the lifecycle tests' size: enough for every gate, a fraction of the demo's training time
TRAINING = {"ops": {"claims_history": {"config": {"rows": HISTORY_ROWS}}}}


def build_demo_home(home: Path, tracking_uri: str) -> dict[str, float]:
    """A small `claimflow demo` in `home` (the environment must already point at it); seconds per stage."""
    from assets.claims.review import ReviewQueue
    from assets.training.assets import ClaimsHistoryConfig
    from connectors.inbox import MaildirInbox
    from connectors.samples.inbox import claims_for_inbox, generate_inbox
    from connectors.samples.policies import build_policy_table
    from connectors.system_of_record import SqlPolicySystem
    from orchestration.commands.users import DEMO_RISK_OFFICER
    from orchestration.runner import (
        first_failure,
        run_intake,
        run_job,
        run_lifecycle,
        run_triage,
        start_serving,
    )

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    home.mkdir(parents=True, exist_ok=True)
    policies = build_policy_table()
    sor = f"sqlite:///{home / 'system_of_record.db'}"
    SqlPolicySystem(sor).load_policies(policies)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    claims = claims_for_inbox(policies, count=MAILS, seed=SEED, now=now, claims_seed=ClaimsHistoryConfig().seed)
    samples = home.parent / "samples"
    generate_inbox(MAILS, SEED, samples, policies, now=now, claims=claims)
    inbox = MaildirInbox(home / "inbox")
    inbox.ensure()
    for eml in sorted(samples.glob("*.eml")):
        inbox.deliver(eml.read_bytes(), name=eml.name)
    history = run_job("claims_history_sync", TRAINING)
    assert history.success, first_failure(history)
    summary = run_intake()
    assert summary.success, summary.render()
    timings["intake"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ok, text = run_lifecycle(DEMO_RISK_OFFICER, TRAINING)
    assert ok, text
    timings["training"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    triton, _ = start_serving(tracking_uri)
    with triton:
        ok, text = run_triage()
    assert ok, text
    timings["triage"] = time.perf_counter() - t0

    # A challenger: the same recipe with other hyper-parameters, registered beside the champion.
    t0 = time.perf_counter()
    challenger = {"ops": {**TRAINING["ops"], "risk_model_candidate": {"config": {"learning_rate": 0.2,
                                                                                 "max_leaf_nodes": 8}}}}
    run_job("model_training", challenger)  # its gates may pass or fail; the registry holds it either way
    timings["challenger"] = time.perf_counter() - t0

    # Two reviewer decisions, one approving the suggestion and one overriding it: the error rate's inputs.
    queue = ReviewQueue(claims_system_of(sor))
    waiting = [w["claim_number"] for w in queue.system.review_waiting()][:2]
    for number, action in zip(waiting, ("approve", "override")):
        queue.claim(number, "ana.martin")
        item = queue.show(number)
        if action == "approve" and (item["proposed_queue"] or item["suggested_queue"] != "human_review"):
            queue.decide(number, "ana.martin", "approve", reason="the rules' proposal fits the evidence")
        else:
            queue.decide(number, "ana.martin", "override", queue="specialist", reason="prior fraud on this plate")
    return timings


def claims_system_of(url: str):
    from connectors.system_of_record import ClaimsSystem

    system = ClaimsSystem(url)
    system.ensure_schema()
    return system


@pytest.fixture(scope="module")
def demo_mlflow(tmp_path_factory):
    """MLflow on the demo home's own store (as `claimflow demo` runs it), so `claimflow ui` can start its own."""
    from models.tracking import free_port, start_tracking_server

    home = tmp_path_factory.mktemp("notebooks") / "claimflow"
    server = start_tracking_server(home / "mlflow", port=free_port(), reuse=False, timeout=300)
    yield home, server
    server.stop()


@pytest.fixture(scope="module")
def demo_home(demo_mlflow, dbt_manifest) -> Iterator[Path]:
    """The demo-sized home, built once for both notebooks and the UI test."""
    from models.tracking import free_port

    home, mlflow_server = demo_mlflow
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLAIMFLOW_HOME", str(home))
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        mp.setenv("CLAIMFLOW_USER", "trainer.bot")
        for var in ("HTTP", "GRPC", "METRICS"):
            mp.setenv(f"CLAIMFLOW_TRITON_{var}_PORT", str(free_port()))
        timings = build_demo_home(home, mlflow_server.url)
        print(f"demo-sized home built: {timings}")
        yield home


def _errors(nb) -> list[str]:
    return [f"{o['ename']}: {o['evalue']}" for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


def _images(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def _tagged(nb, tag: str):
    return next(c for c in nb.cells if tag in c.get("metadata", {}).get("tags", []))


@pytest.mark.timeout(900)
def test_the_roi_report_shows_the_measured_yield_break_even_npv_and_a_tornado(demo_home, tmp_path, capsys):
    from assets.project import system_of_record_path, warehouse_path
    from monitoring import roi
    from orchestration.cli import main as cli

    out = tmp_path / "roi.html"
    t0 = time.perf_counter()
    assert cli(["report", "roi", "--out", str(out)]) == 0
    seconds = time.perf_counter() - t0
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    print(f"roi notebook: {seconds:.1f} s")
    html = out.read_text()

    # The figures the notebook shows are those of the tested model on this home's measurements.
    measured = roi.measure_yield(warehouse_path(), f"sqlite:///{system_of_record_path()}")
    assert measured.claims_decided > 50 and 0 < measured.share_without_person < 1
    assert measured.reviewer_decisions == 2 and measured.reviewer_overrides >= 1
    params = roi.RoiParameters(serving_cost_per_claim=measured.serving_cost_per_claim or 0.0)
    summary = roi.summarise(params, measured.steps_avoided)
    assert summary["break_even_month"] is not None
    assert f"break-even month: {summary['break_even_month']}" in html
    assert f"NPV USD: {summary['npv_usd']:.0f}" in html
    print(f"demo home: break-even month {summary['break_even_month']}, NPV ${summary['npv_usd']:,.0f}")

    # The tornado cell's output is an embedded PNG, and every figure is there.
    tornado = html.split("celltag_tornado", 1)[1].split("jp-Cell ", 1)[0]
    assert "data:image/png;base64," in tornado
    assert html.count("data:image/png;base64,") >= 6
    assert "Traceback" not in html and "social flow: not yet run" in html


@pytest.mark.timeout(900)
def test_the_model_exploration_runs_on_the_registry_and_compares_the_challenger(demo_home, demo_mlflow, tmp_path):
    from orchestration.commands.report import render

    _, mlflow_server = demo_mlflow
    t0 = time.perf_counter()
    rendered = render("models", tmp_path / "models.html",
                      {"claimflow_home": str(demo_home), "tracking_uri": mlflow_server.url})
    print(f"model exploration notebook: {time.perf_counter() - t0:.1f} s")
    nb = rendered.notebook
    assert _errors(nb) == []
    assert _images(nb) >= 7  # training set, calibration, PR, dependence, bias, live scores, challenger
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "review decisions changed:" in text  # a challenger beside the champion was compared
    assert "data:image/png;base64," in rendered.html


def test_a_notebook_that_raises_fails_with_its_cell_and_error(tmp_path):
    from orchestration.commands.report import NotebookFailed, build_notebook, execute

    nb = build_notebook("roi", {"claimflow_home": str(tmp_path / "nowhere")})
    with pytest.raises(NotebookFailed, match=r"notebook roi failed in cell \d+: MissingWarehouse: no warehouse"):
        execute(nb, timeout=300, name="roi")


def _start_sensor(port: int, name: str) -> str:
    import json
    import urllib.request

    query = """mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) {
        __typename ... on Sensor { sensorState { status } } ... on PythonError { message } } }"""
    selector = {"repositoryLocationName": "claimflow", "repositoryName": "__repository__", "sensorName": name}
    body = json.dumps({"query": query, "variables": {"s": selector}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", body, {"Content-Type": "application/json"})
    deadline = time.monotonic() + 300
    while True:  # the code location may still be loading when the webserver first answers
        with urllib.request.urlopen(request, timeout=60) as resp:
            answer = json.loads(resp.read())["data"]["startSensor"]
        if answer["__typename"] == "Sensor" or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert answer["__typename"] == "Sensor", answer
    return answer["sensorState"]["status"]


def descendants(pid: int) -> set[int]:
    """Every live descendant of `pid`, from /proc."""
    out, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in out:
                    out.add(child)
                    todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def up(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.mark.timeout(1200)
def test_switching_on_the_inbox_sensor_under_claimflow_ui_gives_a_successful_run_and_sigterm_stops_it_all(
    demo_home, tmp_path
):
    """Regressions (issue 12, finding 6): after `make ui`, switching on `claims_inbox_sensor` launched a
    `claims_flow` run that failed at `serving_deployment` (nothing had started Triton); and SIGTERM to
    `claimflow ui` left the MLflow server and the `dagster dev` webserver and code server running.

    One start of the UI checks both (a second start cost CI ~80 s): it runs MLflow on the home's store itself
    (no MLFLOW_TRACKING_URI), Triton on the champion, the workspace and `dagster dev`, all checked by PID."""
    import os
    import signal
    import subprocess
    import sys

    import dagster as dg

    from assets.project import PROJECT_ROOT
    from connectors.inbox import MaildirInbox
    from connectors.samples.inbox import claims_for_inbox, generate_inbox
    from connectors.samples.policies import build_policy_table
    from models.tracking import free_port

    dagster_port, mlflow_port = free_port(), free_port()
    env = os.environ | {"CLAIMFLOW_METRICS_PORT": str(free_port()), "CLAIMFLOW_WEB_PORT": str(free_port()),
                        "CLAIMFLOW_MLFLOW_PORT": str(mlflow_port), "DAGSTER_HOME": str(demo_home / "dagster")}  # fmt: skip
    env.pop("MLFLOW_TRACKING_URI", None)  # the UI starts (and must stop) an MLflow server of its own
    log_path = tmp_path / "ui.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "ui", "--port", str(dagster_port)],
                                cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    started: set[int] = set()
    t0 = time.monotonic()
    try:
        deadline = time.monotonic() + 400  # dagster dev loads every definition: slow on a shared 2-core box
        while not up(f"http://127.0.0.1:{dagster_port}/server_info"):
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(1)
        assert "Triton      claims_risk version" in log_path.read_text(), log_path.read_text()[-3000:]
        assert f"MLflow UI   http://127.0.0.1:{mlflow_port}" in log_path.read_text(), log_path.read_text()[-3000:]
        assert up(f"http://127.0.0.1:{mlflow_port}/health")

        # What a user does in the UI (Automation > claims_inbox_sensor > on): the webserver's own mutation.
        assert _start_sensor(dagster_port, "claims_inbox_sensor") == "RUNNING"
        print(f"platform up and sensor on after {time.monotonic() - t0:.0f} s")

        # New mail arrives.
        policies = build_policy_table()
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        fresh = tmp_path / "fresh"
        generate_inbox(6, 901, fresh, policies, now=now,
                       claims=claims_for_inbox(policies, count=6, seed=901, now=now, claims_seed=902))  # fmt: skip
        inbox = MaildirInbox(demo_home / "inbox")
        for eml in sorted(fresh.glob("*.eml")):
            inbox.deliver(eml.read_bytes(), name=f"fresh-{eml.name}")

        instance = dg.DagsterInstance.from_config(str(demo_home / "dagster"))
        by_sensor = dg.RunsFilter(job_name="claims_flow", tags={"dagster/sensor_name": "claims_inbox_sensor"})
        deadline = time.monotonic() + 600
        while True:
            runs = instance.get_runs(by_sensor)
            done = [r for r in runs if r.is_finished]
            if done:
                break
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(3)
        failure = next((e.message for e in instance.all_logs(done[0].run_id)
                        if e.dagster_event and e.dagster_event.is_step_failure), None)  # fmt: skip
        assert done[0].status == dg.DagsterRunStatus.SUCCESS, failure
        instance.dispose()
        print(f"sensor run {done[0].run_id} succeeded after {time.monotonic() - t0:.0f} s")

        assert up(f"http://127.0.0.1:{dagster_port}/server_info") and up(f"http://127.0.0.1:{mlflow_port}/health")
        started = descendants(proc.pid)
        # MLflow, Triton, the workspace, dagster dev and its webserver / daemon / code server
        assert len(started) >= 5
        proc.send_signal(signal.SIGTERM)  # the process only, as systemd or `kill` would
        assert proc.wait(90) == 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(p) for p in started):
            time.sleep(1)
        assert not [p for p in started if alive(p)]
        assert not up(f"http://127.0.0.1:{mlflow_port}/health")
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in started | descendants(proc.pid):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
