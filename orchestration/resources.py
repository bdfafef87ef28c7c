"""Resources per environment: one dict each, the same keys in every environment.

Every value comes from `orchestration.settings`. In PROD the service locations that may carry
credentials (system of record, MLflow) stay `dg.EnvVar` references, resolved when a run
starts, so their values never appear in the definitions or the UI.
"""

from __future__ import annotations

import os

import dagster as dg

from assets.dbt.project import dbt_resource
from assets.monitoring.live import AlertsResource
from assets.monitoring.telemetry import TelemetryResource
from assets.resources import (
    AttachmentStoreResource,
    ClaudeResource,
    GovernanceResource,
    InboxResource,
    MlflowResource,
    SampleClaimsHistoryResource,
    SqlClaimsHistoryResource,
    SystemOfRecordResource,
    WarehouseResource,
)
from assets.serving.assets import TritonResource
from assets.social.resources import local_x_resource, prod_x_resource
from orchestration.environment import Environment
from orchestration.settings import DEMO_APPROVER, Settings, settings

__all__ = ["DEMO_APPROVER", "current_user", "resources_for"]


def current_user() -> str:
    """Who is running this: the owner of the API token in `CLAIMFLOW_API_TOKEN`, else `CLAIMFLOW_USER`,
    else the login name (a service account). Four eyes compares it with the authenticated approver."""
    from connectors.identity import TOKEN_ENV, username_for_token

    token = os.environ.get(TOKEN_ENV)
    if token and settings().sor_url:
        owner = username_for_token(settings().ready_sor_url(), token)
        if owner:
            return owner
    return settings().user


def _local(s: Settings) -> dict:
    return {
        "inbox": InboxResource(root=str(s.inbox_dir)),
        "attachments": AttachmentStoreResource(root=str(s.attachments_dir)),
        "warehouse": WarehouseResource(path=str(s.warehouse_path)),
        # The same URL the CLI writes to: CLAIMFLOW_SOR_URL when set, else the SQLite file.
        "system_of_record": SystemOfRecordResource(url=s.sor_url),
        "dbt": dbt_resource(s.dbt_target),
        "mlflow": MlflowResource(tracking_uri=s.mlflow_tracking_uri),
        # The real SDK when ANTHROPIC_API_KEY is set (the demo without a key: the template stand-in).
        "claude": ClaudeResource(),
        "history_source": SampleClaimsHistoryResource(),
        "governance": GovernanceResource(approvers=list(s.approvers), trained_by=current_user()),
        "triton": TritonResource(
            url_grpc=s.triton_grpc_url,
            repository=str(s.triton_repository),
            onnx_fallback=s.scoring_fallback_onnx,
        ),
        "x": local_x_resource(),
        "telemetry": TelemetryResource(home=str(s.home), otlp_endpoint=s.otlp_endpoint),
        "alerts": AlertsResource(webhook_url=s.alert_webhook_url),
    }


def _prod_inbox() -> InboxResource:
    """`CLAIMFLOW_INBOX`: `imap` (checkpoints in the system of record), `graph` (Microsoft 365), else Maildir."""
    env = os.environ
    kind = (env.get("CLAIMFLOW_INBOX") or "maildir").strip().lower()
    if kind == "graph":
        from assets.mailboxes import GraphInboxResource

        return GraphInboxResource(
            tenant_id=dg.EnvVar("CLAIMFLOW_GRAPH_TENANT_ID"),
            client_id=dg.EnvVar("CLAIMFLOW_GRAPH_CLIENT_ID"),
            client_secret=dg.EnvVar("CLAIMFLOW_GRAPH_CLIENT_SECRET"),
            mailbox=dg.EnvVar("CLAIMFLOW_GRAPH_MAILBOX"),
            folder=env.get("CLAIMFLOW_GRAPH_FOLDER") or "inbox",
            processed_folder=env.get("CLAIMFLOW_GRAPH_PROCESSED_FOLDER") or "Processed",
        )
    if kind != "imap":
        return InboxResource(root=dg.EnvVar("CLAIMFLOW_INBOX_DIR"))
    from assets.mailboxes import ImapInboxResource

    return ImapInboxResource(
        host=dg.EnvVar("CLAIMFLOW_IMAP_HOST"),
        port=int(env.get("CLAIMFLOW_IMAP_PORT") or 993),
        security=env.get("CLAIMFLOW_IMAP_SECURITY") or "ssl",
        user=dg.EnvVar("CLAIMFLOW_IMAP_USER"),
        password=dg.EnvVar("CLAIMFLOW_IMAP_PASSWORD"),
        folder=env.get("CLAIMFLOW_IMAP_FOLDER") or "INBOX",
        processed_folder=env.get("CLAIMFLOW_IMAP_PROCESSED_FOLDER") or "Processed",
        checkpoint_url=dg.EnvVar("CLAIMFLOW_SOR_URL"),
    )


def _prod(s: Settings) -> dict:
    return {
        "inbox": _prod_inbox(),
        "attachments": AttachmentStoreResource(root=dg.EnvVar("CLAIMFLOW_ATTACHMENTS_DIR")),
        "warehouse": WarehouseResource(path=dg.EnvVar("CLAIMFLOW_WAREHOUSE")),
        "system_of_record": SystemOfRecordResource(url=dg.EnvVar("CLAIMFLOW_SOR_URL")),
        "dbt": dbt_resource(s.dbt_target),  # prod: Postgres
        "mlflow": MlflowResource(tracking_uri=dg.EnvVar("MLFLOW_TRACKING_URI")),
        "claude": ClaudeResource(),
        "history_source": SqlClaimsHistoryResource(url=dg.EnvVar("CLAIMFLOW_CLAIMS_SYSTEM_URL")),
        # No default approvers in production (settings): nobody approves until CLAIMFLOW_APPROVERS names them.
        "governance": GovernanceResource(approvers=list(s.approvers), trained_by=current_user()),
        "triton": TritonResource(
            url_grpc=dg.EnvVar("CLAIMFLOW_TRITON_GRPC_URL"),
            repository=dg.EnvVar("CLAIMFLOW_TRITON_REPOSITORY"),
            onnx_fallback=s.scoring_fallback_onnx,
        ),
        "x": prod_x_resource(),
        "telemetry": TelemetryResource(home=str(s.home), otlp_endpoint=s.otlp_endpoint),
        "alerts": AlertsResource(webhook_url=s.alert_webhook_url),
    }


def resources_for(env: Environment | None = None, s: Settings | None = None) -> dict:
    """The resource dict for `env` (default: the settings' environment)."""
    s = s or settings()
    if env is not None and env is not s.env:  # asked for the other environment (tests, snapshots)
        s = Settings.from_environ({**os.environ, "CLAIMFLOW_ENV": env.value})
    return {Environment.LOCAL: _local, Environment.PROD: _prod}[env or s.env](s)
