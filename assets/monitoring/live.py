"""Live monitoring of the served model: a daily verdict a risk officer reads, and alerts when it degrades."""


from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from assets.datasets import load_training_set
from assets.dbt.project import dbt_relation
from assets.groups import MONITORING
from assets.project import reports_dir
from assets.resources import GovernanceResource, SystemOfRecordResource, WarehouseResource
from connectors.schema import LIVE_MONITORING, PARSED_CLAIMS, RISK_SCORES, SERVING_COST_DAILY, SERVING_COSTS
from models.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from monitoring.alerts import Alert, WebhookError, open_retraining_item, post_webhook
from monitoring.drift import evidently_report
from monitoring.live import assess_day, verdict_row

LIVE_DAYS = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_offset=1)
LIVE_REPORT = "live_drift.html"
BASELINE_DAYS = 30


class LiveMonitoringConfig(dg.Config):
    """Thresholds of the daily verdict."""

    review_threshold: float = Field(0.5, description="Score from which a claim goes to a person (bias view).")
    min_claims_per_band: int = Field(30, description="Bands with fewer live claims are reported, not judged.")


class AlertsResource(dg.ConfigurableResource):
    """Where alerts go: a webhook (chat, pager) from `CLAIMFLOW_ALERT_WEBHOOK_URL`; empty sends none."""

    webhook_url: str = Field("", description="POST target for alert JSON; empty: review items only.")


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _day_frames(warehouse: WarehouseResource, day: str) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """(claims scored on `day` with features, earlier scores of the same versions, earlier confidence)."""
    wh = warehouse.get()
    start = pd.Timestamp(day)
    end, since = start + timedelta(days=1), start - timedelta(days=BASELINE_DAYS)
    scores = wh.read(f"select claim_number, model_version, score, scored_at from {RISK_SCORES} "
                     f"where scored_at >= ? and scored_at < ?", [since.to_pydatetime(), end.to_pydatetime()])
    today = scores[scores["scored_at"] >= start].sort_values("scored_at").drop_duplicates("claim_number", keep="last")
    earlier = scores[(scores["scored_at"] < start) & scores["model_version"].isin(today["model_version"].unique())]
    features = wh.read(f"select * from {dbt_relation('claim_features')}")
    confidence = wh.read(f"select claim_number, min_confidence, received_at from {PARSED_CLAIMS}")
    today = today.merge(features.drop(columns=["min_confidence"], errors="ignore"), on="claim_number", how="left")
    today = today.merge(confidence[["claim_number", "min_confidence"]], on="claim_number", how="left")
    received = pd.to_datetime(confidence["received_at"])
    earlier_conf = confidence.loc[(received < start) & (received >= since), "min_confidence"]
    return today, earlier["score"], earlier_conf


@dg.asset(
    group_name=MONITORING,
    partitions_def=LIVE_DAYS,
    deps=["risk_scores", "claim_features", "training_set", "parsed_claims"],
    kinds={"evidently", "duckdb"},
    check_specs=[
        dg.AssetCheckSpec("no_live_drift", asset="live_drift",
                          description="No feature, prediction or extraction-confidence drift that day."),
        dg.AssetCheckSpec("bias_within_four_fifths", asset="live_drift",
                          description="No region or age band singled out more than in training (0.8-1.25)."),
    ],
)
def live_drift(
    context: dg.AssetExecutionContext,
    config: LiveMonitoringConfig,
    warehouse: WarehouseResource,
    governance: GovernanceResource,
):
    """The served model's day: feature drift vs the champion's reference, prediction and confidence drift, bias."""
    day = context.partition_key
    today, earlier_scores, earlier_conf = _day_frames(warehouse, day)
    training, _, reference = load_training_set(warehouse)
    verdict = assess_day(day, today, reference, earlier_scores, earlier_conf, training,
                         review_threshold=config.review_threshold, share_threshold=governance.drift_share_limit,
                         min_claims=config.min_claims_per_band)
    report = None
    if verdict.feature_drift is not None:
        present = [c for c in (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES)
                   if today[c].notna().any() and reference[c].notna().any()]
        out = reports_dir() / day
        out.mkdir(parents=True, exist_ok=True, mode=0o700)
        report = str(evidently_report(reference, today, out / LIVE_REPORT,
                                      numeric=[c for c in NUMERIC_FEATURES if c in present],
                                      categorical=[c for c in CATEGORICAL_FEATURES if c in present],
                                      verdict=verdict.feature_drift))
    row = verdict_row(verdict, report) | {"assessed_at": _utc_now(), "run_id": context.run.run_id}
    wh = warehouse.get()
    with wh.transaction() as con:
        wh.upsert(con, LIVE_MONITORING, pd.DataFrame([row]))
    drift_alerts = [a for a in verdict.alerts if not a.startswith("bias")]
    bias_alerts = [a for a in verdict.alerts if a.startswith("bias")]
    return dg.MaterializeResult(
        metadata={
            "day": day, "claims": verdict.claims, "model_versions": ", ".join(verdict.model_versions) or "none",
            "share_drifted": row["share_drifted"], "drifted_columns": row["drifted_columns"] or "none",
            "prediction_drift": dg.MetadataValue.json(verdict.prediction_drift),
            "confidence_drift": dg.MetadataValue.json(verdict.confidence_drift),
            "report": dg.MetadataValue.path(report) if report else "no claims scored that day",
            "alerts": "\n".join(verdict.alerts) or "none",
        },
        check_results=[
            dg.AssetCheckResult(check_name="no_live_drift", passed=not drift_alerts,
                                severity=dg.AssetCheckSeverity.WARN,
                                metadata={"alerts": "\n".join(drift_alerts) or "none", "claims": verdict.claims}),
            dg.AssetCheckResult(check_name="bias_within_four_fifths", passed=not bias_alerts,
                                severity=dg.AssetCheckSeverity.WARN,
                                metadata={"bands": dg.MetadataValue.json(verdict.bias),
                                          "failed": "\n".join(bias_alerts) or "none"}),
        ],
    )


@dg.asset(
    group_name=MONITORING,
    partitions_def=LIVE_DAYS,
    deps=["serving_cost"],
    kinds={"triton", "duckdb"},
    check_specs=[dg.AssetCheckSpec("cost_within_budget", asset="serving_cost_daily",
                                   description="Serving cost per 1,000 inferences within the governance budget.")],
)
def serving_cost_daily(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                       governance: GovernanceResource):
    """Serving cost per inference per day and model version (from Triton's statistics), against the budget."""
    day = context.partition_key
    wh = warehouse.get()
    costs = wh.read(f"select * from {SERVING_COSTS} where substr(measured_at, 1, 10) = ?", [day])
    rows = []
    for version, part in costs.groupby("model_version"):
        last = part.sort_values("measured_at").iloc[-1]
        per_1k = float(last["cost_per_1k_usd"])
        rows.append({"day": day, "model_version": str(version), "inferences": int(last["inferences"]),
                     "cost_per_inference_usd": float(last["cost_per_inference_usd"]), "cost_per_1k_usd": per_1k,
                     "budget_per_1k_usd": governance.cost_budget_per_1k,
                     "over_budget": per_1k > governance.cost_budget_per_1k, "measured_at": _utc_now()})
    frame = pd.DataFrame(rows, columns=SERVING_COST_DAILY.column_names)
    with wh.transaction() as con:
        con.execute(f"delete from {SERVING_COST_DAILY} where day = ?", [day]).fetchall()
        wh.append(con, SERVING_COST_DAILY, frame)
    over = [r for r in rows if r["over_budget"]]
    return dg.MaterializeResult(
        metadata={"day": day, "versions": len(rows),
                  "cost_per_1k_usd": dg.MetadataValue.json({r["model_version"]: r["cost_per_1k_usd"] for r in rows})},
        check_results=[dg.AssetCheckResult(
            check_name="cost_within_budget", passed=not over, severity=dg.AssetCheckSeverity.WARN,
            metadata={"over_budget": ", ".join(r["model_version"] for r in over) or "none",
                      "budget_per_1k_usd": governance.cost_budget_per_1k})],
    )


live_monitoring_job = dg.define_asset_job(
    "live_monitoring", selection=[live_drift, serving_cost_daily], partitions_def=LIVE_DAYS,
    description="The served model's daily verdict: drift, bias and serving cost.",
)
live_monitoring_schedule = dg.build_schedule_from_partitioned_job(live_monitoring_job, hour_of_day=6, minute_of_hour=30)


def pending_alerts(warehouse_path: str, *, days: int = 7) -> list[Alert]:
    """Alerts the last `days` days' verdicts call for (drift or bias, cost over budget)."""
    con = duckdb.connect(warehouse_path, read_only=True)
    try:
        since = (datetime.now(UTC) - timedelta(days=days)).date().isoformat()
        live = con.execute(f"select * from {LIVE_MONITORING} where day >= ? and alerts <> ''", [since]).df()
        cost = con.execute(f"select * from {SERVING_COST_DAILY} where day >= ? and over_budget", [since]).df()
    finally:
        con.close()
    alerts = [Alert(day=r.day, kind="live_model", summary=r.alerts.replace("\n", "; "),
                    evidence={"claims": int(r.claims), "model_versions": r.model_versions,
                              "share_drifted": r.share_drifted, "drifted_columns": r.drifted_columns,
                              "prediction_drifted": bool(r.prediction_drifted),
                              "confidence_drifted": bool(r.confidence_drifted),
                              "bias_failed": int(r.bias_failed), "report": r.report})
              for r in live.itertuples(index=False)]
    alerts += [Alert(day=r.day, kind=f"serving_cost_v{r.model_version}",
                     summary=f"serving cost {r.cost_per_1k_usd:.6f} USD per 1,000 inferences of version "
                             f"{r.model_version} is over the budget {r.budget_per_1k_usd}",
                     evidence={"model_version": r.model_version, "cost_per_1k_usd": r.cost_per_1k_usd})
               for r in cost.itertuples(index=False)]
    return alerts


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED)
def live_monitoring_alert_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                                 system_of_record: SystemOfRecordResource, alerts: AlertsResource):
    """Raises each degraded day once: a webhook message and a "consider retraining" review item."""
    try:
        found = pending_alerts(warehouse.path)
    except duckdb.IOException:
        return dg.SkipReason("the warehouse is busy with a run; next tick")
    except duckdb.CatalogException:
        return dg.SkipReason("no live monitoring yet")
    seen = set((context.cursor or "").split(",")) - {""}
    raised = []
    for alert in found:
        if alert.key in seen:
            continue
        if alerts.webhook_url:
            try:
                post_webhook(alerts.webhook_url, alert)
            except WebhookError as err:
                context.log.warning(f"{alert.key}: {err}; retried next tick")
                continue
        open_retraining_item(system_of_record.url, alert)
        seen.add(alert.key)
        raised.append(alert.key)
    current = {a.key for a in found}  # keys age out with the window; the review item stays idempotent
    context.update_cursor(",".join(sorted(seen & current)))
    return dg.SkipReason(f"raised {len(raised)} alert(s): {', '.join(raised)}" if raised else "nothing new")
