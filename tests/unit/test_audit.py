import sqlalchemy as sa

from connectors.audit import AuditLog, audit_table


def filled(tmp_path, n=5) -> AuditLog:
    log = AuditLog(f"sqlite:///{tmp_path / 'sor.db'}")
    for i in range(n):
        log.append(actor="tester", action="step", subject=f"CLM-2026-{i:06d}", payload={"i": i})
    return log


def test_an_untouched_chain_verifies(tmp_path):
    report = filled(tmp_path).verify()
    assert report.intact and report.entries == 5


def test_an_edited_entry_is_named(tmp_path):
    log = filled(tmp_path)
    with log.engine.begin() as con:
        con.execute(audit_table.update().where(audit_table.c.seq == 3).values(payload='{"i": 99}'))
    report = log.verify()
    assert not report.intact and report.first_bad_seq == 3 and "edited" in report.problem


def test_a_deleted_entry_is_named(tmp_path):
    log = filled(tmp_path)
    with log.engine.begin() as con:
        con.execute(audit_table.delete().where(audit_table.c.seq == 2))
    report = log.verify()
    assert not report.intact and report.first_bad_seq == 2 and "deleted" in report.problem


def test_reordered_entries_are_named(tmp_path):
    log = filled(tmp_path)
    with log.engine.begin() as con:  # entries 2 and 4 trade places, contents untouched
        for old, new in ((2, -1), (4, 2), (-1, 4)):
            con.execute(audit_table.update().where(audit_table.c.seq == old).values(seq=new))
    report = log.verify()
    assert not report.intact and report.first_bad_seq == 2 and "does not follow" in report.problem


def test_a_batch_append_extends_the_same_chain(tmp_path):
    log = filled(tmp_path, 2)
    log.append_many([{"actor": "triage", "action": "decide", "subject": f"c{i}", "payload": {"i": i}} for i in range(3)])
    log.append(actor="tester", action="step", subject="after", payload={})
    report = log.verify()
    assert report.intact and report.entries == 6


def test_the_values_already_logged_are_read_by_the_database_as_python_would_read_them(tmp_path):
    log = filled(tmp_path, n=2)
    log.append_many([
        {"actor": "a", "action": "triage.decision", "subject": "CLM-1", "payload": {"effect_key": "CLM-1:triage:1:standard"}},
        {"actor": "a", "action": "triage.decision", "subject": "CLM-2", "payload": {"effect_key": "CLM-2:triage:1:fraud_review", "é": "ü"}},
        {"actor": "a", "action": "triage.decision", "subject": "CLM-3", "payload": {"other": 1}},
        {"actor": "a", "action": "review.decide", "subject": "CLM-4", "payload": {"effect_key": "not this action"}},
    ])  # fmt: skip
    in_python = {e.payload.get("effect_key") for e in log.entries(action="triage.decision")}
    assert log.logged_values("triage.decision", "effect_key") == in_python
    assert in_python == {"CLM-1:triage:1:standard", "CLM-2:triage:1:fraud_review", None}


def test_hashes_are_the_documented_hmac_of_the_entry_json(tmp_path):
    import hashlib
    import hmac
    import json

    from connectors.audit import entry_hash

    body = json.dumps([3, "at", "ä", "act", "s", '{"k": "é"}', "0" * 64], ensure_ascii=False)
    expected = hmac.new(b"key", body.encode(), hashlib.sha256).hexdigest()
    assert entry_hash(3, "at", "ä", "act", "s", '{"k": "é"}', "0" * 64, b"key") == expected
