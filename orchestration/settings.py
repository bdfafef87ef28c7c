"""Claimflow's settings: one frozen object, read from the environment once, used by every entry point.

Definitions and resources, the CLI, the runner and the benches all take their values from
`settings()`; nothing below `orchestration/` reads these variables (values are passed down).
`.env.example` documents every variable. Paths under `$CLAIMFLOW_HOME` keep their layout in
`assets/project.py`; the dbt target derives from `CLAIMFLOW_ENV` in `assets/dbt/project.py`,
because the dbt project is known at import time.

The object is cached per environment: reading it twice in one process costs nothing, and a
test that changes a variable gets a fresh object (the cache key is the variables themselves).
"""

from __future__ import annotations

import functools
import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from assets import project as paths
from orchestration.environment import Environment, parse_environment

# The embedded default approves with a named demo approver, and says so wherever it does.
DEMO_APPROVER = "demo.approver"
LOCAL_APPROVERS = (DEMO_APPROVER, "risk.officer")

# Every variable the settings read (the cache key); secrets such as API keys are read by the
# resource that needs them, from the environment, and never held here.
VARIABLES = (
    "CLAIMFLOW_ENV", "CLAIMFLOW_HOME", "CLAIMFLOW_SOR_URL", "CLAIMFLOW_WAREHOUSE", "CLAIMFLOW_INBOX_DIR",
    "CLAIMFLOW_ATTACHMENTS_DIR", "MLFLOW_TRACKING_URI", "CLAIMFLOW_MLFLOW_PORT", "CLAIMFLOW_TRITON_HTTP_PORT",
    "CLAIMFLOW_TRITON_GRPC_PORT", "CLAIMFLOW_TRITON_METRICS_PORT", "CLAIMFLOW_TRITON_GRPC_URL",
    "CLAIMFLOW_TRITON_REPOSITORY", "CLAIMFLOW_SCORING_FALLBACK", "CLAIMFLOW_APPROVERS", "CLAIMFLOW_USER",
    "CLAIMFLOW_DBT_TARGET", "OTEL_EXPORTER_OTLP_ENDPOINT", "CLAIMFLOW_ALERT_WEBHOOK_URL",
    "CLAIMFLOW_WEB_PORT", "CLAIMFLOW_PUBLIC_URL", "CLAIMFLOW_OIDC_ISSUER", "CLAIMFLOW_OIDC_CLIENT_ID",
    "CLAIMFLOW_METRICS_PORT", "CLAIMFLOW_MAX_RUNS_IN_FLIGHT", "CLAIMFLOW_INBOX",
)  # fmt: skip


class SettingsError(ValueError):
    """A variable holds something unusable; the message names it."""


# PROD names every service by the environment and has no default for these (deploy/README.md).
PROD_REQUIRED = (
    "CLAIMFLOW_SOR_URL", "CLAIMFLOW_CLAIMS_SYSTEM_URL", "CLAIMFLOW_WAREHOUSE", "CLAIMFLOW_ATTACHMENTS_DIR",
    "MLFLOW_TRACKING_URI", "CLAIMFLOW_TRITON_GRPC_URL", "CLAIMFLOW_TRITON_REPOSITORY",
    "CLAIMFLOW_PG_HOST", "CLAIMFLOW_PG_USER", "CLAIMFLOW_PG_DBNAME",
)  # fmt: skip
# Where claims mail arrives in PROD (`CLAIMFLOW_INBOX`), and what each kind needs.
INBOX_KINDS = {
    "maildir": ("CLAIMFLOW_INBOX_DIR",),
    "imap": ("CLAIMFLOW_IMAP_HOST", "CLAIMFLOW_IMAP_USER", "CLAIMFLOW_IMAP_PASSWORD"),
    "graph": ("CLAIMFLOW_GRAPH_TENANT_ID", "CLAIMFLOW_GRAPH_CLIENT_ID", "CLAIMFLOW_GRAPH_CLIENT_SECRET",
              "CLAIMFLOW_GRAPH_MAILBOX"),
}


def missing_prod_settings(environ: Mapping[str, str] | None = None) -> list[str]:
    """The variables `CLAIMFLOW_ENV=prod` needs that are unset or empty; [] outside PROD."""
    e = os.environ if environ is None else environ
    if parse_environment(e.get("CLAIMFLOW_ENV")) is not Environment.PROD:
        return []
    kind = (e.get("CLAIMFLOW_INBOX") or "maildir").strip().lower()
    if kind not in INBOX_KINDS:
        raise SettingsError(f"CLAIMFLOW_INBOX={kind!r} is not one of: {', '.join(INBOX_KINDS)}")
    return [name for name in (*PROD_REQUIRED, *INBOX_KINDS[kind]) if not (e.get(name) or "").strip()]


def check_prod_settings(environ: Mapping[str, str] | None = None) -> None:
    """Raise one `SettingsError` naming every missing PROD variable (nothing outside PROD)."""
    missing = missing_prod_settings(environ)
    if missing:
        raise SettingsError(f"CLAIMFLOW_ENV=prod needs these settings, unset: {', '.join(missing)}")
    e = os.environ if environ is None else environ
    if parse_environment(e.get("CLAIMFLOW_ENV")) is not Environment.PROD:
        return
    from connectors.warehouse import POSTGRES_SCHEMES  # here: duckdb and pandas stay out of `claimflow --help`

    if not (e.get("CLAIMFLOW_WAREHOUSE") or "").strip().startswith(POSTGRES_SCHEMES):
        # dbt's prod target reads the raw tables from Postgres: Python assets writing a file would feed it nothing.
        raise SettingsError("CLAIMFLOW_WAREHOUSE must be a postgresql:// URL when CLAIMFLOW_ENV=prod "
                            "(the database of the dbt prod target, CLAIMFLOW_PG_*)")


@dataclass(frozen=True)
class Settings:
    """Every setting of one process. LOCAL fills the embedded defaults; PROD names its services."""

    env: Environment
    home: Path
    sor_url: str | None  # None only in PROD without CLAIMFLOW_SOR_URL
    warehouse_path: Path
    inbox_dir: Path
    attachments_dir: Path
    mlflow_tracking_uri: str
    mlflow_port: int
    triton_http_port: int
    triton_grpc_port: int
    triton_metrics_port: int
    triton_grpc_url: str
    triton_repository: Path
    scoring_fallback_onnx: bool
    approvers: tuple[str, ...]  # server-side: who may approve a model version
    user: str
    dbt_target: str
    otlp_endpoint: str
    alert_webhook_url: str
    web_port: int = 8090  # the review workspace (`claimflow web`), on 127.0.0.1
    public_url: str = ""  # where people reach the workspace (https: cookies are Secure); "" = loopback
    oidc_issuer: str = ""  # the insurer's identity provider; "" = local passwords only
    oidc_client_id: str = ""
    metrics_port: int = 9464  # `claimflow metrics serve`, on 127.0.0.1
    max_runs_in_flight: int = 4  # claims runs queued or running before the inbox sensor waits

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from `environ` (default: the process environment)."""
        e = os.environ if environ is None else environ
        get = lambda name: (e.get(name) or "").strip() or None  # empty counts as unset
        env = parse_environment(e.get("CLAIMFLOW_ENV"))
        home = Path(get("CLAIMFLOW_HOME") or paths.PROJECT_ROOT / ".claimflow").resolve()
        local = env is Environment.LOCAL
        tracking = get("MLFLOW_TRACKING_URI")
        # A local server started by the demo/ui listens where the tracking URI points, if one is given.
        mlflow_port = urlsplit(tracking).port if tracking and urlsplit(tracking).port else _port(
            get, "CLAIMFLOW_MLFLOW_PORT", 5000)
        http, grpc, metrics = (_port(get, f"CLAIMFLOW_TRITON_{n}_PORT", d)
                               for n, d in (("HTTP", 8000), ("GRPC", 8001), ("METRICS", 8002)))
        approvers = get("CLAIMFLOW_APPROVERS")
        return cls(
            env=env,
            home=home,
            sor_url=get("CLAIMFLOW_SOR_URL") or (f"sqlite:///{home / 'system_of_record.db'}" if local else None),
            warehouse_path=Path(get("CLAIMFLOW_WAREHOUSE") or home / "warehouse.duckdb"),
            inbox_dir=Path(get("CLAIMFLOW_INBOX_DIR") or home / "inbox"),
            attachments_dir=Path(get("CLAIMFLOW_ATTACHMENTS_DIR") or home / "attachments"),
            mlflow_tracking_uri=tracking or f"http://127.0.0.1:{mlflow_port}",
            mlflow_port=mlflow_port,
            triton_http_port=http,
            triton_grpc_port=grpc,
            triton_metrics_port=metrics,
            triton_grpc_url=get("CLAIMFLOW_TRITON_GRPC_URL") or f"127.0.0.1:{grpc}",
            triton_repository=Path(get("CLAIMFLOW_TRITON_REPOSITORY") or home / "triton" / "models"),
            scoring_fallback_onnx=get("CLAIMFLOW_SCORING_FALLBACK") == "onnxruntime",
            # No default approvers in production: nobody approves until CLAIMFLOW_APPROVERS names them.
            approvers=tuple(n.strip() for n in approvers.split(",") if n.strip()) if approvers
            else (LOCAL_APPROVERS if local else ()),
            user=get("CLAIMFLOW_USER") or getpass.getuser(),
            dbt_target=get("CLAIMFLOW_DBT_TARGET") or paths.dbt_target_for(env.value),
            otlp_endpoint=get("OTEL_EXPORTER_OTLP_ENDPOINT") or "",
            alert_webhook_url=get("CLAIMFLOW_ALERT_WEBHOOK_URL") or "",
            web_port=_port(get, "CLAIMFLOW_WEB_PORT", 8090),
            public_url=(get("CLAIMFLOW_PUBLIC_URL") or "").rstrip("/"),
            oidc_issuer=(get("CLAIMFLOW_OIDC_ISSUER") or "").rstrip("/"),
            oidc_client_id=get("CLAIMFLOW_OIDC_CLIENT_ID") or "",
            metrics_port=_port(get, "CLAIMFLOW_METRICS_PORT", 9464),
            max_runs_in_flight=_positive(get, "CLAIMFLOW_MAX_RUNS_IN_FLIGHT", 4),
        )

    def ready_sor_url(self) -> str:
        """The system of record's URL, its SQLite folder made on first use."""
        if self.sor_url is None:
            raise SettingsError("CLAIMFLOW_SOR_URL is not set (required when CLAIMFLOW_ENV=prod)")
        if self.sor_url.startswith("sqlite:///"):
            Path(self.sor_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return self.sor_url


def _positive(get, name: str, default: int) -> int:
    raw = get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(f"{name}={raw!r} is not a positive whole number")
    return int(raw)


def _port(get, name: str, default: int) -> int:
    raw = get(name)
    if raw is None:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise SettingsError(f"{name}={port} is not a port number")
    return port


@functools.lru_cache(maxsize=8)
def _cached(items: tuple[tuple[str, str | None], ...]) -> Settings:
    return Settings.from_environ({k: v for k, v in items if v is not None})


def settings() -> Settings:
    """The settings of this process's environment (read once per distinct environment)."""
    return _cached(tuple((name, os.environ.get(name)) for name in VARIABLES))
