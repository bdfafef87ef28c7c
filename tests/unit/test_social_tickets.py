"""Tickets: one per event, severity only rises, one escalation, acknowledged by the person named, all audited."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from assets.social.tickets import oncall, severity, ticket_for, ticket_id
from connectors.tickets import TicketError, TicketStore
from models.trends import DetectedEvent

PASSWORD = "correct horse battery staple"
ROSTER = {"CLAIMFLOW_SOCIAL_ONCALL": "claims_operations=claire.moreau,it=thomas.bernard"}


def event(kind="catastrophe", topic="hail", scope="Bretagne", excess=120.0, open_=True) -> DetectedEvent:
    onset = pd.Timestamp("2026-06-09 14:00")
    return DetectedEvent(f"{topic}:20260609T14", topic, kind, scope, onset, onset + pd.Timedelta(hours=2),
                         onset + pd.Timedelta(hours=1), 60, 150, excess, 40.0, 0.7, open_)


POSTS = pd.DataFrame({
    "post_id": [1, 2, 3], "canonical_id": [1, 1, 3], "is_copy": [False, True, False],
    "created_at": [datetime(2026, 6, 9, 14, 5)] * 3, "hour": [pd.Timestamp("2026-06-09 14:00")] * 3,
    "lang": ["fr"] * 3, "text": ["Grêle sur Rennes, Jean Dupont au 06 12 34 56 78 @voisin", "RT", "grêle encore"],
    "author_hash": ["a1", "a2", "a3"], "region": ["Bretagne"] * 3, "topic": ["hail"] * 3, "entity": [None] * 3,
})


@pytest.fixture
def store(tmp_path):
    return TicketStore(f"sqlite:///{tmp_path / 'sor.db'}")


def test_severity_and_team_follow_the_rules_not_the_text():
    assert severity(event(excess=120)) == "high" and severity(event(excess=40)) == "medium"
    assert severity(event(excess=5)) == "low"
    assert severity(event("garage_complaints", "garage", "CarroPlus", 120)) == "medium"
    t = ticket_for(event(), POSTS, oncall(ROSTER))
    assert t["team"] == "claims_operations" and t["assignee"] == "claire.moreau"
    assert ticket_for(event(excess=40), POSTS, oncall(ROSTER))["assignee"] is None
    assert oncall({"CLAIMFLOW_SOCIAL_ONCALL": "it=ops.lead, bad"}) == {"it": "ops.lead"}
    assert oncall({})["claims_operations"] == "demo.handler"  # LOCAL: a demo user who can sign in


def test_evidence_is_the_most_shared_post_with_personal_data_removed():
    ev = ticket_for(event(), POSTS, {})["evidence"]
    assert ev[0]["post_id"] == "1" and ev[0]["copies"] == 2
    text = ev[0]["text"]
    assert "Dupont" not in text and "06 12" not in text and "@voisin" not in text and "Rennes" in text


def test_one_ticket_per_event_however_often_it_is_recorded(store):
    t = ticket_for(event(excess=40), POSTS, oncall(ROSTER))
    first = store.record(t)
    again = store.record(t)
    assert first.opened and not again.opened and not again.severity_changed
    assert len(store.list("all")) == 1
    assert [e.action for e in store.audit.entries()] == ["ticket.open"]


def test_severity_rises_once_escalates_once_and_never_falls(store):
    store.record(ticket_for(event(excess=40), POSTS, oncall(ROSTER)))
    up = store.record(ticket_for(event(excess=200), POSTS, oncall(ROSTER)))
    assert up.severity_changed and up.escalated
    again = store.record(ticket_for(event(excess=300), POSTS, oncall(ROSTER)))
    calmer = store.record(ticket_for(event(excess=30), POSTS, oncall(ROSTER)))
    assert not again.escalated and not calmer.severity_changed
    assert store.get(ticket_id(event().key))["severity"] == "high"
    assert [e["assignee"] for e in store.escalations()] == ["claire.moreau"]
    assert [e.action for e in store.audit.entries()] == ["ticket.open", "ticket.severity", "ticket.escalate"]


def test_only_the_person_named_acknowledges_an_escalation(store):
    tid = store.record(ticket_for(event(excess=200), POSTS, oncall(ROSTER))).ticket_id
    with pytest.raises(TicketError, match="escalated to claire.moreau"):
        store.acknowledge(tid, "thomas.bernard")
    acked = store.acknowledge(tid, "claire.moreau", "crisis cell opened")
    assert acked["status"] == "acknowledged" and acked["escalation"]["acked_by"] == "claire.moreau"
    with pytest.raises(TicketError, match="already acknowledged"):
        store.acknowledge(tid, "claire.moreau")
    with pytest.raises(TicketError, match="no ticket"):
        store.acknowledge("SOC-NOPE", "claire.moreau")
    assert store.audit.entries()[-1].action == "ticket.ack"
    assert store.audit.verify().intact


def test_tickets_cli_lists_and_acks_as_the_authenticated_user(claimflow_home, monkeypatch, capsys):
    from connectors.identity import IdentityStore
    from orchestration.cli import main

    monkeypatch.delenv("CLAIMFLOW_SOR_URL", raising=False)
    claimflow_home.mkdir(parents=True)
    url = f"sqlite:///{claimflow_home / 'system_of_record.db'}"
    ids = IdentityStore(url)
    ids.add_user("claire.moreau", "Claire Moreau", ["handler"], PASSWORD)
    ids.add_user("hugo", "Hugo", ["handler"], PASSWORD)
    tokens = {u: ids.create_token(u, "tests") for u in ("claire.moreau", "hugo")}
    tid = TicketStore(url).record(ticket_for(event(excess=200), POSTS, oncall(ROSTER))).ticket_id

    monkeypatch.setenv("CLAIMFLOW_API_TOKEN", tokens["hugo"])
    assert main(["tickets", "list"]) == 0
    assert tid in capsys.readouterr().out
    assert main(["tickets", "ack", tid]) == 2
    err = capsys.readouterr().err
    assert "escalated to claire.moreau" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("CLAIMFLOW_API_TOKEN", tokens["claire.moreau"])
    assert main(["tickets", "ack", tid, "--note", "on it"]) == 0
    assert main(["tickets", "ack", "SOC-0000000000"]) == 2
    assert main(["tickets", "list", "--status", "bogus"]) == 2


def test_social_cli_refuses_bad_input_in_one_line(claimflow_home, capsys, tmp_path):
    from orchestration.cli import main

    assert main(["social", "pull", "--since", "yesterday-ish"]) == 2
    assert main(["social", "pull", "--replay", str(tmp_path / "missing.jsonl")]) == 2
    empty = tmp_path / "bad.jsonl"
    empty.write_text("not json\n{}\n")
    assert main(["social", "pull", "--replay", str(empty)]) == 2
    out = capsys.readouterr()
    assert "2 lines, 0 posts, 2 bad lines skipped" in out.out
    assert all(len(x) < 200 for x in out.err.strip().splitlines()) and "Traceback" not in out.err
    assert main(["social", "trends"]) == 2
