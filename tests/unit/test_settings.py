"""Settings are read in one place: LOCAL fills the embedded defaults, PROD names its services."""

from pathlib import Path

import pytest

from orchestration.environment import Environment
from orchestration.settings import DEMO_APPROVER, Settings, SettingsError, settings


def test_local_defaults_live_under_the_home(tmp_path):
    s = Settings.from_environ({"CLAIMFLOW_HOME": str(tmp_path)})
    assert s.env is Environment.LOCAL
    assert s.sor_url == f"sqlite:///{tmp_path / 'system_of_record.db'}"
    assert s.warehouse_path == tmp_path / "warehouse.duckdb"
    assert s.mlflow_tracking_uri == "http://127.0.0.1:5000" and s.mlflow_port == 5000
    assert s.triton_grpc_url == "127.0.0.1:8001"
    assert DEMO_APPROVER in s.approvers
    assert s.dbt_target == "local"


def test_prod_has_no_default_approvers_no_default_sor_and_the_prod_dbt_target():
    s = Settings.from_environ({"CLAIMFLOW_ENV": "prod", "CLAIMFLOW_HOME": "/srv/claimflow"})
    assert s.env is Environment.PROD
    assert s.approvers == ()
    assert s.sor_url is None
    assert s.dbt_target == "prod"  # derived from CLAIMFLOW_ENV: one switch, not two
    with pytest.raises(SettingsError, match="CLAIMFLOW_SOR_URL"):
        s.ready_sor_url()
    assert Settings.from_environ({"CLAIMFLOW_ENV": "prod", "CLAIMFLOW_DBT_TARGET": "local"}).dbt_target == "local"


def test_explicit_values_win_and_the_mlflow_port_follows_the_tracking_uri(tmp_path):
    s = Settings.from_environ({
        "CLAIMFLOW_HOME": str(tmp_path), "CLAIMFLOW_SOR_URL": "postgresql+psycopg://db/claimflow",
        "MLFLOW_TRACKING_URI": "http://127.0.0.1:5123", "CLAIMFLOW_TRITON_GRPC_PORT": "9001",
        "CLAIMFLOW_APPROVERS": " a.b , c.d ,", "CLAIMFLOW_SCORING_FALLBACK": "onnxruntime",
    })
    assert s.sor_url == "postgresql+psycopg://db/claimflow"
    assert s.mlflow_port == 5123
    assert s.triton_grpc_url == "127.0.0.1:9001"
    assert s.approvers == ("a.b", "c.d")
    assert s.scoring_fallback_onnx


def test_a_bad_port_is_refused_with_its_name():
    with pytest.raises(SettingsError, match="CLAIMFLOW_TRITON_HTTP_PORT"):
        Settings.from_environ({"CLAIMFLOW_TRITON_HTTP_PORT": "eighty"})


def test_settings_are_read_once_per_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CLAIMFLOW_HOME", str(tmp_path / "a"))
    first = settings()
    assert settings() is first
    monkeypatch.setenv("CLAIMFLOW_HOME", str(tmp_path / "b"))
    assert settings().home == Path(tmp_path / "b").resolve()
