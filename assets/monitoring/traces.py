"""`claim_traces`: one trace per claim, from its e-mail to its audit entry, built from the data's own times.

Each step leaves a timestamp on what it wrote: delivery and ingestion of the mail, parsing,
the score (per model version), the decision, the draft, the state change in the system of
record, the audit entry. After each claims run this asset turns every milestone without a
span yet into one (start: the claim's previous milestone; end: this one), in the claim's
trace. Nothing runs per claim in the hot path, a run that failed and was re-executed still
leaves every claim's trace complete, and the spans carry the run that did the work.
"""

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd

from assets.groups import MONITORING
from assets.monitoring.telemetry import TelemetryResource
from assets.resources import SystemOfRecordResource, WarehouseResource
from connectors.schema import (
    CLAIM_EMAILS,
    CLAIM_MESSAGES,
    CLAIM_STEPS,
    EMAIL_RECEIPTS,
    PARSED_CLAIMS,
    RISK_SCORES,
    STATUS_DRAFTS,
    TRIAGE_DECISIONS,
)
from monitoring import telemetry as tel

# Milestones in the warehouse: (step, SQL giving claim_number, event, ended_at, run_id, attributes).
_WAREHOUSE_MILESTONES = (
    ("intake", f"""select p.claim_number, m.content_hash as event, e.ingested_at as ended_at, e.run_id,
                          json_object('delivered_at', cast(r.delivered_at as varchar)) as attributes,
                          r.delivered_at as started_at
                   from {CLAIM_MESSAGES} m join {PARSED_CLAIMS} p on p.claim_number = m.claim_number
                   join {CLAIM_EMAILS} e on e.content_hash = m.content_hash
                   left join (select content_hash, min(delivered_at) as delivered_at from {EMAIL_RECEIPTS}
                              group by content_hash) r on r.content_hash = m.content_hash"""),
    ("parse", f"""select m.claim_number, m.content_hash as event, m.processed_at as ended_at, m.run_id,
                         json_object('relation', m.relation, 'extractor', m.extractor_version) as attributes,
                         null as started_at
                  from {CLAIM_MESSAGES} m join {PARSED_CLAIMS} p on p.claim_number = m.claim_number"""),
    ("score", f"""select claim_number, model_version as event, scored_at as ended_at, run_id,
                         json_object('model_version', model_version, 'served_by', served_by,
                                     'score', round(score, 4)) as attributes, null as started_at
                  from {RISK_SCORES}"""),
    ("route", f"""select claim_number, model_version as event, decided_at as ended_at, run_id,
                         json_object('queue', queue, 'rule', rule, 'model_version', model_version) as attributes,
                         null as started_at
                  from {TRIAGE_DECISIONS}"""),
    ("draft", f"""select claim_number, model_version as event, drafted_at as ended_at, run_id,
                         json_object('provenance', provenance) as attributes, null as started_at
                  from {STATUS_DRAFTS}"""),
)
TRIAGE_STEP = "triage"  # the system of record's step name for routing effects
_json_text = json.encoder.encode_basestring_ascii  # what json.dumps uses for a string (ensure_ascii)


def _json(value) -> str:
    """`json.dumps(value)`, a string without building an encoder (a dict per row cost seconds at 100k claims)."""
    kind = type(value)
    if kind is str:
        return _json_text(value)
    return int.__repr__(value) if kind is int else json.dumps(value)


def _sor_milestones(system_of_record: SystemOfRecordResource) -> pd.DataFrame:
    """State changes in the system of record, and their audit entries."""
    effects = system_of_record.claims().effects_frame(TRIAGE_STEP)
    frames = []
    if not effects.empty:
        frames.append(pd.DataFrame({
            "claim_number": effects["claim_number"], "step": "sor_write", "event": effects["idempotency_key"],
            "ended_at": pd.to_datetime(effects["applied_at"]), "run_id": "",
            "attributes": [f'{{"effect_key": {_json(k)}, "model_version": {_json(v)}}}'
                           for k, v in zip(effects["idempotency_key"], effects["model_version"])],
        }))
    # The whole audit history is read, so only the four fields used, not an entry with its parsed payload each.
    entries = system_of_record.audit().entry_fields("triage.decision", "effect_key")
    if entries:
        seqs, subjects, ats, keys = (list(c) for c in zip(*entries))
        at = pd.to_datetime([str(a) for a in ats])
        frames.append(pd.DataFrame({
            "claim_number": subjects, "step": "audit",
            "event": [str(k or s) for k, s in zip(keys, seqs)],
            "ended_at": at.tz_localize(None) if at.tz is not None else at,
            "run_id": "",
            "attributes": [f'{{"seq": {_json(s)}, "effect_key": {_json(k)}}}' for s, k in zip(seqs, keys)],
        }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def new_spans(milestones: pd.DataFrame, known: set[str]) -> pd.DataFrame:
    """Ledger rows for milestones not traced yet; a span starts at the claim's previous milestone."""
    if milestones.empty:
        return milestones
    m = milestones.dropna(subset=["ended_at"]).copy()
    m["ended_at"] = pd.to_datetime(m["ended_at"])
    order = {s: i for i, s in enumerate(tel.CLAIM_STEPS)}
    m["_order"] = m["step"].map(order)
    m = m.sort_values(["claim_number", "ended_at", "_order"], kind="stable")
    previous = m.groupby("claim_number")["ended_at"].shift(1)
    given = pd.to_datetime(m["started_at"]) if "started_at" in m else pd.Series(pd.NaT, index=m.index)
    m["started_at"] = given.fillna(previous).fillna(m["ended_at"])
    m["started_at"] = m[["started_at", "ended_at"]].min(axis=1)
    m["span_id"] = tel.step_span_ids(m["claim_number"], m["step"], m["event"])
    m = m[~m["span_id"].isin(known)].drop_duplicates("span_id")
    m["trace_id"] = tel.claim_trace_ids(m["claim_number"])
    m["status"] = "ok"
    m["run_id"] = m["run_id"].fillna("").astype(str)
    return m[CLAIM_STEPS.column_names].reset_index(drop=True)


@dg.asset(group_name=MONITORING, deps=["audit_log"], kinds={"opentelemetry", "duckdb"})
def claim_traces(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                 system_of_record: SystemOfRecordResource, telemetry: TelemetryResource):
    """One trace per claim: a span for each step from intake to audit, exported as JSON lines or by OTLP."""
    wh = warehouse.get()
    parts = [wh.read(f"select '{step}' as step, * from ({sql}) milestone") for step, sql in _WAREHOUSE_MILESTONES]
    milestones = pd.concat([*parts, _sor_milestones(system_of_record)], ignore_index=True)
    known = set(wh.read(f"select span_id from {CLAIM_STEPS}")["span_id"])
    fresh = new_spans(milestones, known)
    with wh.transaction() as con:
        wh.append(con, CLAIM_STEPS, fresh)
    tel.write_step_spans(fresh, Path(telemetry.home))
    ledger = wh.read(f"select claim_number, step from {CLAIM_STEPS}")
    done = tel.completeness(ledger)
    decided = done[done["missing"] == ""] if not done.empty else done
    return dg.MaterializeResult(metadata={
        "new_spans": len(fresh),
        "claims_traced": int(len(done)),
        "traces_complete": int(len(decided)),
        "traced_at": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        "spans": telemetry.otlp_endpoint or str(tel.telemetry_dir(Path(telemetry.home))
                                                     / tel.SPANS_FILE),
    })
