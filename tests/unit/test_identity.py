"""Identities: argon2 passwords, hashed API tokens, roles, disabling, and `claimflow users`."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from connectors.identity import (
    TOKEN_ENV,
    AuthError,
    IdentityStore,
    api_tokens_table,
    user_from_environment,
    users_table,
)
from orchestration.cli import main

PASSWORD = "correct horse battery"


@pytest.fixture
def store(tmp_path):
    return IdentityStore(f"sqlite:///{tmp_path / 'sor.db'}")


def test_a_password_is_stored_only_as_an_argon2_hash_and_authenticates(store):
    store.add_user("ana.martin", "Ana Martin", ["reviewer"], PASSWORD)
    with store.engine.connect() as con:
        stored = con.execute(sa.select(users_table.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    user = store.authenticate("Ana.Martin", PASSWORD)
    assert (user.username, user.display_name, user.roles, user.active) == ("ana.martin", "Ana Martin", ("reviewer",), True)


@pytest.mark.parametrize("username, password", [("ana.martin", "wrong password!"), ("mallory.x", PASSWORD), ("", "")])
def test_wrong_password_and_unknown_user_fail_with_the_same_message(store, username, password):
    store.add_user("ana.martin", "Ana Martin", ["reviewer"], PASSWORD)
    with pytest.raises(AuthError, match="^unknown user or wrong password$"):
        store.authenticate(username, password)


def test_a_token_is_shown_once_stored_as_a_hash_and_names_its_owner(store):
    store.add_user("rita.officer", "Rita", ["risk_officer"], PASSWORD)
    token = store.create_token("rita.officer", "laptop")
    with store.engine.connect() as con:
        stored = con.execute(sa.select(api_tokens_table.c.token_hash)).scalar_one()
    assert token not in stored and len(stored) == 64
    assert store.user_for_token(token).username == "rita.officer"
    assert user_from_environment(store, {TOKEN_ENV: token}).roles == ("risk_officer",)
    with pytest.raises(AuthError, match="unknown or revoked"):
        store.user_for_token(token[:-2] + "xx")


def test_disabling_a_user_refuses_password_and_token(store):
    store.add_user("hugo.handler", "Hugo", ["handler"], PASSWORD)
    token = store.create_token("hugo.handler", "cli")
    store.disable("hugo.handler")
    with pytest.raises(AuthError):
        store.authenticate("hugo.handler", PASSWORD)
    with pytest.raises(AuthError):
        store.user_for_token(token)
    assert store.get("hugo.handler").active is False


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"username": "Bad Name", "roles": ["handler"], "password": PASSWORD}, "not a valid username"),
        ({"username": "x.y", "roles": ["boss"], "password": PASSWORD}, "unknown role 'boss'"),
        ({"username": "x.y", "roles": [], "password": PASSWORD}, "at least one role"),
        ({"username": "x.y", "roles": ["handler"], "password": "short"}, "at least 12"),
        ({"username": "x.y", "roles": ["handler"], "password": None}, "password or an OIDC subject"),
    ],
)
def test_bad_users_are_refused(store, kwargs, message):
    with pytest.raises(AuthError, match=message):
        store.add_user(display_name="X", **kwargs)


def test_roles_grant_permissions_and_nothing_else(store):
    handler = store.add_user("hugo.handler", "Hugo", ["handler"], PASSWORD)
    officer = store.add_user("rita.officer", "Rita", ["risk_officer"], PASSWORD)
    assert handler.may("review.decide") and not handler.may("models.approve")
    assert officer.may("models.approve") and not officer.may("review.decide")
    with pytest.raises(AuthError, match="hugo.handler may not approve or reject models"):
        handler.require("models.approve")


def test_the_environment_must_hold_a_token(store):
    with pytest.raises(AuthError, match=TOKEN_ENV):
        user_from_environment(store, {})
    with pytest.raises(AuthError, match="does not hold a Claimflow API token"):
        user_from_environment(store, {TOKEN_ENV: "risk.officer"})


# ------------------------------------------------------------------ claimflow users


def cli(monkeypatch, capsys, *argv, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_users_bootstrap_then_admin_only(claimflow_home, monkeypatch, capsys):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.delenv("CLAIMFLOW_SOR_URL", raising=False)
    code, _, err = cli(monkeypatch, capsys, "users", "add", "first", "--role", "handler", "--password-stdin",
                       stdin=PASSWORD + "\n")
    assert code == 2 and "first user must be an admin" in err
    code, out, _ = cli(monkeypatch, capsys, "users", "add", "ada.admin", "--role", "admin", "--password-stdin",
                       stdin=PASSWORD + "\n")
    assert code == 0 and out.strip() == "added ada.admin (admin)"
    code, token, _ = cli(monkeypatch, capsys, "users", "token", "ada.admin")
    assert code == 0 and token.startswith("cfu_")

    # From now on, nobody without an admin's token manages users.
    code, _, err = cli(monkeypatch, capsys, "users", "add", "eve", "--role", "admin", "--password-stdin",
                       stdin=PASSWORD + "\n")
    assert code == 2 and TOKEN_ENV in err and err.count("\n") == 1
    monkeypatch.setenv(TOKEN_ENV, token.strip())
    code, _, _ = cli(monkeypatch, capsys, "users", "add", "hugo.handler", "--role", "handler", "--password-stdin",
                     stdin=PASSWORD + "\n")
    assert code == 0
    code, hugo, _ = cli(monkeypatch, capsys, "users", "token", "hugo.handler", "--label", "cli")
    code, out, _ = cli(monkeypatch, capsys, "users", "list")
    assert code == 0 and "hugo.handler" in out and "active" in out and PASSWORD not in out
    monkeypatch.setenv(TOKEN_ENV, hugo.strip())
    code, _, err = cli(monkeypatch, capsys, "users", "list")
    assert code == 2 and err.strip() == "claimflow: hugo.handler may not manage users (needs role admin)"
    monkeypatch.setenv(TOKEN_ENV, token.strip())
    code, _, err = cli(monkeypatch, capsys, "users", "disable", "ada.admin")
    assert code == 2 and "last active admin" in err
    assert cli(monkeypatch, capsys, "users", "disable", "hugo.handler")[0] == 0
    monkeypatch.setenv(TOKEN_ENV, hugo.strip())
    code, _, err = cli(monkeypatch, capsys, "users", "list")
    assert code == 2 and "unknown or revoked" in err


def test_the_demo_users_are_made_once_and_their_logins_kept_private(claimflow_home, monkeypatch):
    import os

    from orchestration.commands.models import governance_policy
    from orchestration.commands.users import ensure_demo_users

    monkeypatch.delenv("CLAIMFLOW_SOR_URL", raising=False)
    first = ensure_demo_users()
    assert ensure_demo_users() == first  # a second demo run prints the same logins
    assert {role for _, role, _ in first} == {"handler", "reviewer", "risk_officer", "admin"}
    assert os.stat(claimflow_home / "demo_logins.json").st_mode & 0o777 == 0o600
    store = IdentityStore(f"sqlite:///{claimflow_home / 'system_of_record.db'}")
    username, _, password = next(u for u in first if u[1] == "risk_officer")
    assert store.authenticate(username, password).roles == ("risk_officer",)
    assert governance_policy(store).approvers == (username,)  # approvers come from roles, not a list
