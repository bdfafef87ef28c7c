"""Every raw warehouse table, declared once: name, columns with types, key and the domain that writes it.

Python assets land these tables in schema `raw`; dbt builds everything after them. Nothing
else in the product creates a table: `Warehouse.ensure_schema()` creates every table declared
here, once per process, and code refers to a table by its constant (`PARSED_CLAIMS`), which
renders as its qualified name in SQL (`f"select * from {PARSED_CLAIMS}"`).

To add a table: declare it below with `table(...)` under its domain's heading; the key is what
`Warehouse.upsert` / `insert_new` match rows on unless told otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

RAW_SCHEMA = "raw"

# The domains that own raw tables (the writer of a table is the only place that changes its shape).
CLAIMS = "claims"
TRAINING = "training"
SERVING = "serving"
MONITORING = "monitoring"
SOCIAL = "social"


@dataclass(frozen=True)
class Table:
    """One raw table: `str(table)` is its qualified name, ready for SQL."""

    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    owner: str
    doc: str = ""
    schema: str = RAW_SCHEMA

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]

    def ddl(self) -> str:
        """`create table if not exists` for this table (the key becomes the primary key)."""
        cols = [f'"{c}" {t}' for c, t in self.columns]
        if self.key:
            cols.append("primary key (" + ", ".join(f'"{k}"' for k in self.key) + ")")
        return f"create table if not exists {self.qualified} (\n    " + ",\n    ".join(cols) + "\n)"

    def __str__(self) -> str:
        return self.qualified


TABLES: dict[str, Table] = {}


def _columns(spec: str) -> tuple[tuple[str, str], ...]:
    """'name type, name type(14,2), ...' -> ((name, type), ...); commas inside parentheses stay."""
    out, depth, part = [], 0, ""
    for ch in spec + ",":
        if ch == "," and depth == 0:
            if part.strip():
                name, typ = part.strip().split(None, 1)
                out.append((name.strip('"'), typ.strip()))
            part = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        part += ch
    return tuple(out)


def table(name: str, columns: str, *, key: tuple[str, ...] | str = (), owner: str, doc: str = "") -> Table:
    """Declare a raw table (and register it for `Warehouse.ensure_schema`)."""
    if name in TABLES:
        raise ValueError(f"raw table {name!r} is declared twice")
    key = (key,) if isinstance(key, str) else tuple(key)
    declared = Table(name=name, columns=_columns(columns), key=key, owner=owner, doc=doc)
    unknown = set(key) - set(declared.column_names)
    if unknown:
        raise ValueError(f"key {sorted(unknown)} of {name!r} is not among its columns")
    TABLES[name] = declared
    return declared


def tables(owner: str | None = None) -> list[Table]:
    """Every declared table (of one owner domain), in declaration order."""
    return [t for t in TABLES.values() if owner is None or t.owner == owner]


# ------------------------------------------------------------------ claims: intake

CLAIM_EMAILS = table(
    "claim_emails",
    """content_hash varchar, message_id varchar, inbox_key varchar, received_at timestamp,
    sender varchar, sender_name varchar, subject varchar, body_text varchar, html_only boolean,
    attachments varchar, photos varchar, defects varchar, parse_error varchar, parse_error_detail varchar,
    in_reply_to varchar, "references" varchar, ingested_at timestamp, run_id varchar, header_facts varchar""",
    key="content_hash",
    owner=CLAIMS,
    doc="One row per distinct inbox message, keyed by its content hash (header_facts: JSON of what the "
        "reader needs beyond the text: recipients, the writer's UTC offset, auto-reply/list/bounce signals).",
)
EMAIL_RECEIPTS = table(
    "email_receipts",
    """inbox_key varchar, content_hash varchar, size bigint, delivered_at timestamp,
    ingested_at timestamp, duplicate boolean, run_id varchar""",
    key="inbox_key",
    owner=CLAIMS,
    doc="One row per inbox file read, duplicates flagged.",
)
CLAIM_MESSAGES = table(
    "claim_messages",
    """content_hash varchar, claim_number varchar, relation varchar, linked_by varchar,
    processed_at timestamp, extractor_version varchar, run_id varchar""",
    key="content_hash",
    owner=CLAIMS,
    doc="Which claim each message became or followed up.",
)
PARSED_CLAIMS = table(
    "parsed_claims",
    """claim_number varchar, policy_number varchar, incident_date date, loss_type varchar,
    estimated_amount decimal(14,2), currency varchar, description varchar, contact_email varchar,
    contact_phone varchar, photos varchar, photo_count integer, confidence varchar, provenance varchar,
    min_confidence double, sender varchar, source_content_hash varchar, received_at timestamp,
    last_received_at timestamp, message_count integer, follow_up_count integer,
    extractor_version varchar, updated_run_id varchar, suspicious_signals varchar, language varchar,
    disposition varchar""",
    key="claim_number",
    owner=CLAIMS,
    doc="One row per claim: canonical fields, per-field confidence and provenance.",
)
QUARANTINED = table(
    "quarantined_emails",
    """content_hash varchar, inbox_key varchar, sender varchar, subject varchar,
    reason varchar, detail varchar, received_at timestamp, quarantined_at timestamp,
    extractor_version varchar, run_id varchar""",
    key="content_hash",
    owner=CLAIMS,
    doc="Every message that could not become a claim, with the reason.",
)
CLAIM_NOTES = table(
    "claim_notes",
    """content_hash varchar, claim_number varchar, sender varchar, changes varchar, status varchar,
    noted_at timestamp, run_id varchar""",
    key="content_hash",
    owner=CLAIMS,
    doc="A follow-up from a sender not allowed to change the claim: the changes it proposes, for a person.",
)
POLICIES = table(
    "policies",
    """policy_number varchar, holder_name varchar, holder_email varchar, holder_phone varchar,
    holder_address varchar, status varchar, start_date date, end_date date, lapsed_on date,
    covered_loss_types varchar, area varchar, bonus_malus integer, driver_age integer, vehicle_age integer,
    vehicle_brand varchar, vehicle_power integer, past_claims integer, exposure double""",
    key="policy_number",
    owner=CLAIMS,
    doc="The policy register, copied from the system of record.",
)
PHOTO_QUALITY = table(
    "photo_quality",
    """claim_number varchar, sha256 varchar, score double, verdict varchar, reasons varchar,
    phash varchar, reused_in varchar, quality varchar, assessed_at timestamp, run_id varchar""",
    key=("claim_number", "sha256"),
    owner=CLAIMS,
    doc="Per claim photo: quality verdict and reuse across claims.",
)
MODEL_CALLS = table(
    "model_calls",
    """claim_ref varchar, purpose varchar, provenance varchar, fallback_reason varchar, model varchar,
    cost_usd double, usage varchar, injection_signals varchar, called_at timestamp, run_id varchar""",
    owner=CLAIMS,
    doc="Every language-model call: provenance, usage and cost (append-only).",
)

# ------------------------------------------------------------------ claims: triage

TRIAGE_DECISIONS = table(
    "triage_decisions",
    """claim_number varchar, model_version varchar, queue varchar, rule varchar, reason varchar,
    inputs varchar, input_hash varchar, needs_human boolean, skill varchar, proposed_queue varchar,
    policy_verdict varchar, policy_reason varchar, risk_score double, received_at timestamp,
    decided_at timestamp, run_id varchar""",
    key=("claim_number", "model_version"),
    owner=CLAIMS,
    doc="Where each claim goes, the rule that fired and its inputs.",
)
STATUS_DRAFTS = table(
    "status_drafts",
    """claim_number varchar, model_version varchar, subject varchar, body varchar, payload varchar,
    provenance varchar, cost_usd double, drafted_at timestamp, run_id varchar""",
    key=("claim_number", "model_version"),
    owner=CLAIMS,
    doc="The customer's status message per decision (text and JSON).",
)

# ------------------------------------------------------------------ training

# Closed claims from the claims system: labels for training, and the lookback for prior claims.
CLAIMS_HISTORY = table(
    "claims_history",
    """claim_number varchar, policy_number varchar, incident_date date, reported_date date,
    report_delay_days integer, loss_type varchar, estimated_amount double, currency varchar,
    estimated_amount_eur double, photo_count integer, photo_quality double, prior_claims integer,
    needed_specialist boolean, fraud_confirmed boolean, final_cost double, closed_date date,
    high_risk boolean, label_source varchar""",
    key="claim_number",
    owner=TRAINING,
    doc="Closed claims with their outcomes: the labels.",
)
REVIEW_LABELS = table(
    "review_labels",
    "claim_number varchar, high_risk boolean, reviewer varchar, decided_at timestamp, reason varchar",
    owner=TRAINING,
    doc="Reviewers' decisions as labels (replaced wholesale on each materialization).",
)

# ------------------------------------------------------------------ serving

RISK_SCORES = table(
    "risk_scores",
    """claim_number varchar, model_version varchar, score double, served_by varchar,
    scored_at timestamp, run_id varchar""",
    key=("claim_number", "model_version"),
    owner=SERVING,
    doc="P(high risk) per claim and the model version that scored it.",
)
SERVING_COSTS = table(
    "serving_costs",
    """source varchar, model_version bigint, inferences bigint, compute_seconds double,
    price_per_hour double, measured_at varchar, seconds_per_inference double,
    cost_per_inference_usd double, cost_per_1k_usd double, queue_share double""",
    owner=SERVING,
    doc="Cost per inference of the live version, one row per measurement (append-only).",
)

# ------------------------------------------------------------------ monitoring

TRIAGE_KPIS = table(
    "triage_kpis",
    "measured_at timestamp, kpis varchar",
    owner=MONITORING,
    doc="KPI history: one JSON document per measurement (append-only).",
)
CLAIM_STEPS = table(
    "claim_steps",
    """claim_number varchar, step varchar, run_id varchar, trace_id varchar, span_id varchar,
    started_at timestamp, ended_at timestamp, status varchar, attributes varchar""",
    key="span_id",
    owner=MONITORING,
    doc="The step ledger: one span per claim milestone (the claim's trace, see assets/monitoring/traces.py).",
)
LIVE_MONITORING = table(
    "live_monitoring",
    """day varchar, claims integer, model_versions varchar, share_drifted double, drifted_columns varchar,
    dataset_drifted boolean, prediction_drifted boolean, confidence_drifted boolean, bias_failed integer,
    alerts varchar, report varchar, assessed_at timestamp, run_id varchar""",
    key="day",
    owner=MONITORING,
    doc="The served model's daily verdict: feature, prediction and confidence drift, bias (one row per day).",
)
SERVING_COST_DAILY = table(
    "serving_cost_daily",
    """day varchar, model_version varchar, inferences bigint, cost_per_inference_usd double,
    cost_per_1k_usd double, budget_per_1k_usd double, over_budget boolean, measured_at timestamp""",
    key=("day", "model_version"),
    owner=MONITORING,
    doc="Serving cost per inference per day and version, against the budget.",
)

# ------------------------------------------------------------------ social listening

SOCIAL_POSTS = table(
    "social_posts",
    """post_id bigint, canonical_id bigint, is_copy boolean, created_at timestamp, hour timestamp,
    lang varchar, text varchar, text_hash varchar, author_hash varchar, region varchar, matched varchar,
    topic varchar, entity varchar, retweets integer, replies integer, likes integer, quotes integer,
    pulled_at timestamp, run_id varchar""",
    key="post_id",
    owner=SOCIAL,
    doc="One row per distinct public post: only the fields needed, author pseudonymised, copies linked; "
        "deleted after the retention period.",
)
SOCIAL_CHECKPOINTS = table(
    "social_checkpoints",
    "query_name varchar, checkpoint varchar, posts_pulled bigint, pulled_until timestamp, updated_at timestamp, "
    "run_id varchar",
    key="query_name",
    owner=SOCIAL,
    doc="Where each query's recent search stands (since_id, and a gap left by an interrupted pull).",
)
POST_SENTIMENT = table(
    "post_sentiment",
    """post_id bigint, hour timestamp, lang varchar, compound double, label varchar, scored_by varchar,
    model varchar, cost_usd double, reason varchar, scored_at timestamp, run_id varchar""",
    key="post_id",
    owner=SOCIAL,
    doc="Sentiment of each distinct post (copies inherit it): VADER, Claude or unscored, with the cost.",
)
TREND_SIGNALS = table(
    "trend_signals",
    """hour timestamp, topic varchar, scope varchar, volume integer, expected double, ratio double,
    surprise double, alert boolean, negative_share double, computed_at timestamp, run_id varchar""",
    key=("hour", "topic", "scope"),
    owner=SOCIAL,
    doc="Hourly volume per topic and scope against the seasonal baseline, surprise and alert.",
)
CLAIMS_SURGE_FORECAST = table(
    "claims_surge_forecast",
    """ticket_id varchar, event_key varchar, peril varchar, loss_type varchar, region varchar,
    onset timestamp, exposed_policies integer, attack_rate double, intensity double, expected_claims double,
    expected_next_7_days double, expected_by_day varchar, forecast_at timestamp, run_id varchar""",
    key="ticket_id",
    owner=SOCIAL,
    doc="Expected extra claims after a catastrophe in a region, for claims operations.",
)
