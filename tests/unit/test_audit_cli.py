"""`claimflow review` and `claimflow audit`: output on success, exit 2 and one line for bad input."""

from __future__ import annotations

import json

import pytest

from connectors.audit import AuditLog, audit_table
from connectors.identity import TOKEN_ENV, IdentityStore
from connectors.system_of_record import ClaimsSystem
from orchestration.commands import CliError, Parser
from orchestration.commands import audit as audit_cmd
from orchestration.commands import review as review_cmd

HELD, FRAUD = "CLM-2026-000001", "CLM-2026-000002"


def run(capsys, *argv) -> tuple[int, str, str]:
    """Parse and dispatch like `claimflow` does: exit 2 with the one-line message for bad input."""
    parser = Parser(prog="claimflow")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    review_cmd.register(sub)
    audit_cmd.register(sub)
    try:
        args = parser.parse_args(list(argv))
        code = args.func(args)
    except CliError as err:
        out, _ = capsys.readouterr()
        return 2, out, str(err)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def sor(claimflow_home, monkeypatch):
    """The default system of record under $CLAIMFLOW_HOME, with two claims held for review."""
    monkeypatch.delenv("CLAIMFLOW_SOR_URL", raising=False)
    monkeypatch.delenv("CLAIMFLOW_REVIEW_CLAIM_TIMEOUT", raising=False)
    url = review_cmd.sor_url()
    assert url == f"sqlite:///{claimflow_home / 'system_of_record.db'}"
    system = ClaimsSystem(url)
    system.seed_roster([{"id": "H02", "name": "Julien Mercier", "skills": "fraud,theft", "capacity": 5}])
    system.record_decisions(
        [
            {"claim_number": HELD, "queue": "human_review", "rule": "R1_low_extraction_confidence",
             "reason": "low confidence", "inputs": {"min_confidence": 0.4}, "proposed_queue": "standard"},
            {"claim_number": FRAUD, "queue": "fraud_review", "rule": "R5_fraud_signal", "reason": "reused photo",
             "inputs": {"photo_reused": True}, "assigned_to": "H02", "skill": "fraud"},
        ],
        step="triage", model_version="7",
    )
    system.dispose()
    return url


@pytest.fixture
def tokens(sor):
    """Personal API tokens of alice (handler), bob (reviewer) and rita (risk officer: reads, never decides)."""
    store = IdentityStore(sor)
    out = {}
    for name, role in (("alice", "handler"), ("bob", "reviewer"), ("rita", "risk_officer")):
        store.add_user(name, name.title(), [role], "a long enough password")
        out[name] = store.create_token(name, "tests")
    store.dispose()
    return out


@pytest.fixture
def as_user(tokens, monkeypatch):
    """Act as a user: their token in CLAIMFLOW_API_TOKEN, as the CLI reads it."""
    def switch(name: str) -> None:
        monkeypatch.setenv(TOKEN_ENV, tokens[name])
    switch("alice")
    return switch


def review_cycle(capsys, as_user):
    """Five audit entries: claim, release, claim, decide (HELD) as alice, claim (FRAUD) as bob."""
    for who, argv in (
        ("alice", ("review", "claim", HELD)),
        ("alice", ("review", "release", HELD)),
        ("alice", ("review", "claim", HELD)),
        ("alice", ("review", "decide", HELD, "--override", "specialist", "--reason", "two cars")),
        ("bob", ("review", "claim", FRAUD)),
    ):
        as_user(who)
        code, _, err = run(capsys, *argv)
        assert code == 0, err


# ------------------------------------------------------------------ review


def test_review_list_and_show_print_items_and_evidence(capsys, sor, as_user):
    code, out, _ = run(capsys, "review", "list")
    assert code == 0 and HELD in out and FRAUD in out and "R1_low_extraction_confidence" in out
    code, out, _ = run(capsys, "review", "list", "--json")
    assert code == 0 and {i["claim_number"] for i in json.loads(out)} == {HELD, FRAUD}
    code, out, _ = run(capsys, "review", "show", HELD)
    assert code == 0 and "min_confidence: 0.4" in out and "proposed work queue: standard" in out
    code, out, _ = run(capsys, "review", "show", FRAUD, "--json")
    assert json.loads(out)["claim"]["assigned_to"] == "H02"


def test_review_decide_moves_the_claim_and_prints_the_outcome(capsys, sor, as_user):
    review_cycle(capsys, as_user)
    code, out, _ = run(capsys, "review", "decide", FRAUD, "--approve", "--reason", "confirmed")
    assert code == 0 and out.strip() == f"{FRAUD} decided by bob: approve -> fraud_review (high risk)"
    assert ClaimsSystem(sor).claim(HELD)["queue"] == "specialist"
    code, out, _ = run(capsys, "review", "list", "--status", "decided")
    assert HELD in out and FRAUD in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (("review", "claim", "CLM-2026-999999"), "no review item for CLM-2026-999999"),
        (("review", "decide", HELD, "--approve", "--reason", "x"), "not claimed"),
        (("review", "decide", HELD, "--override", "specialist"), "--reason"),
        (("review", "decide", HELD, "--reason", "x"), "--approve"),
        (("review", "decide", HELD, "--approve", "--override", "standard", "--reason", "x"), "not allowed with"),
        (("review", "list", "--status", "pending"), "invalid choice"),
        (("review", "claim", HELD, "--reviewer", "alice"), "unrecognized arguments: --reviewer"),
    ],
)
def test_bad_review_input_exits_2_with_one_line(capsys, sor, as_user, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and "\n" not in err and out == ""


def test_deciding_someone_elses_claim_or_an_unknown_queue_exits_2(capsys, sor, as_user):
    run(capsys, "review", "claim", HELD)
    as_user("bob")
    code, _, err = run(capsys, "review", "decide", HELD, "--approve", "--reason", "x")
    assert code == 2 and err == f"{HELD} is claimed by alice, not bob"
    as_user("alice")
    code, _, err = run(capsys, "review", "decide", HELD, "--override", "vip", "--reason", "x")
    assert code == 2 and err.startswith("unknown queue 'vip'")
    code, _, err = run(capsys, "review", "decide", HELD, "--override", "standard", "--reason", " ")
    assert code == 2 and err == "an override needs a reason"
    code, _, err = run(capsys, "review", "decide", HELD, "--approve", "--reason", "")
    assert code == 2 and err == "an approve needs a reason"


def test_the_cli_acts_only_as_an_authenticated_user_with_the_right_role(capsys, sor, as_user, monkeypatch):
    # Regression: an unknown typed name once claimed and approved an item with an empty reason.
    monkeypatch.delenv(TOKEN_ENV)
    code, out, err = run(capsys, "review", "claim", HELD)
    assert code == 2 and TOKEN_ENV in err and "\n" not in err and out == ""
    monkeypatch.setenv(TOKEN_ENV, "mallory.x")
    assert run(capsys, "review", "list")[0] == 2
    monkeypatch.setenv(TOKEN_ENV, "cfu_" + "x" * 43)
    code, _, err = run(capsys, "review", "claim", HELD)
    assert code == 2 and err == f"the API token in {TOKEN_ENV} is unknown or revoked"
    as_user("rita")  # a risk officer reads the queue but does not work it
    assert run(capsys, "review", "list")[0] == 0
    code, _, err = run(capsys, "review", "claim", HELD)
    assert code == 2 and err == "rita may not claim and decide review items (needs role handler or reviewer)"
    as_user("alice")
    code, out, _ = run(capsys, "review", "claim", HELD)
    assert code == 0 and out.startswith(f"{HELD} claimed by alice until")


def test_the_sor_url_can_point_elsewhere(capsys, sor, as_user, monkeypatch, tmp_path):
    elsewhere = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    store = IdentityStore(elsewhere)  # identities live in the system of record they work on
    store.add_user("alice", "Alice", ["handler"], "a long enough password")
    monkeypatch.setenv(TOKEN_ENV, store.create_token("alice", "tests"))
    monkeypatch.setenv("CLAIMFLOW_SOR_URL", elsewhere)
    code, out, _ = run(capsys, "review", "list")
    assert code == 0 and out.strip() == "no review items waiting"


def test_a_bad_claim_timeout_setting_exits_2(capsys, sor, as_user, monkeypatch):
    monkeypatch.setenv("CLAIMFLOW_REVIEW_CLAIM_TIMEOUT", "soon")
    code, _, err = run(capsys, "review", "list")
    assert code == 2 and "CLAIMFLOW_REVIEW_CLAIM_TIMEOUT" in err


# ------------------------------------------------------------------ audit


def test_an_intact_audit_log_verifies(capsys, sor, as_user):
    review_cycle(capsys, as_user)
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0 and out.strip() == "audit log intact: 5 entries"


def test_audit_show_prints_the_last_entries(capsys, sor, as_user):
    review_cycle(capsys, as_user)
    code, out, _ = run(capsys, "audit", "show", "--last", "2")
    lines = out.strip().splitlines()
    assert code == 0 and len(lines) == 2 and "review.decide" in lines[0] and "bob" in lines[1]
    code, out, _ = run(capsys, "audit", "show", "--json")
    assert [e["seq"] for e in json.loads(out)] == [1, 2, 3, 4, 5]
    code, _, err = run(capsys, "audit", "show", "--last", "0")
    assert code == 2 and "--last" in err


def tamper(url: str, how: str) -> None:
    engine = AuditLog(url).engine
    with engine.begin() as con:
        if how == "edit":  # the decision's reviewer rewritten after the fact
            con.execute(audit_table.update().where(audit_table.c.seq == 4).values(actor="mallory"))
        elif how == "delete":
            con.execute(audit_table.delete().where(audit_table.c.seq == 2))
        else:  # entries 2 and 4 trade places, contents untouched
            for old, new in ((2, -1), (4, 2), (-1, 4)):
                con.execute(audit_table.update().where(audit_table.c.seq == old).values(seq=new))
    engine.dispose()


@pytest.mark.parametrize(
    "how, message",
    [
        ("edit", "audit log broken at entry 4: entry 4 was edited"),
        ("delete", "audit log broken at entry 2: entry 2 is missing (deleted)"),
        ("reorder", "audit log broken at entry 2: entry 2 does not follow entry 1"),
    ],
)
def test_a_tampered_audit_log_exits_2_naming_the_entry(capsys, sor, as_user, how, message):
    review_cycle(capsys, as_user)
    tamper(sor, how)
    code, out, err = run(capsys, "audit", "verify")
    assert code == 2 and err == message and out == ""


def test_review_show_gives_a_reviewer_the_claim_in_words(capsys, tmp_path, monkeypatch):
    # Regression: `review show` printed the handler as H02, the risk as 0.06865774840116501, no unsure
    # field and no claim a reused photo came from.
    from tests.fakes.workspace import FRAUD as F, HELD as H, REUSED_FROM, build_workspace

    world = build_workspace(tmp_path / "home")
    monkeypatch.setenv("CLAIMFLOW_HOME", str(world["home"]))
    monkeypatch.delenv("CLAIMFLOW_SOR_URL", raising=False)
    monkeypatch.setenv(TOKEN_ENV, world["tokens"]["rene.reviewer"])
    code, out, _ = run(capsys, "review", "show", H)
    assert code == 0 and "policy_number" in out and "42%  rules   <- unsure" in out and "risk: 7% (model version 3)" in out
    assert "0.0686577" not in out
    code, out, _ = run(capsys, "review", "show", F)
    assert f"already used on {REUSED_FROM}" in out and "handler Julien Mercier (H02)" in out
