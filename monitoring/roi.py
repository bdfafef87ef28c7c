"""Does Claimflow pay? The financial model a product leader asks for, and the measured yield it rests on.

Two halves, both plain functions (no Dagster):

- the model: FTE cost saved (handler minutes per manual step x claims per month x loaded cost
  per hour, scaled by the share of each step the platform takes over) against platform compute,
  model cost (tokens priced with the dated table in `models/pricing.py`), integration and
  monitoring effort; monthly cash flows, break-even month, NPV, and a one-at-a-time sensitivity;
- the measurement: what a `$CLAIMFLOW_HOME` (warehouse + system of record) shows the platform
  actually did: cycle time, share decided without a person, manual steps avoided by step,
  review-queue age, reviewer overrides, cost per claim; and the social flow's figures once its
  tables exist.

Money is USD throughout (the price table and the serving cost are in USD). Cash-flow convention:
month 1 is the first month of the project; every flow falls at the end of its month; the
annual discount rate is converted to the equivalent monthly rate, (1 + r) ** (1 / 12) - 1.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from connectors import schema
from connectors.system_of_record import claims_table, outbox_table, review_items_table
from models.pricing import PRICE_TABLE, PriceTable, TokenUsage

__all__ = [
    "DEFAULT_SENSITIVITY",
    "MANUAL_STEPS",
    "MeasuredYield",
    "RoiParameters",
    "SensitivityInput",
    "SocialFigures",
    "StepMinutes",
    "assumptions_table",
    "break_even_month",
    "cash_flows",
    "cost_per_claim_split",
    "llm_cost_per_claim",
    "measure_social",
    "measure_yield",
    "monthly_platform_cost",
    "monthly_rate",
    "npv",
    "platform_cost_lines",
    "summarise",
    "tornado",
]

HOURS_PER_MONTH = 730.0  # 8,760 h / 12: how cloud list prices turn hourly into monthly

# The five manual steps a handler does per claim without Claimflow (issue 16's breakdown).
MANUAL_STEPS: tuple[str, ...] = ("policy_lookup", "reading", "routing", "system_update", "status_message")


def _p(unit: str, source: str):
    return {"unit": unit, "source": source}


@dataclass(frozen=True)
class StepMinutes:
    """Handler minutes per claim for each manual step, done by hand."""

    policy_lookup: float = field(default=5.0, metadata=_p(
        "min/claim", "assumption: open the policy system, find the contract, check dates and cover"))
    reading: float = field(default=8.0, metadata=_p(
        "min/claim", "assumption: read the mail and attachments, key claim number, date, amount, type"))
    routing: float = field(default=4.0, metadata=_p(
        "min/claim", "assumption: judge severity and fraud signals, pick a queue and a handler"))
    system_update: float = field(default=4.0, metadata=_p(
        "min/claim", "assumption: open the claim in the claims system, set status and assignment"))
    status_message: float = field(default=6.0, metadata=_p(
        "min/claim", "assumption: write the customer's acknowledgement with the next step"))

    def total(self) -> float:
        return sum(getattr(self, s) for s in MANUAL_STEPS)

    def scaled(self, factor: float) -> StepMinutes:
        return StepMinutes(**{s: getattr(self, s) * factor for s in MANUAL_STEPS})


# Approximate on-demand list prices (AWS us-east-1, Linux), read by the author for this model;
# they are inputs, not facts about your contract: replace them with the prices you pay.
_NODE_SOURCE = "assumption: approximate AWS us-east-1 on-demand list price"


@dataclass(frozen=True)
class RoiParameters:
    """Every input of the financial model, with its unit and where its value comes from.

    Values marked "assumption" are stated, not measured: the notebook's parameters cell and
    the tornado show how much the answer moves with each.
    """

    months: int = field(default=24, metadata=_p("months", "horizon asked for: 12 to 24 months"))
    annual_discount_rate: float = field(default=0.10, metadata=_p(
        "per year", "assumption: a typical insurer's hurdle rate for IT projects"))
    claims_per_month: float = field(default=2_000.0, metadata=_p(
        "claims/month", "assumption: a mid-sized motor book (about 24,000 claims a year)"))
    step_minutes: StepMinutes = field(default_factory=StepMinutes, metadata=_p(
        "min/claim", "assumption per step, see StepMinutes; replace with the claims team's time study"))
    loaded_cost_per_hour: float = field(default=40.0, metadata=_p(
        "USD/h", "assumption: EUR 35k gross + 45% employer charges over 1,607 h (French 35-h year), "
                 "+15% overhead, at 1.08 USD/EUR"))
    automation_scale: float = field(default=1.0, metadata=_p(
        "x measured", "1.0 = the shares of steps avoided measured on the warehouse; the tornado varies it"))
    # Platform compute (the scale-out deployment of deploy/: Dagster on Kubernetes, MLflow, Triton, Postgres).
    dagster_nodes: int = field(default=1, metadata=_p("nodes", "deploy/: webserver + daemon + run workers"))
    dagster_node_per_hour: float = field(default=0.192, metadata=_p("USD/h", f"{_NODE_SOURCE}, m6i.xlarge"))
    mlflow_nodes: int = field(default=1, metadata=_p("nodes", "deploy/: one tracking server"))
    mlflow_node_per_hour: float = field(default=0.096, metadata=_p("USD/h", f"{_NODE_SOURCE}, m6i.large"))
    triton_cpu_nodes: int = field(default=2, metadata=_p("nodes", "two for availability; bench/serving.py: "
                                                         "one CPU node scores far more than this volume"))
    triton_cpu_node_per_hour: float = field(default=0.192, metadata=_p("USD/h", f"{_NODE_SOURCE}, m6i.xlarge"))
    triton_gpu_nodes: int = field(default=0, metadata=_p("nodes", "none needed for a tree model at this volume"))
    triton_gpu_node_per_hour: float = field(default=0.526, metadata=_p("USD/h", f"{_NODE_SOURCE}, g4dn.xlarge"))
    postgres_per_hour: float = field(default=0.152, metadata=_p(
        "USD/h", f"{_NODE_SOURCE}, managed Postgres db.m6g.large"))
    storage_and_network_per_month: float = field(default=100.0, metadata=_p(
        "USD/month", "assumption: object store for artifacts and attachments, backups, egress"))
    # Model cost: tokens per claim priced with the dated table of models/pricing.py.
    llm_model: str = field(default="claude-haiku-4-5", metadata=_p("model id", "models/pricing.py price table"))
    llm_input_tokens_per_claim: int = field(default=1_500, metadata=_p(
        "tokens/claim", "assumption: status draft prompt + redacted fields, extraction help on some claims"))
    llm_output_tokens_per_claim: int = field(default=350, metadata=_p(
        "tokens/claim", "assumption: a status message and its JSON"))
    llm_batch_share: float = field(default=0.0, metadata=_p(
        "share", "share of calls through the Message Batches API (half price)"))
    serving_cost_per_claim: float = field(default=0.0, metadata=_p(
        "USD/claim", "measured: Triton compute per inference x serving price (raw.serving_costs)"))
    # People.
    engineer_cost_per_month: float = field(default=14_000.0, metadata=_p(
        "USD/month", "assumption: loaded cost of a data/platform engineer"))
    integration_person_months: float = field(default=6.0, metadata=_p(
        "person-months", "assumption: mailbox, policy and claims systems, SSO, security review, go-live"))
    integration_months: int = field(default=3, metadata=_p(
        "months", "assumption: integration before go-live; savings start the month after"))
    ramp_months: int = field(default=3, metadata=_p(
        "months", "assumption: adoption grows linearly to 100% over this many months after go-live"))
    monitoring_fte: float = field(default=0.25, metadata=_p(
        "FTE", "assumption: drift and cost gates, approvals, on-call, upgrades"))

    def with_changes(self, **changes) -> RoiParameters:
        return replace(self, **changes)


def assumptions_table(params: RoiParameters) -> pd.DataFrame:
    """One row per input: name, value, unit, source (the notebook shows it above the model)."""
    rows = []
    for f in fields(params):
        value = getattr(params, f.name)
        if isinstance(value, StepMinutes):
            for s in fields(value):
                rows.append({"input": f"minutes: {s.name}", "value": getattr(value, s.name),
                             "unit": s.metadata["unit"], "source": s.metadata["source"]})
            continue
        rows.append({"input": f.name, "value": value, "unit": f.metadata.get("unit", ""),
                     "source": f.metadata.get("source", "")})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ the model


def monthly_rate(annual_rate: float) -> float:
    """The monthly rate equivalent to `annual_rate` compounded monthly."""
    if annual_rate <= -1:
        raise ValueError("a discount rate must be above -100%")
    return (1.0 + annual_rate) ** (1.0 / 12.0) - 1.0


def npv(flows: Sequence[float], annual_rate: float) -> float:
    """Net present value of monthly flows, flow t (1-based) discounted by (1 + monthly rate) ** t."""
    r = monthly_rate(annual_rate)
    return float(sum(cf / (1.0 + r) ** t for t, cf in enumerate(flows, start=1)))


def break_even_month(flows: Sequence[float]) -> int | None:
    """The first month (1-based) from which the cumulative flow stays at or above zero; None within the horizon.

    "Stays": a project that crosses zero and dips again (a second investment) has not broken even.
    """
    cumulative = np.cumsum(np.asarray(flows, dtype=float))
    below = np.flatnonzero(cumulative < 0)
    if len(cumulative) == 0:
        return None
    if len(below) == 0:
        return 1
    last_below = int(below[-1])
    return last_below + 2 if last_below + 1 < len(cumulative) else None


def platform_cost_lines(params: RoiParameters) -> dict[str, float]:
    """Monthly platform cost by component, USD."""
    h = HOURS_PER_MONTH
    return {
        "Dagster": params.dagster_nodes * params.dagster_node_per_hour * h,
        "MLflow": params.mlflow_nodes * params.mlflow_node_per_hour * h,
        "Triton CPU": params.triton_cpu_nodes * params.triton_cpu_node_per_hour * h,
        "Triton GPU": params.triton_gpu_nodes * params.triton_gpu_node_per_hour * h,
        "Postgres": params.postgres_per_hour * h,
        "storage and network": params.storage_and_network_per_month,
    }


def monthly_platform_cost(params: RoiParameters) -> float:
    return float(sum(platform_cost_lines(params).values()))


def llm_cost_per_claim(params: RoiParameters, table: PriceTable = PRICE_TABLE) -> float:
    """USD per claim for the assumed tokens, at the dated list price (batch share at the batch discount)."""
    usage = TokenUsage(input_tokens=params.llm_input_tokens_per_claim,
                       output_tokens=params.llm_output_tokens_per_claim)
    price = table.for_model(params.llm_model)
    share = Decimal(str(params.llm_batch_share))
    cost = price.cost(usage) * (1 - share) + price.cost(usage, batch=True) * share
    return float(cost)


def _avoided_minutes(params: RoiParameters, steps_avoided: dict[str, float]) -> float:
    """Handler minutes per claim the platform takes over, given the share of claims each step is avoided on."""
    missing = [s for s in MANUAL_STEPS if s not in steps_avoided]
    if missing:
        raise ValueError(f"steps_avoided lacks {', '.join(missing)}")
    return sum(
        getattr(params.step_minutes, s) * min(1.0, max(0.0, steps_avoided[s] * params.automation_scale))
        for s in MANUAL_STEPS
    )


def cash_flows(params: RoiParameters, steps_avoided: dict[str, float],
               table: PriceTable = PRICE_TABLE) -> pd.DataFrame:
    """Monthly cash flows over `params.months`, one row per month, USD.

    `steps_avoided` maps each of `MANUAL_STEPS` to the share of claims on which the step needs no
    person (measured by `measure_yield`). Savings start after integration and ramp linearly;
    platform and monitoring run from month 1; the integration effort is spread over the
    integration months.
    """
    if params.months < 1:
        raise ValueError("the horizon must be at least one month")
    minutes = _avoided_minutes(params, steps_avoided)
    full_saving = params.claims_per_month * minutes / 60.0 * params.loaded_cost_per_hour
    per_claim_run = llm_cost_per_claim(params, table) + params.serving_cost_per_claim
    platform = monthly_platform_cost(params)
    monitoring = params.monitoring_fte * params.engineer_cost_per_month
    integration_total = params.integration_person_months * params.engineer_cost_per_month
    rows = []
    for month in range(1, params.months + 1):
        live = month - params.integration_months  # months since go-live (1 = first live month)
        adoption = 0.0 if live < 1 else min(1.0, live / params.ramp_months) if params.ramp_months > 0 else 1.0
        integration = integration_total / params.integration_months if 0 < month <= params.integration_months else 0.0
        if params.integration_months == 0 and month == 1:
            integration = integration_total
        claims = params.claims_per_month * adoption
        saving = full_saving * adoption
        model = claims * per_claim_run
        rows.append({
            "month": month, "adoption": adoption, "claims_automated": claims, "fte_cost_saved": saving,
            "platform": -platform, "model": -model, "integration": -integration, "monitoring": -monitoring,
        })
    frame = pd.DataFrame(rows)
    frame["net"] = frame[["fte_cost_saved", "platform", "model", "integration", "monitoring"]].sum(axis=1)
    frame["cumulative"] = frame["net"].cumsum()
    r = monthly_rate(params.annual_discount_rate)
    frame["discounted"] = frame["net"] / (1.0 + r) ** frame["month"]
    frame["cumulative_discounted"] = frame["discounted"].cumsum()
    frame.attrs["handler_minutes_avoided_per_claim"] = minutes
    frame.attrs["fte_hours_saved_per_month_at_full_adoption"] = params.claims_per_month * minutes / 60.0
    return frame


def summarise(params: RoiParameters, steps_avoided: dict[str, float], table: PriceTable = PRICE_TABLE) -> dict:
    """The headline figures: break-even month, NPV, totals over the horizon."""
    flows = cash_flows(params, steps_avoided, table)
    return {
        "months": params.months,
        "break_even_month": break_even_month(flows["net"]),
        "discounted_break_even_month": break_even_month(flows["discounted"]),
        "npv_usd": npv(flows["net"], params.annual_discount_rate),
        "annual_discount_rate": params.annual_discount_rate,
        "total_saved_usd": float(flows["fte_cost_saved"].sum()),
        "total_cost_usd": float(-flows[["platform", "model", "integration", "monitoring"]].sum().sum()),
        "handler_minutes_avoided_per_claim": flows.attrs["handler_minutes_avoided_per_claim"],
        "fte_hours_saved_per_month": flows.attrs["fte_hours_saved_per_month_at_full_adoption"],
    }


@dataclass(frozen=True)
class SensitivityInput:
    """One uncertain input of the tornado: a label, its low and high value, and how to set it."""

    label: str
    low: float
    high: float
    apply: Callable[[RoiParameters, float], RoiParameters]
    unit: str = ""


DEFAULT_SENSITIVITY: tuple[SensitivityInput, ...] = (
    SensitivityInput("handler minutes per claim (x assumed)", 0.6, 1.4,
                     lambda p, v: p.with_changes(step_minutes=p.step_minutes.scaled(v)), "x"),
    SensitivityInput("loaded cost per handler hour", 30.0, 55.0,
                     lambda p, v: p.with_changes(loaded_cost_per_hour=v), "USD/h"),
    SensitivityInput("claims per month", 1_000.0, 4_000.0,
                     lambda p, v: p.with_changes(claims_per_month=v), "claims"),
    SensitivityInput("automation yield (x measured)", 0.7, 1.1,
                     lambda p, v: p.with_changes(automation_scale=v), "x"),
    SensitivityInput("integration effort", 3.0, 12.0,
                     lambda p, v: p.with_changes(integration_person_months=v), "person-months"),
)


def tornado(params: RoiParameters, steps_avoided: dict[str, float],
            inputs: Sequence[SensitivityInput] = DEFAULT_SENSITIVITY, table: PriceTable = PRICE_TABLE) -> pd.DataFrame:
    """One-at-a-time sensitivity of the NPV: each input at its low and high value, the others at base.

    Sorted by swing, widest first (the top bar of the tornado).
    """
    base = npv(cash_flows(params, steps_avoided, table)["net"], params.annual_discount_rate)
    rows = []
    for item in inputs:
        at = {}
        for end in ("low", "high"):
            changed = item.apply(params, getattr(item, end))
            at[end] = npv(cash_flows(changed, steps_avoided, table)["net"], changed.annual_discount_rate)
        rows.append({"input": item.label, "unit": item.unit, "low": item.low, "high": item.high,
                     "npv_low": at["low"], "npv_high": at["high"], "base_npv": base,
                     "swing": abs(at["high"] - at["low"])})
    return pd.DataFrame(rows).sort_values("swing", ascending=False).reset_index(drop=True)


# ------------------------------------------------------------------ the measurement

# What a decision row says about the steps a person still did. Rule names and the verdict code
# mirror assets/claims/routing.RULES and assets/claims/verification.VERIFIED (monitoring sits below
# assets); tests/unit/test_roi.py fails if they drift apart.
READING_RULES: tuple[str, ...] = ("R1_low_extraction_confidence", "R2_suspicious_content")
VERIFIED = "verified"


@dataclass
class MeasuredYield:
    """What the platform did on a home's claims, read from the warehouse and the system of record."""

    claims_decided: int
    first_decided_at: pd.Timestamp | None
    last_decided_at: pd.Timestamp | None
    cycle_time_hours: pd.Series  # delivery -> decision, one value per decided claim with a delivery time
    still_open: int  # held for a person and not decided yet (not in the cycle-time distribution)
    share_without_person: float
    steps_avoided: dict[str, float]
    by_queue: dict[str, int]
    review_waiting_age_minutes: pd.Series
    reviewer_decisions: int
    reviewer_overrides: int
    serving_cost_per_claim: float | None
    llm_cost_per_claim: float
    model_calls: int
    drafters: dict[str, int]

    @property
    def error_rate(self) -> float | None:
        """Reviewer overrides per reviewer decision (None before anyone decided)."""
        return self.reviewer_overrides / self.reviewer_decisions if self.reviewer_decisions else None

    @property
    def override_share_of_all_decisions(self) -> float | None:
        return self.reviewer_overrides / self.claims_decided if self.claims_decided else None


class MissingWarehouse(FileNotFoundError):
    """The home has no warehouse, or no triage decision in it yet: nothing to measure."""


def _sor_exists(sor_url: str) -> bool:
    if sor_url.startswith("sqlite:///"):
        return Path(sor_url.removeprefix("sqlite:///")).exists()
    return True


def _tables(con, in_schema: str = schema.RAW_SCHEMA) -> set[str]:
    return {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [in_schema]).fetchall()}


def _read_sor(sor_url: str, table: str) -> pd.DataFrame:
    """A whole system-of-record table, or an empty frame when the system or the table is not there yet."""
    import sqlalchemy as sa

    if not _sor_exists(sor_url):
        return pd.DataFrame()
    engine = sa.create_engine(sor_url)
    try:
        if not sa.inspect(engine).has_table(table):
            return pd.DataFrame()
        with engine.connect() as con:
            return pd.read_sql(sa.text(f"select * from {table}"), con)
    finally:
        engine.dispose()


def measure_yield(warehouse: Path, sor_url: str, *, now: pd.Timestamp | None = None) -> MeasuredYield:
    """Read what the platform did from the warehouse (`triage_decisions`, `status_drafts`, `model_calls`,
    `serving_costs`, `risk_scores`) and the system of record (`review_items`, `outbox`, `claims`).

    Per claim its latest machine decision counts. A step is avoided when no person had to do it:
    reading (no hold for extraction confidence or suspicious content), policy lookup (the policy
    verified automatically), routing (the claim went straight to a work queue), system update
    (the claims system holds the machine's write) and status message (a draft waits in the outbox).
    """
    import duckdb

    warehouse = Path(warehouse)
    if not warehouse.exists():
        raise MissingWarehouse(f"no warehouse at {warehouse}: run the demo or the claims flow first")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        present = _tables(con)
        if schema.TRIAGE_DECISIONS.name not in present:
            raise MissingWarehouse(f"the warehouse at {warehouse} has no triage decisions yet: run the triage")
        decisions = con.execute(
            f"select claim_number, queue, rule, policy_verdict, received_at, decided_at "
            f"from {schema.TRIAGE_DECISIONS}").df()
        if decisions.empty:  # the tables exist before anything is decided (ensure_schema creates them)
            raise MissingWarehouse(f"the warehouse at {warehouse} has no triage decisions yet: run the triage")
        drafts = con.execute(f"select claim_number, provenance, cost_usd from {schema.STATUS_DRAFTS}").df() \
            if schema.STATUS_DRAFTS.name in present else pd.DataFrame(columns=["claim_number", "provenance", "cost_usd"])
        calls = con.execute(f"select cost_usd from {schema.MODEL_CALLS}").df() \
            if schema.MODEL_CALLS.name in present else pd.DataFrame(columns=["cost_usd"])
        serving = con.execute(
            f"select sum(compute_seconds * price_per_hour / 3600) / nullif(sum(inferences), 0) "
            f"from {schema.SERVING_COSTS}").fetchone()[0] if schema.SERVING_COSTS.name in present else None
        scores_per_claim = con.execute(
            f"select count(*) / nullif(count(distinct claim_number), 0) from {schema.RISK_SCORES}"
        ).fetchone()[0] if schema.RISK_SCORES.name in present else None

    reviews = _read_sor(sor_url, review_items_table.name)
    outbox = _read_sor(sor_url, outbox_table.name)
    sor_claims = _read_sor(sor_url, claims_table.name)
    now = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC").tz_localize(None)

    latest = decisions.sort_values("decided_at").groupby("claim_number").tail(1).set_index("claim_number")
    first_decided = decisions.groupby("claim_number")["decided_at"].min()
    n = len(latest)
    held = latest["queue"].isin(("human_review", "fraud_review"))

    # Delivery -> decision: the machine's first decision, or the reviewer's for a held claim.
    decided_at = pd.to_datetime(first_decided.reindex(latest.index))
    if not reviews.empty:
        done = reviews[reviews["status"] == "decided"].sort_values("decided_at").groupby("claim_number").tail(1)
        reviewer_at = pd.to_datetime(done.set_index("claim_number")["decided_at"])
        decided_at = decided_at.where(~held, reviewer_at.reindex(latest.index))
    else:
        decided_at = decided_at.where(~held)
    received = pd.to_datetime(latest["received_at"])
    cycle = ((decided_at - received).dt.total_seconds() / 3600).dropna()
    still_open = int((held & decided_at.isna()).sum())

    written = set(sor_claims["claim_number"]) if not sor_claims.empty else set()
    messaged = set(outbox["claim_number"]) if not outbox.empty else set()
    index = latest.index
    steps = {
        "policy_lookup": float((latest["policy_verdict"] == VERIFIED).mean()) if n else 0.0,
        "reading": float((~latest["rule"].isin(READING_RULES)).mean()) if n else 0.0,
        "routing": float((~held).mean()) if n else 0.0,
        "system_update": float(index.isin(written).mean()) if n else 0.0,
        "status_message": float(index.isin(messaged).mean()) if n else 0.0,
    }

    if reviews.empty:
        waiting_age = pd.Series(dtype=float)
        decided_reviews = overrides = 0
    else:
        waiting = reviews[reviews["status"] == "waiting"]
        waiting_age = ((now - pd.to_datetime(waiting["created_at"])).dt.total_seconds() / 60).reset_index(drop=True)
        decided_reviews = int((reviews["status"] == "decided").sum())
        overrides = int((reviews["decision"] == "override").sum())

    llm_total = float(drafts["cost_usd"].fillna(0).sum()) + float(calls["cost_usd"].fillna(0).sum())
    drafters: dict[str, int] = {}
    for text in drafts["provenance"].dropna():
        try:
            name = json.loads(text).get("drafter", "unknown")
        except (TypeError, ValueError):
            name = "unknown"
        drafters[name] = drafters.get(name, 0) + 1
    serving_per_claim = None
    if serving is not None and not (isinstance(serving, float) and math.isnan(serving)):
        serving_per_claim = float(serving) * float(scores_per_claim or 1.0)
    return MeasuredYield(
        claims_decided=n,
        first_decided_at=pd.to_datetime(decisions["decided_at"]).min() if n else None,
        last_decided_at=pd.to_datetime(decisions["decided_at"]).max() if n else None,
        cycle_time_hours=cycle.reset_index(drop=True),
        still_open=still_open,
        share_without_person=float((~held).mean()) if n else 0.0,
        steps_avoided=steps,
        by_queue={str(k): int(v) for k, v in latest["queue"].value_counts().items()},
        review_waiting_age_minutes=waiting_age,
        reviewer_decisions=decided_reviews,
        reviewer_overrides=overrides,
        serving_cost_per_claim=serving_per_claim,
        llm_cost_per_claim=llm_total / n if n else 0.0,
        model_calls=len(calls),
        drafters=drafters,
    )


def cost_per_claim_split(measured: MeasuredYield, params: RoiParameters) -> dict[str, float]:
    """USD per claim: serving (measured on Triton), LLM tokens (measured), platform (monthly cost / volume)."""
    return {
        "serving": measured.serving_cost_per_claim or 0.0,
        "LLM tokens": measured.llm_cost_per_claim,
        "platform": monthly_platform_cost(params) / params.claims_per_month,
    }


@dataclass
class SocialFigures:
    """The social flow's figures: tickets opened, detection delay, handler time saved."""

    posts_read: int
    tickets: int
    tickets_by_severity: dict[str, int]
    detection_delay_minutes: pd.Series | None  # None when the tickets do not carry the timestamps
    handler_hours_saved: float
    notes: list[str]


# The social flow's tables (issue 13): the ticket store in the system of record, posts in the warehouse.
SOCIAL_TICKETS = "social_tickets"
SOCIAL_POSTS = "social_posts"
SOCIAL_SECONDS_PER_POST = 20.0  # assumption: a person skimming a post in a monitoring tool
SOCIAL_MINUTES_PER_TICKET = 10.0  # assumption: writing up an event and opening the ticket by hand


def measure_social(warehouse: Path, sor_url: str, *, seconds_per_post: float = SOCIAL_SECONDS_PER_POST,
                   minutes_per_ticket: float = SOCIAL_MINUTES_PER_TICKET) -> SocialFigures | None:
    """The social flow's figures, or None when the flow has not run (no ticket and no post yet).

    Tickets are the system of record's `social_tickets` (one per detected event), posts the
    warehouse's `social_posts`. Detection delay is a ticket's creation minus its event's onset.
    """
    import duckdb

    tickets = _read_sor(sor_url, SOCIAL_TICKETS)
    posts = 0
    warehouse = Path(warehouse)
    if warehouse.exists():
        with duckdb.connect(str(warehouse), read_only=True) as con:
            if SOCIAL_POSTS in _tables(con):
                posts = con.execute(f"select count(*) from {schema.RAW_SCHEMA}.{SOCIAL_POSTS}").fetchone()[0]
    if tickets.empty and not posts:
        return None
    notes = []
    severity = tickets["severity"].astype(str).value_counts().to_dict() if "severity" in tickets else {}
    delay = None
    if {"created_at", "onset"} <= set(tickets.columns):
        delay = ((pd.to_datetime(tickets["created_at"]) - pd.to_datetime(tickets["onset"])).dt.total_seconds()
                 / 60).dropna().reset_index(drop=True)
        if len(delay) and delay.max() > 7 * 24 * 60:
            notes.append("some events began more than a week before their ticket: replayed posts measure the "
                         "replay, not live detection")
    elif len(tickets):
        notes.append("tickets carry no onset and creation time: detection delay not measured")
    hours = posts * seconds_per_post / 3600 + len(tickets) * minutes_per_ticket / 60
    return SocialFigures(int(posts), len(tickets), {str(k): int(v) for k, v in severity.items()}, delay, hours, notes)
