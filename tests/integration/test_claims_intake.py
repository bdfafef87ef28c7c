"""The claims group materialized end to end into a temporary home: inbox to claim_features."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from connectors.inbox import MaildirInbox
from connectors.samples.inbox import generate_inbox
from connectors.samples.policies import build_policy_table
from connectors.system_of_record import SqlPolicySystem

pytestmark = pytest.mark.integration
NOW = datetime(2026, 9, 15, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def policies():
    return build_policy_table()


def deliver_samples(home: Path, count: int, seed: int, policies) -> list[dict]:
    samples = home.parent / f"samples-{seed}"
    truth = generate_inbox(count, seed, samples, policies, now=NOW, truth_path=home.parent / f"truth-{seed}.jsonl")
    inbox = MaildirInbox(home / "inbox")
    inbox.ensure()
    for rec in truth:
        inbox.deliver((samples / rec["file"]).read_bytes(), name=rec["file"])
    return truth


def run_job(run_config: dict | None = None):
    from orchestration.definitions import build_definitions

    job = build_definitions().resolve_job_def("claims_intake")
    return job.execute_in_process(run_config=run_config, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


def query(home: Path, sql: str):
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def seeded_home(claimflow_home, policies, dbt_manifest):
    claimflow_home.mkdir(parents=True)
    SqlPolicySystem(f"sqlite:///{claimflow_home / 'system_of_record.db'}").load_policies(policies)
    return claimflow_home


def test_every_mail_becomes_a_claim_a_follow_up_or_a_quarantine_entry(seeded_home, policies):
    truth = deliver_samples(seeded_home, 120, 11, policies)
    result = run_job()
    assert result.success

    [(receipts,)] = query(seeded_home, "select count(*) from raw.email_receipts")
    assert receipts == len(truth)
    accounted = query(
        seeded_home,
        """select count(*) from raw.claim_emails e
           where exists (select 1 from raw.claim_messages m where m.content_hash = e.content_hash)
              or exists (select 1 from raw.quarantined_emails q where q.content_hash = e.content_hash)""",
    )[0][0]
    [(distinct,)] = query(seeded_home, "select count(*) from raw.claim_emails")
    assert accounted == distinct

    kinds = Counter(r["kind"] for r in truth)
    assert distinct == len(truth) - kinds["duplicate"]  # a re-send is the same content

    expected_claims = {r["expected"]["claim_number"] for r in truth if r["kind"] == "new" and r["expected"]["claim_number"]}
    claims = {c for (c,) in query(seeded_home, "select claim_number from raw.parsed_claims")}
    assert len(claims & expected_claims) >= 0.97 * len(expected_claims)

    [(follow_ups,)] = query(seeded_home, "select coalesce(sum(follow_up_count), 0) from raw.parsed_claims")
    assert follow_ups >= 0.9 * kinds["follow_up"]
    reasons = dict(query(seeded_home, "select reason, count(*) from raw.quarantined_emails group by 1"))
    # Since issue 10 a mail without a claim number that names a policy and a loss is a first
    # notice: the system of record numbers it and it opens a claim instead of waiting in quarantine.
    [(first,)] = query(seeded_home, "select count(*) from raw.parsed_claims where disposition = 'first_notice'")
    # ... and the generator's auto-replies (kind no_claim_number) are quarantined as not a claim.
    unnumbered = reasons.get("missing_claim_number", 0) + reasons.get("not_a_claim", 0) + first
    assert unnumbered >= kinds["no_claim_number"] * 0.9
    assert first == 0 or query(seeded_home, "select count(*) from raw.claim_messages where linked_by = 'first_notice'")[0][0] == first

    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["contract"] and checks["completeness"]
    assert all(checks.values()), [name for name, ok in checks.items() if not ok]
    [(features,)] = query(seeded_home, "select count(*) from main.claim_features")
    assert features == len(claims)
    photos = query(seeded_home, "select photos from raw.parsed_claims where photo_count > 0 limit 1")[0][0]
    assert (seeded_home / "attachments" / json.loads(photos)[0][:2] / json.loads(photos)[0]).exists()


def test_running_again_over_the_same_mail_writes_nothing_twice(seeded_home, policies):
    truth = deliver_samples(seeded_home, 40, 12, policies)
    assert run_job().success
    before = query(seeded_home, "select count(*), sum(message_count) from raw.parsed_claims")[0]
    inbox = MaildirInbox(seeded_home / "inbox")
    samples = seeded_home.parent / "samples-12"
    for rec in truth:  # the mail server delivers everything a second time
        inbox.deliver((samples / rec["file"]).read_bytes(), name="again-" + rec["file"])
    assert run_job().success
    assert query(seeded_home, "select count(*), sum(message_count) from raw.parsed_claims")[0] == before
    [(dups,)] = query(seeded_home, "select count(*) from raw.email_receipts where duplicate")
    assert dups >= len(truth)


def test_a_contract_failure_blocks_the_dbt_models(seeded_home, policies, monkeypatch):
    deliver_samples(seeded_home, 30, 13, policies)
    from dataclasses import replace
    from datetime import date

    from assets.claims import intake

    real = intake.read_stored

    def broken(**kwargs):  # an extractor regression: incident dates land in the future
        reading = real(**kwargs)
        return replace(reading, fields=reading.fields.model_copy(update={"incident_date": date(2099, 1, 1)}))

    monkeypatch.setattr(intake, "read_stored", broken)
    result = run_job()
    assert not result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["contract"] is False
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "claim_features" not in materialized and "parsed_claims" in materialized
