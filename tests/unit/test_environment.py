import pytest

from orchestration.environment import Environment, get_environment


def test_local_is_the_default(monkeypatch):
    monkeypatch.delenv("CLAIMFLOW_ENV", raising=False)
    assert get_environment() is Environment.LOCAL


def test_prod_is_chosen_by_name(monkeypatch):
    monkeypatch.setenv("CLAIMFLOW_ENV", " PROD ")
    assert get_environment() is Environment.PROD


def test_an_unknown_environment_is_refused_with_the_choices(monkeypatch):
    monkeypatch.setenv("CLAIMFLOW_ENV", "staging")
    with pytest.raises(ValueError, match="local, prod"):
        get_environment()
