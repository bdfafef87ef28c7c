"""Every outside system of the claims flow is a resource: the flow runs on fakes swapped in by resource key,
with no environment variable and no module global patched."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa
from fakes import FakeAnthropic
from fakes.resources import FakeClaudeResource

from assets.resources import (
    InboxResource,
    SqlClaimsHistoryResource,
    SystemOfRecordResource,
)
from assets.training.assets import history_window
from connectors.inbox import MaildirInbox
from connectors.samples.history import generate_claims_history
from connectors.samples.inbox import generate_inbox
from connectors.samples.policies import build_policy_table
from connectors.system_of_record import SqlPolicySystem
from orchestration.definitions import build_definitions
from orchestration.environment import Environment
from orchestration.resources import resources_for
from orchestration.settings import Settings

pytestmark = pytest.mark.integration
AS_OF = "2026-09-15"
FLOW = ["claims_history", "claim_emails", "parsed_claims", "quarantined_emails", "photo_quality", "policies",
        "fx_rates", "stg_claims", "stg_policies", "claim_features", "triage_decisions", "status_drafts"]


def test_the_claims_flow_runs_on_fakes_swapped_in_through_resources_only(tmp_path, dbt_manifest):
    policies = build_policy_table()
    sor = f"sqlite:///{tmp_path / 'fake_sor.db'}"
    SqlPolicySystem(sor).load_policies(policies)
    # The claims system (PROD's history source) as a SQLite file with its closed claims.
    start, end = history_window(AS_OF)
    closed = generate_claims_history(policies, n=1500, seed=5, start=start, end=end)
    claims_system = f"sqlite:///{tmp_path / 'claims_system.db'}"
    engine = sa.create_engine(claims_system)
    closed.to_sql("closed_claims", engine, index=False)
    engine.dispose()
    mail = tmp_path / "mail"
    truth = generate_inbox(15, 41, mail, policies, now=datetime(2026, 9, 1, tzinfo=UTC))
    inbox = MaildirInbox(tmp_path / "fake_inbox")
    inbox.ensure()
    for rec in truth:
        inbox.deliver((mail / rec["file"]).read_bytes(), name=rec["file"])

    home = tmp_path / "home"
    defs = build_definitions(Environment.LOCAL)
    job = dg.define_asset_job("on_fakes", selection=dg.AssetSelection.assets(*FLOW)).resolve(
        asset_graph=defs.get_repository_def().asset_graph
    )
    with FakeAnthropic() as fake:
        resources = resources_for(Environment.LOCAL, Settings.from_environ({"CLAIMFLOW_HOME": str(home)})) | {
            "inbox": InboxResource(root=str(inbox.root)),
            "system_of_record": SystemOfRecordResource(url=sor),
            "claude": FakeClaudeResource(base_url=fake.base_url),
            "history_source": SqlClaimsHistoryResource(url=claims_system),
        }
        result = job.execute_in_process(
            resources=resources, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
            run_config={"ops": {"claims_history": {"config": {"as_of": AS_OF}}}},
        )
        requests = list(fake.requests)
    assert result.success, [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        [(history,)] = con.execute("select count(*) from raw.claims_history").fetchall()
        [(claims,)] = con.execute("select count(*) from raw.parsed_claims").fetchall()
        [(features,)] = con.execute("select count(*) from main.claim_features").fetchall()
        drafts = [json.loads(p)["drafter"] for (p,) in con.execute("select provenance from raw.status_drafts").fetchall()]
    assert history == len(closed)  # from the claims-system table, not the sample generator
    assert claims > 0 and features == claims  # dbt built on the warehouse resource's file
    assert drafts and set(drafts) == {"claude"} and requests  # the fake Messages API wrote every draft
