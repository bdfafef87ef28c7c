"""CLAIMFLOW_ENV=prod: every missing setting named in one line (exit 2), and the inbox kind chosen by setting."""

from __future__ import annotations

import subprocess
import sys

import pytest

from orchestration.environment import Environment
from orchestration.settings import (
    INBOX_KINDS,
    PROD_REQUIRED,
    SettingsError,
    check_prod_settings,
    missing_prod_settings,
)

FULL_PROD = {
    "CLAIMFLOW_ENV": "prod", "CLAIMFLOW_SOR_URL": "postgresql+psycopg2://u@db/sor",
    "CLAIMFLOW_CLAIMS_SYSTEM_URL": "postgresql+psycopg2://u@db/claims", "CLAIMFLOW_WAREHOUSE": "postgresql://u@db/warehouse",
    "CLAIMFLOW_ATTACHMENTS_DIR": "/attachments", "MLFLOW_TRACKING_URI": "http://mlflow:5000",
    "CLAIMFLOW_TRITON_GRPC_URL": "triton:8001", "CLAIMFLOW_TRITON_REPOSITORY": "/triton-models",
    "CLAIMFLOW_PG_HOST": "db", "CLAIMFLOW_PG_USER": "claimflow", "CLAIMFLOW_PG_DBNAME": "warehouse",
    "CLAIMFLOW_INBOX": "imap", "CLAIMFLOW_IMAP_HOST": "imap.example", "CLAIMFLOW_IMAP_USER": "claims@example",
    "CLAIMFLOW_IMAP_PASSWORD": "pw",
}  # fmt: skip


def test_prod_names_every_missing_setting_and_local_needs_none():
    assert missing_prod_settings({}) == [] and missing_prod_settings({"CLAIMFLOW_ENV": "local"}) == []
    assert missing_prod_settings({"CLAIMFLOW_ENV": "prod"}) == [*PROD_REQUIRED, *INBOX_KINDS["maildir"]]
    assert missing_prod_settings(FULL_PROD) == []
    partial = {**FULL_PROD, "CLAIMFLOW_SOR_URL": "", "CLAIMFLOW_IMAP_PASSWORD": " "}
    assert missing_prod_settings(partial) == ["CLAIMFLOW_SOR_URL", "CLAIMFLOW_IMAP_PASSWORD"]
    with pytest.raises(SettingsError, match="CLAIMFLOW_INBOX='pop3'"):
        missing_prod_settings({**FULL_PROD, "CLAIMFLOW_INBOX": "pop3"})


def test_prod_refuses_a_warehouse_file_because_dbt_prod_reads_the_raw_tables_from_postgres():
    check_prod_settings(FULL_PROD)
    with pytest.raises(SettingsError, match="CLAIMFLOW_WAREHOUSE must be a postgresql:// URL"):
        check_prod_settings({**FULL_PROD, "CLAIMFLOW_WAREHOUSE": "/data/wh.duckdb"})


def test_the_cli_in_prod_exits_2_with_one_line_naming_each_missing_setting(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "CLAIMFLOW_ENV": "prod", "CLAIMFLOW_HOME": str(tmp_path),
           "CLAIMFLOW_SOR_URL": "sqlite:///x.db"}  # fmt: skip
    out = subprocess.run(check=False, args=[sys.executable, "-m", "orchestration.cli", "audit", "verify"], env=env,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert out.returncode == 2 and out.stdout == ""
    (line,) = out.stderr.strip().splitlines()
    missing = [*PROD_REQUIRED, "CLAIMFLOW_INBOX_DIR"]
    missing.remove("CLAIMFLOW_SOR_URL")
    assert line == "claimflow: CLAIMFLOW_ENV=prod needs these settings, unset: " + ", ".join(missing)


def test_prod_reads_the_imap_mailbox_with_its_password_from_the_environment(monkeypatch):
    from assets.mailboxes import ImapInboxResource
    from orchestration.resources import resources_for

    for name, value in FULL_PROD.items():
        monkeypatch.setenv(name, value)
    inbox = resources_for(Environment.PROD)["inbox"]
    assert isinstance(inbox, ImapInboxResource)
    assert "pw" not in repr(inbox)  # an EnvVar reference, resolved when a run starts
    monkeypatch.setenv("CLAIMFLOW_INBOX", "maildir")
    assert type(resources_for(Environment.PROD)["inbox"]).__name__ == "InboxResource"


def test_prod_reads_a_microsoft_365_mailbox_when_told_to(monkeypatch):
    from assets.mailboxes import GraphInboxResource
    from orchestration.resources import resources_for

    graph = {"CLAIMFLOW_INBOX": "graph", "CLAIMFLOW_GRAPH_TENANT_ID": "t", "CLAIMFLOW_GRAPH_CLIENT_ID": "c",
             "CLAIMFLOW_GRAPH_CLIENT_SECRET": "secret-value", "CLAIMFLOW_GRAPH_MAILBOX": "claims@insurer.example"}  # fmt: skip
    assert missing_prod_settings({**FULL_PROD, "CLAIMFLOW_INBOX": "graph"})[-1] == "CLAIMFLOW_GRAPH_MAILBOX"
    for name, value in {**FULL_PROD, **graph}.items():
        monkeypatch.setenv(name, value)
    assert missing_prod_settings() == []
    inbox = resources_for(Environment.PROD)["inbox"]
    assert isinstance(inbox, GraphInboxResource) and "secret-value" not in repr(inbox)
