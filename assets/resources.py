"""Dagster resources over the outside systems; the clients themselves live in `connectors/`.

`orchestration/resources.py` decides which configuration each environment gets.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from connectors.attachments import AttachmentStore
from connectors.audit import AuditLog
from connectors.inbox import MaildirInbox
from connectors.mail import MAX_ATTACHMENT_BYTES
from connectors.system_of_record import ClaimsSystem, PolicySystem, SqlPolicySystem
from connectors.warehouse import Warehouse
from models.registry import MODEL_NAME, GovernancePolicy, ModelRegistry


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file that raw tables land in and dbt builds on.

    Every raw table of `connectors/schema.py` exists once a run has set this resource up
    (once per process and file), so asset bodies run no DDL.
    """

    path: str = Field(description="DuckDB database file.")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self.get().ensure_schema()

    def get(self) -> Warehouse:
        return Warehouse(self.path)


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

    def _ready_url(self) -> str:
        # A SQLite file under a fresh $CLAIMFLOW_HOME needs its folder before the first connection.
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return self.url


class MlflowResource(dg.ConfigurableResource):
    """The MLflow tracking server and model registry."""

    tracking_uri: str = Field(description="e.g. http://127.0.0.1:5000")
    experiment: str = Field("claims_risk", description="Experiment the training runs go to.")


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
