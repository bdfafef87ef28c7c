"""Dagster resources over the outside systems; the clients themselves live in `connectors/`.

`orchestration/resources.py` decides which configuration each environment gets.
"""

from __future__ import annotations

import contextlib
import os
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from mlflow import MlflowClient
from pydantic import Field, PrivateAttr

from connectors.attachments import AttachmentStore
from connectors.audit import AuditLog
from connectors.inbox import MaildirInbox
from connectors.mail import MAX_ATTACHMENT_BYTES
from connectors.samples.history import generate_claims_history
from connectors.schema import CLAIMS_HISTORY
from connectors.system_of_record import ClaimsSystem, PolicySystem, SqlPolicySystem
from connectors.warehouse import Warehouse, open_warehouse
from models.claude import ClaudeClient, ClaudeConfig
from models.registry import MODEL_NAME, GovernancePolicy, ModelRegistry


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse that raw tables land in and dbt builds on: a DuckDB file (embedded default) or, in
    PROD, a PostgreSQL database (`postgresql://...`, the one the dbt `prod` target builds in).

    Every raw table of `connectors/schema.py` exists once a run has set this resource up
    (once per process and file), so asset bodies run no DDL. On a DuckDB file a run holds the
    warehouse's lock from set-up to tear-down (connectors/warehouse_lock.py): runs launched by the
    CLI, the daemon or the UI wait for each other instead of failing on DuckDB's lock.
    """

    path: str = Field(description="DuckDB database file, or a postgresql:// URL (PROD).")
    lock_wait_s: float = Field(
        900.0, description="How long a run waits for another run to release a DuckDB warehouse, then fails in one line."
    )
    _lock: contextlib.ExitStack | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if "://" not in self.path:  # a file, not a database server: one writer at a time
            from connectors.warehouse_lock import hold_warehouse, lock_path

            stack = contextlib.ExitStack()
            stack.enter_context(hold_warehouse(
                lock_path(self.path), who=f"run {context.run_id}" if context.run_id else "a Dagster run",
                wait_s=self.lock_wait_s,
                on_wait=lambda other: context.log.info(f"waiting for the warehouse, held by {other}"),
            ))
            self._lock = stack
        try:
            self.get().ensure_schema()
        except BaseException:
            self.teardown_after_execution(context)
            raise

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def get(self) -> Warehouse:
        return open_warehouse(self.path)


class InboxResource(dg.ConfigurableResource):
    """The claims mailbox: a Maildir-style folder (`new/`, `cur/`, `tmp/`)."""

    root: str = Field(description="Maildir root folder.")
    max_attachment_bytes: int = Field(MAX_ATTACHMENT_BYTES, description="Larger attachments are skipped.")

    def get(self) -> MaildirInbox:
        inbox = MaildirInbox(self.root)
        inbox.ensure()
        return inbox


class AttachmentStoreResource(dg.ConfigurableResource):
    """Content-addressed store of e-mail attachments."""

    root: str = Field(description="Folder; files are kept under their sha256.")

    def get(self) -> AttachmentStore:
        return AttachmentStore(self.root)


class SystemOfRecordResource(dg.ConfigurableResource):
    """The insurer's system of record (any SQLAlchemy URL): policy register and audit log."""

    url: str = Field(description="SQLAlchemy URL, e.g. sqlite:////path/sor.db or postgresql+psycopg://...")

    def policies(self) -> PolicySystem:
        return SqlPolicySystem(self._ready_url())

    def audit(self) -> AuditLog:
        return AuditLog(self._ready_url())

    def claims(self) -> ClaimsSystem:
        """The claims system (status, assignments, outbox, review queue), its tables created if missing."""
        system = ClaimsSystem(self._ready_url())
        system.ensure_schema()
        return system

    def assign_claim_numbers(self, requests: list[tuple[str, str | None, int]], floor: dict[int, int]) -> dict[str, str]:
        """Claim numbers for first notices of loss, keyed by the mail's content hash (idempotent)."""
        from connectors.system_of_record import assign_claim_numbers

        return assign_claim_numbers(self._ready_url(), requests, floor=floor)

    def _ready_url(self) -> str:
        # A SQLite file under a fresh $CLAIMFLOW_HOME needs its folder before the first connection.
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return self.url


class MlflowResource(dg.ConfigurableResource):
    """The MLflow tracking server and model registry, reached through a client object (never the
    process-global `mlflow.set_tracking_uri`, which would leak between runs in one process)."""

    tracking_uri: str = Field(description="e.g. http://127.0.0.1:5000")
    experiment: str = Field("claims_risk", description="Experiment the training runs go to.")

    def client(self) -> MlflowClient:
        return MlflowClient(self.tracking_uri)


class ClaudeResource(dg.ConfigurableResource):
    """Claude through the `anthropic` SDK when an API key is in the environment; otherwise `client()` is
    None and the deterministic rule extractor and template drafter stand in (provenance says so)."""

    api_key_env: str = Field("ANTHROPIC_API_KEY", description="Variable holding the key (the key never sits in config).")
    base_url: str = Field("", description="A Claude-compatible endpoint; empty means ANTHROPIC_BASE_URL or Anthropic's.")

    def client(self) -> ClaudeClient | None:
        """A client to close after use, or None for the stand-in."""
        key = (os.environ.get(self.api_key_env) or "").strip()
        if not key:
            return None
        base_url = self.base_url or (os.environ.get("ANTHROPIC_BASE_URL") or "").strip() or None
        return ClaudeClient(ClaudeConfig.from_env(), api_key=key, base_url=base_url)


class TemplateClaudeResource(ClaudeResource):
    """The stand-in only: rules extract, templates draft, nothing leaves the machine."""

    def client(self) -> ClaudeClient | None:
        return None


class ClaimsHistoryResource(dg.ConfigurableResource):
    """Where closed claims with their outcomes come from (the labels of the risk model)."""

    def fetch(self, policies: pd.DataFrame, *, rows: int, seed: int, start: date, end: date) -> pd.DataFrame:
        """Closed claims with incidents in [start, end], columns as `raw.claims_history`."""
        raise NotImplementedError

    @property
    def source(self) -> str:
        raise NotImplementedError


class SampleClaimsHistoryResource(ClaimsHistoryResource):
    """The embedded default: the sample claims system (docs/claims_history.md), drawn over the real
    policy register, `rows` claims from `seed`."""

    def fetch(self, policies: pd.DataFrame, *, rows: int, seed: int, start: date, end: date) -> pd.DataFrame:
        return generate_claims_history(policies, n=rows, seed=seed, start=start, end=end)

    @property
    def source(self) -> str:
        return "sample claims system (docs/claims_history.md)"


class SqlClaimsHistoryResource(ClaimsHistoryResource):
    """The insurer's claims system: closed claims read from a table with the `raw.claims_history` columns."""

    url: str = Field(description="SQLAlchemy URL of the claims system (read-only access is enough).")
    table: str = Field("closed_claims", description="Table (or view) of closed claims.")

    def fetch(self, policies: pd.DataFrame, *, rows: int, seed: int, start: date, end: date) -> pd.DataFrame:
        engine = sa.create_engine(self.url)
        try:
            source = sa.Table(self.table, sa.MetaData(), autoload_with=engine)
            query = sa.select(*(source.c[c] for c in CLAIMS_HISTORY.column_names)).where(
                source.c.incident_date.between(start, end)
            )
            with engine.connect() as con:
                frame = pd.read_sql(query, con)
        finally:
            engine.dispose()
        for col in ("incident_date", "reported_date", "closed_date"):
            frame[col] = pd.to_datetime(frame[col]).dt.date
        return frame

    @property
    def source(self) -> str:
        return f"claims system table {self.table}"


class GovernanceResource(dg.ConfigurableResource):
    """Who may approve models, and the budgets and floors the gates hold candidates to."""

    approvers: list[str] = Field(description="Names allowed to approve or reject a model version.")
    trained_by: str = Field(description="Who a training run is recorded as trained by (four eyes).")
    auc_floor: float = Field(0.70, description="First model: minimum holdout ROC AUC.")
    brier_ceiling: float = Field(0.20, description="First model: maximum holdout Brier score.")
    auc_tolerance: float = Field(0.005, description="A challenger may trail the champion's ROC AUC by this much.")
    recall_tolerance: float = Field(0.02, description="... and its recall at the review threshold by this much.")
    min_auc_improvement: float = Field(
        0.002, description="A challenger must beat the champion's holdout ROC AUC by at least this much."
    )
    equal_model_reason: str = Field(
        "", description="Stated reason to let a challenger without that gain pass (empty: no equal model passes)."
    )
    drift_share_limit: float = Field(
        0.5, description="Share of drifted features at which the drift gate fails (Evidently's data set rule)."
    )
    drift_window_days: int = Field(60, description="Recent claims window compared with the training data.")
    serving_price_per_hour: float = Field(0.40, description="USD per hour of the serving hardware.")
    cost_budget_per_1k: float = Field(0.001, description="USD per 1,000 inferences the serving tier may cost.")


def registry_for(mlflow: MlflowResource, system_of_record: SystemOfRecordResource, governance: GovernanceResource):
    """The model registry over MLflow, writing its audit entries to the configured system of record."""
    policy = GovernancePolicy(approvers=tuple(governance.approvers))
    return ModelRegistry(mlflow.tracking_uri, system_of_record.audit(), policy, name=MODEL_NAME)
