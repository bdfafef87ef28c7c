"""The audit chain is keyed and anchored outside the database: truncation and re-hashing are caught.

Regression (issue 12, finding 4): deleting the last entries, or editing one and re-hashing the
rest, passed `audit verify`.
"""

from __future__ import annotations

import hashlib
import json
import stat

import pytest
import sqlalchemy as sa

from connectors.audit import GENESIS, AuditLog, audit_table, entry_hash


@pytest.fixture
def log(claimflow_home, monkeypatch) -> AuditLog:
    monkeypatch.delenv("CLAIMFLOW_AUDIT_KEY", raising=False)
    claimflow_home.mkdir(parents=True)
    log = AuditLog(f"sqlite:///{claimflow_home / 'sor.db'}")
    for i in range(6):
        log.append(actor="claimflow.triage", action="triage.decision", subject=f"CLM-2026-{i:06d}",
                   payload={"queue": "standard", "i": i})
    return log


def rewrite_from(log: AuditLog, seq: int, new_hash) -> None:
    """Edit entry `seq` and recompute every MAC from there with `new_hash`, as a forger would."""
    with log.engine.begin() as con:
        rows = con.execute(sa.select(audit_table).order_by(audit_table.c.seq)).all()
        prev = GENESIS
        for r in rows:
            actor = "mallory" if r.seq == seq else r.actor
            if r.seq >= seq:
                digest = new_hash(r.seq, r.at, actor, r.action, r.subject, r.payload, prev)
                con.execute(audit_table.update().where(audit_table.c.seq == r.seq)
                            .values(actor=actor, prev_hash=prev, hash=digest))
                prev = digest
            else:
                prev = r.hash


def test_deleting_the_last_entries_is_reported_as_truncation(log):
    with log.engine.begin() as con:
        con.execute(audit_table.delete().where(audit_table.c.seq > 4))
    report = log.verify()
    assert not report.intact and "truncated: 6 entries were anchored" in report.problem and report.first_bad_seq == 5


def test_an_edit_re_hashed_without_the_key_is_named(log):
    def sha256_only(seq, at, actor, action, subject, payload, prev):
        body = json.dumps([seq, at, actor, action, subject, payload, prev], ensure_ascii=False)
        return hashlib.sha256(body.encode()).hexdigest()

    rewrite_from(log, 3, sha256_only)
    report = log.verify()
    assert not report.intact and report.first_bad_seq == 3 and "edited" in report.problem


def test_an_edit_re_hashed_with_the_key_still_differs_from_the_anchored_head(log):
    def with_key(seq, at, actor, action, subject, payload, prev):
        return entry_hash(seq, at, actor, action, subject, payload, prev, log.key)

    rewrite_from(log, 3, with_key)
    report = log.verify()
    assert not report.intact and "re-written" in report.problem


def test_an_altered_anchor_line_is_reported(log):
    lines = log.anchor_path.read_text().splitlines()
    forged = json.loads(lines[-1]) | {"count": 2}
    log.anchor_path.write_text("\n".join(lines[:-1] + [json.dumps(forged)]) + "\n")
    report = log.verify()
    assert not report.intact and "anchor" in report.problem


def test_the_local_key_and_anchors_are_private_files_under_the_home(log, claimflow_home):
    key_file = claimflow_home / "secrets" / "audit.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(log.anchor_path.stat().st_mode) == 0o600
    assert log.anchor_path.is_relative_to(claimflow_home)
    assert len(log.anchor_path.read_text().splitlines()) == 6 and log.verify().intact


def test_the_key_comes_from_the_environment_when_set(log, monkeypatch, claimflow_home):
    monkeypatch.setenv("CLAIMFLOW_AUDIT_KEY", "another-key-from-the-kms")
    other = AuditLog(log.url)
    assert other.key == b"another-key-from-the-kms"
    report = other.verify()  # the chain was written under the local key: nothing verifies under another
    assert not report.intact and report.first_bad_seq == 1


def test_a_claim_re_routed_in_the_claims_table_outside_the_trail_is_reported(claimflow_home, monkeypatch, capsys):
    from connectors.system_of_record import ClaimsSystem, claims_table
    from orchestration.commands import CliError
    from orchestration.commands import audit as audit_cmd
    from orchestration.commands.review import sor_url

    monkeypatch.delenv("CLAIMFLOW_SOR_URL", raising=False)
    claimflow_home.mkdir(parents=True)
    system = ClaimsSystem(sor_url())
    system.record_decisions([{"claim_number": "CLM-2026-000001", "queue": "fraud_review", "rule": "R5",
                              "reason": "reused photo", "inputs": {}}], step="triage", model_version="1")
    AuditLog(sor_url()).append(actor="claimflow.triage", action="triage.decision", subject="CLM-2026-000001",
                               payload={"queue": "fraud_review"})
    assert audit_cmd.cmd_audit_verify(None) == 0
    with system.engine.begin() as con:  # someone clears the fraud flag straight in the database
        con.execute(claims_table.update().values(queue="fast_track"))
    with pytest.raises(CliError, match="outside the audit trail: CLM-2026-000001 is in fast_track"):
        audit_cmd.cmd_audit_verify(None)
