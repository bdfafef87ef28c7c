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
