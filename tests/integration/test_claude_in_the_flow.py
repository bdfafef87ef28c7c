"""Claude inside the claims flow, against a local server that speaks the Messages API: extraction help
and status drafts go through the SDK, nothing personal leaves, and provenance says who wrote what."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg
import duckdb
import pytest
from fakes import FakeAnthropic

from connectors.inbox import MaildirInbox
from connectors.samples.inbox import generate_inbox
from connectors.samples.policies import build_policy_table
from connectors.system_of_record import SqlPolicySystem

pytestmark = pytest.mark.integration
INTAKE = ["claim_emails", "parsed_claims", "quarantined_emails", "photo_quality", "policies", "fx_rates",
          "stg_claims", "stg_policies", "claim_features"]


@pytest.fixture
def flow_home(claimflow_home, dbt_manifest, monkeypatch):
    claimflow_home.mkdir(parents=True)
    policies = build_policy_table()
    SqlPolicySystem(f"sqlite:///{claimflow_home / 'system_of_record.db'}").load_policies(policies)
    out = claimflow_home.parent / "mail"
    truth = generate_inbox(40, 31, out, policies, now=datetime(2026, 9, 1, tzinfo=UTC))
    inbox = MaildirInbox(claimflow_home / "inbox")
    inbox.ensure()
    for rec in truth:
        inbox.deliver((out / rec["file"]).read_bytes(), name=rec["file"])
    return claimflow_home, truth


def run(selection: list[str]):
    from orchestration.definitions import build_definitions

    defs = build_definitions()
    job = dg.define_asset_job("t", selection=dg.AssetSelection.assets(*selection)).resolve(
        asset_graph=defs.get_repository_def().asset_graph
    )
    return job.execute_in_process(resources=defs.resources, instance=dg.DagsterInstance.ephemeral(),
                                  raise_on_error=False)


def test_extraction_help_and_drafts_go_through_claude_without_personal_data(flow_home, monkeypatch):
    home, truth = flow_home
    with FakeAnthropic() as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "dummy-key-for-a-local-server")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        assert run(INTAKE).success
        assert run(["triage_decisions", "status_drafts"]).success
        requests = list(fake.requests)
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        calls = con.execute("select provenance, count(*) from raw.model_calls group by 1").fetchall()
        drafts = con.execute("select provenance, body, payload from raw.status_drafts").fetchall()
        senders = {r[0] for r in con.execute("select sender from raw.claim_emails where sender is not null").fetchall()}
    assert dict(calls).get("claude", 0) >= 1  # low-confidence fields were sent for help
    assert drafts and all(json.loads(p)["drafter"] == "claude" for p, _, _ in drafts)
    assert all(json.loads(payload)["claim_number"] in body for _, body, payload in drafts)
    sent = "\n".join(r.text for r in requests)
    leaked = [s for s in senders if s and s in sent]
    phones = [r["expected"]["contact_phone"] for r in truth if r["expected"]["contact_phone"]]
    leaked += [p for p in phones if p in sent or p.replace("+33", "0") in sent]
    assert requests and leaked == []


def test_without_a_key_the_template_drafts_and_provenance_says_so(flow_home, monkeypatch):
    home, _ = flow_home
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert run(INTAKE).success
    assert run(["triage_decisions", "status_drafts"]).success
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        drafts = con.execute("select provenance from raw.status_drafts").fetchall()
    assert drafts and all(json.loads(p) == {"drafter": "template", "fallback_reason": "no_api_key", "model": None}
                          for (p,) in drafts)


def test_the_daily_batch_drafts_through_message_batches(flow_home, monkeypatch):
    home, _ = flow_home
    with FakeAnthropic() as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "dummy-key-for-a-local-server")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
        assert run(INTAKE).success
        assert run(["triage_decisions"]).success
        from orchestration.definitions import build_definitions

        defs = build_definitions()
        job = dg.define_asset_job("drafts", selection=dg.AssetSelection.assets("status_drafts")).resolve(
            asset_graph=defs.get_repository_def().asset_graph
        )
        result = job.execute_in_process(
            resources=defs.resources, instance=dg.DagsterInstance.ephemeral(),
            run_config={"ops": {"status_drafts": {"config": {"use_batches": True}}}},
        )
        assert result.success
        paths = [r.path for r in fake.requests]
    assert any(p.startswith("/v1/messages/batches") for p in paths)
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        drafts = [json.loads(p) for (p,) in con.execute("select provenance from raw.status_drafts").fetchall()]
    assert drafts and all(d.get("batch") for d in drafts)
    assert sum(d["drafter"] == "claude" for d in drafts) >= len(drafts) * 0.8
