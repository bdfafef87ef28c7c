"""Triage as assets: decisions, system-of-record writes, the audit trail, reviewer labels.

Rules decide (assets/claims/routing.py), people approve (the review queue). Scores and
decisions are kept per model version in the warehouse; the system of record only sees a
claim's state changes (a new route for an open claim no person has touched), each keyed so a
re-executed or concurrent run writes it once and a new champion that agrees writes nothing.
"""

import hashlib
import json

import dagster as dg
import pandas as pd
from pydantic import Field

from assets.claims.assignment import assign, default_roster
from assets.claims.review import ReviewQueue
from assets.claims.routing import Decision, TriageThresholds, route_frame
from assets.claims.verification import verify_policy
from assets.dbt.project import dbt_relation
from assets.groups import CLAIMS, TRAINING
from assets.monitoring.telemetry import TelemetryResource
from assets.resources import ClaudeResource, SystemOfRecordResource, WarehouseResource
from connectors.schema import (
    CLAIM_EMAILS,
    EMAIL_RECEIPTS,
    PARSED_CLAIMS,
    POLICIES,
    REVIEW_LABELS,
    RISK_SCORES,
    STATUS_DRAFTS,
    TRIAGE_DECISIONS,
)
from connectors.tracing import bound_run, outside_call
from connectors.values import utc_naive
from connectors.warehouse import records
from monitoring.telemetry import claim_trace_id

TRIAGE_STEP = "triage"
UNSCORED = "none"  # model version of a decision made without a risk score
# Claims per system-of-record transaction: measured at 100 / 500 / 1,000 / 5,000, CPU per claim fell
# by 1.4x at 500 and little beyond, while a larger transaction holds SQLite's write lock longer
# and rolls back more on a crash (re-execution then rewrites it, once).
SOR_CHUNK_CLAIMS = 500


class TriageConfig(dg.Config):
    """Routing thresholds (assets/claims/routing.py); every decision records the ones it read."""

    min_extraction_confidence: float = Field(0.75, description="Below this, a person checks the extraction.")
    review_threshold: float = Field(0.5, description="Risk score from which a specialist looks at the claim.")
    fraud_threshold: float = Field(0.8, description="Risk score from which the claim goes to fraud review.")
    fast_track_max_amount_eur: float = Field(1500, description="Largest amount settled on the fast track.")
    fast_track_max_risk: float = Field(0.15, description="Highest risk score settled on the fast track.")
    specialist_amount_eur: float = Field(15000, description="Amount from which a specialist handles the claim.")

    def thresholds(self) -> TriageThresholds:
        return TriageThresholds(**self.model_dump())


def triage_inputs(warehouse: WarehouseResource) -> pd.DataFrame:
    """One row per claim with everything verification and routing read, and its latest score per version."""
    return warehouse.get().read(
        f"""select f.*, c.sender, c.contact_email,
                   coalesce(c.suspicious_signals, '[]') <> '[]' as suspicious_content,
                   (select min(r.delivered_at) from {EMAIL_RECEIPTS} r
                    where r.content_hash = c.source_content_hash) as first_received_at,
                   e.sender_name, coalesce(s.model_version, '{UNSCORED}') as model_version, s.score as risk_score,
                   e.content_hash as input_hash_source
            from {dbt_relation("claim_features")} f
            join {PARSED_CLAIMS} c using (claim_number)
            left join {CLAIM_EMAILS} e on e.content_hash = c.source_content_hash
            left join {RISK_SCORES} s on s.claim_number = f.claim_number
                and s.model_version = (select max_by(model_version, scored_at) from {RISK_SCORES} r
                                       where r.claim_number = f.claim_number)"""
    )


# verify_policy's documented reads, then what a decision row carries.
_ROW_COLUMNS = ("policy_number", "incident_date", "loss_type", "sender", "sender_name", "contact_email",
                "claim_number", "model_version", "input_hash_source", "risk_score", "first_received_at")


@dg.asset(group_name=CLAIMS, deps=["claim_features", "risk_scores", "photo_quality", "policies"],
          kinds={"python", "duckdb"})
def triage_decisions(context: dg.AssetExecutionContext, config: TriageConfig, warehouse: WarehouseResource):
    """Where each claim goes (fast track, standard, specialist, fraud or human review), the rule and its inputs."""
    wh = warehouse.get()
    claims = triage_inputs(warehouse)
    decided = wh.read(f"select claim_number, model_version from {TRIAGE_DECISIONS}")
    done = set(zip(decided["claim_number"], decided["model_version"]))
    claims = claims[[(c, v) not in done for c, v in zip(claims["claim_number"], claims["model_version"])]]
    policies = {p["policy_number"]: p for p in records(wh.read(f"select * from {POLICIES}"))}
    thresholds = config.thresholds()
    now = utc_naive()
    # Per claim only what verification reads and the decision row keeps (every column as dicts cost more
    # than the rules): the rules themselves read the frame.
    rows = records(claims[[c for c in _ROW_COLUMNS if c in claims.columns]])
    verdicts = [verify_policy(claim, policies.get(claim["policy_number"])) for claim in rows]
    # The rules run over columns (route_frame); route() is the per-row reference they agree with.
    decisions = route_frame(claims, [v.passed for v in verdicts], [v.code for v in verdicts],
                            [v.reason for v in verdicts], thresholds)  # fmt: skip
    inputs = [json.dumps(i, sort_keys=True, default=str) for i in decisions["inputs"]]
    frame = pd.DataFrame({
        "claim_number": [c["claim_number"] for c in rows],
        "model_version": [c["model_version"] for c in rows],
        "queue": decisions["queue"].to_list(),
        "rule": decisions["rule"].to_list(),
        "reason": decisions["reason"].to_list(),
        "inputs": inputs,
        # What the decision was made from: the e-mail's content hash and the rule inputs.
        "input_hash": [hashlib.sha256(f"{c['input_hash_source']}|{i}".encode()).hexdigest()
                       for c, i in zip(rows, inputs, strict=True)],
        "needs_human": decisions["needs_human"].to_list(),
        "skill": decisions["skill"].to_list(),
        "proposed_queue": decisions["proposed_queue"].to_list(),
        "policy_verdict": [v.code for v in verdicts],
        "policy_reason": [v.reason for v in verdicts],
        "risk_score": [c["risk_score"] for c in rows],
        "received_at": [c["first_received_at"] for c in rows],
        "decided_at": now,
        "run_id": context.run.run_id,
    }) if rows else pd.DataFrame()  # fmt: skip
    with wh.transaction() as con:
        wh.upsert(con, TRIAGE_DECISIONS, frame)
    by_queue = frame["queue"].value_counts().to_dict() if len(frame) else {}
    by_rule = frame["rule"].value_counts().to_dict() if len(frame) else {}
    return dg.MaterializeResult(
        metadata={
            "decisions": len(frame),
            "by_queue": dg.MetadataValue.json(by_queue),
            "by_rule": dg.MetadataValue.json(by_rule),
            "thresholds": dg.MetadataValue.json(config.model_dump()),
        }
    )


class DraftsConfig(dg.Config):
    """How drafts are requested from Claude."""

    use_batches: bool = Field(
        False, description="Message Batches API (half price, for work that can wait: the daily batch triage)."
    )


@dg.asset(group_name=CLAIMS, deps=[triage_decisions], kinds={"anthropic"})
def status_drafts(
    context: dg.AssetExecutionContext, config: DraftsConfig, warehouse: WarehouseResource, claude: ClaudeResource
):
    """The customer's status message per decision: text plus machine-readable JSON, by Claude or the template."""
    from models.batches import draft_status_batch
    from models.drafting import draft_status, draft_subject

    wh = warehouse.get()
    pending = wh.read(
        f"""select d.claim_number, d.model_version, d.queue, d.rule, d.needs_human, e.sender_name, c.description,
                   c.language as claim_language, c.disposition
            from {TRIAGE_DECISIONS} d
            join {PARSED_CLAIMS} c using (claim_number)
            left join {CLAIM_EMAILS} e on e.content_hash = c.source_content_hash
            where not exists (select 1 from {STATUS_DRAFTS} s
                              where s.claim_number = d.claim_number and s.model_version = d.model_version)
              -- what the customer would be told is already drafted (same route under another version):
              -- no second (paid) draft
              and not exists (select 1 from {STATUS_DRAFTS} s
                              join {TRIAGE_DECISIONS} p using (claim_number, model_version)
                              where p.claim_number = d.claim_number and p.queue = d.queue
                                and p.needs_human is not distinct from d.needs_human)"""
    )
    client = claude.client()  # None without a key: the template drafter, said in provenance
    now, run_id = utc_naive(), context.run.run_id
    rows = []
    pending_rows = records(pending)
    jobs = {
        f"{r['claim_number']}:{r['model_version']}": (
            {"claim_number": r["claim_number"], "contact_name": r["sender_name"],
             # no stored language (claims parsed before it was kept): detected in the description
             "language": r.get("claim_language"), "description": r["description"],
             "disposition": r.get("disposition")},
            {"queue": r["queue"], "rule": r["rule"], "needs_review": bool(r["needs_human"])},
        )
        for r in pending_rows
    }
    try:
        if config.use_batches and client is not None and jobs:
            # custom_id must be short and plain: the claim number, unique within one batch of pending drafts.
            by_claim = draft_status_batch({k.split(":")[0]: v for k, v in jobs.items()}, client)
            drafted = {k: by_claim[k.split(":")[0]] for k in jobs}
        else:
            drafted = {k: draft_status(claim, decision, client) for k, (claim, decision) in jobs.items()}
        for r in pending_rows:
            draft = drafted[f"{r['claim_number']}:{r['model_version']}"]
            subject = draft_subject(r["claim_number"], draft.language)
            rows.append({
                "claim_number": r["claim_number"], "model_version": r["model_version"], "subject": subject,
                "body": draft.text, "payload": json.dumps(draft.payload),
                "provenance": json.dumps({"drafter": draft.provenance, "fallback_reason": draft.fallback_reason,
                                          "model": client.model if client else None,
                                          **({"batch": True} if config.use_batches and client else {})}),
                "cost_usd": float(draft.cost_usd), "drafted_at": now, "run_id": run_id,
            })
    finally:
        if client is not None:
            client.close()
    frame = pd.DataFrame(rows)
    with wh.transaction() as con:
        wh.upsert(con, STATUS_DRAFTS, frame)
    drafters = pd.Series([json.loads(r["provenance"])["drafter"] for r in rows]).value_counts().to_dict() if rows else {}
    return dg.MaterializeResult(
        metadata={
            "drafts": len(rows),
            "by_drafter": dg.MetadataValue.json(drafters),
            "claude": "configured" if client else "no ANTHROPIC_API_KEY: template drafter (provenance says so)",
            "cost_usd": float(frame["cost_usd"].sum()) if len(frame) else 0.0,
        }
    )


@dg.asset(group_name=CLAIMS, deps=[triage_decisions, status_drafts], kinds={"sqlalchemy"})
def system_of_record_updates(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    system_of_record: SystemOfRecordResource,
    telemetry: TelemetryResource,  # traces the calls to the system of record
):
    """Claim status, assignment to the least-loaded qualified specialist, outbox message, review item."""
    system = system_of_record.claims()
    if not system.roster():
        system.seed_roster(default_roster())
    wh = warehouse.get()
    decisions = wh.read(
        f"""select claim_number, model_version, queue, rule, reason, inputs, risk_score, policy_verdict, skill,
                   proposed_queue, needs_human
            from {TRIAGE_DECISIONS} order by decided_at, claim_number"""
    )
    drafts = wh.read(
        f"""select s.claim_number, d.queue, s.subject, s.body, s.payload
            from {STATUS_DRAFTS} s join {TRIAGE_DECISIONS} d using (claim_number, model_version)
            order by s.drafted_at"""
    )
    pending = pending_changes(decisions, system.current_routes())
    changes = records(pending)
    # Only the drafts of claims that change (the table holds every run's), read by column, latest last.
    drafts = drafts[drafts["claim_number"].isin(pending["claim_number"])]
    draft_for = {
        (number, queue): {"subject": subject, "body": body, "payload": payload}
        for number, queue, subject, body, payload in zip(
            drafts["claim_number"], drafts["queue"], drafts["subject"], drafts["body"], drafts["payload"]
        )
    }
    assignments = {a.claim_number: a for a in assign([_as_decision(r) for r in changes], system.roster())}
    rows_by_version: dict[str, list[dict]] = {}
    for r in changes:
        a = assignments.get(r["claim_number"])
        row = {
            "claim_number": r["claim_number"],
            "queue": r["queue"],
            "rule": r["rule"],
            "reason": r["reason"],
            "inputs": json.loads(r["inputs"]),
            "risk_score": r["risk_score"],
            "policy_verdict": r["policy_verdict"],
            "assigned_to": a.specialist_id if a and a.assigned else None,
            "skill": r["skill"],
            "proposed_queue": r["proposed_queue"],
        }
        draft = draft_for.get((r["claim_number"], r["queue"]))
        if draft is not None and draft["body"]:
            row["outbox"] = {"subject": draft["subject"], "body": draft["body"], "payload": json.loads(draft["payload"])}
        rows_by_version.setdefault(r["model_version"], []).append(row)
    written = skipped = held = 0
    messages_before = system.message_count()
    for version, rows in rows_by_version.items():
        with bound_run(context.run.run_id), outside_call("system_of_record", "record_decisions", claims=len(rows)):
            report = system.record_decisions(rows, step=TRIAGE_STEP, model_version=version,
                                             chunk_size=SOR_CHUNK_CLAIMS)
        written += report.written
        skipped += report.skipped_duplicates
        held += report.kept_reviewer_decision
    counts = system.counts(utc_naive())
    return dg.MaterializeResult(
        metadata={
            "new_decisions": written,
            "new_messages": system.message_count() - messages_before,
            "unchanged": int(len(decisions["claim_number"].unique()) - len(pending)) + skipped,
            "kept_for_a_person": held,
            "unassigned": sum(1 for a in assignments.values() if not a.assigned and a.queue != "fast_track"),
            "sor_counts": dg.MetadataValue.json(json.loads(json.dumps(counts, default=str))),
        }
    )


def pending_changes(decisions: pd.DataFrame, standing: dict[str, tuple[str, bool]]) -> pd.DataFrame:
    """The decisions that would change a claim's state: per claim the latest decision, when its route
    differs from the one standing and no person has touched the claim (the SoR re-checks in its
    transaction; this only spares the assigner claims that will not move)."""
    latest = decisions.drop_duplicates("claim_number", keep="last")
    keep = [
        number not in standing or (standing[number][0] != queue and not standing[number][1])
        for number, queue in zip(latest["claim_number"], latest["queue"])
    ]
    return latest[keep]


def _as_decision(record: dict) -> Decision:
    return Decision(
        queue=record["queue"], rule=record["rule"], reason=record["reason"], inputs={},
        needs_human=bool(record["needs_human"]), claim_number=record["claim_number"], skill=record["skill"],
        proposed_queue=record["proposed_queue"],
    )


@dg.asset(group_name=CLAIMS, deps=[system_of_record_updates], kinds={"sqlalchemy"})
def audit_log(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
              system_of_record: SystemOfRecordResource):
    """The hash-chained audit trail: per claim state change its input hash, model and version, score, rule, inputs."""
    audit = system_of_record.audit()
    system = system_of_record.claims()
    logged = audit.logged_values("triage.decision", "effect_key")
    effects = system.effects_frame(TRIAGE_STEP)
    changes = records(effects[~effects["idempotency_key"].isin(logged)])
    decisions = warehouse.get().read(
        f"""select claim_number, model_version, input_hash, risk_score, policy_verdict, rule, queue, inputs,
                   decided_at, run_id
            from {TRIAGE_DECISIONS}"""
    )
    # Per state change its decision; only the claims that changed are turned into rows.
    decisions = decisions[decisions["claim_number"].isin({c["claim_number"] for c in changes})]
    by_version = {(r["claim_number"], r["model_version"]): r for r in records(decisions)}
    entries = []
    for change in changes:
        r = by_version.get((change["claim_number"], change["model_version"]), {})
        entries.append({
            "actor": "claimflow.triage",
            "action": "triage.decision",
            "subject": change["claim_number"],
            "payload": {
                "effect_key": change["idempotency_key"],
                "input_hash": r.get("input_hash"),
                "model": "claims_risk",
                "model_version": change["model_version"],
                "risk_score": r.get("risk_score"),
                "policy_verdict": r.get("policy_verdict"),
                "rule": r.get("rule"),
                "queue": r.get("queue"),
                "inputs": json.loads(r["inputs"]) if r.get("inputs") else {},
                "decided_at": str(r.get("decided_at")),
                "applied_at": str(change["applied_at"]),
                "dagster_run_id": r.get("run_id"),
                "trace_id": claim_trace_id(change["claim_number"]),  # links the entry to the claim's trace
            },
        })
    appended = audit.append_many(entries)
    report = audit.verify()
    if not report.intact:
        raise dg.Failure(f"audit log broken: {report.problem}", allow_retries=False)
    head = audit.anchor()  # the head also lives outside the database: the anchor file and this run's metadata
    return dg.MaterializeResult(metadata={
        "appended": len(appended), "entries": report.entries, "intact": True,
        "head_seq": head["seq"], "head_mac": head["hash"], "anchor_file": dg.MetadataValue.path(str(audit.anchor_path)),
    })


@dg.asset(group_name=TRAINING, kinds={"sqlalchemy", "duckdb"})
def review_labels(warehouse: WarehouseResource, system_of_record: SystemOfRecordResource):
    """Reviewers' decisions as labels: a claim a person sent to a specialist or fraud review was high risk."""
    labels = pd.DataFrame(ReviewQueue(system_of_record.claims()).labels_since(None))
    wh = warehouse.get()
    with wh.transaction() as con:
        wh.replace(con, REVIEW_LABELS, labels)
    return dg.MaterializeResult(metadata={"dagster/row_count": len(labels)})

