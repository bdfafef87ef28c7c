"""`claimflow privacy erase`: a person's data leaves the warehouse, the SoR, attachments, inbox and outbox;
the audit chain stays valid and the erasure entry holds no personal data.

Regression (issue 12, finding 5): there was no retention or erasure.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from assets.claims.intake import ingest_inbox, parse_pending
from connectors.attachments import AttachmentStore
from connectors.audit import AuditLog
from connectors.identity import TOKEN_ENV, IdentityStore
from connectors.inbox import MaildirInbox
from connectors.schema import CLAIM_EMAILS, PARSED_CLAIMS
from connectors.system_of_record import ClaimsSystem
from connectors.warehouse import Warehouse
from models.extraction import ExtractionRules
from orchestration.cli import main as cli

PHOTO = b"\xff\xd8\xff\xe0" + b"jpeg of a dented door " * 40
MAIL = (
    "From: Jean Dupont <jean.dupont@example.fr>\r\nTo: claims@insurer.example\r\n"
    "Subject: Claim CLM-2026-000{n} for Jean Dupont\r\nDate: Mon, 02 Mar 2026 10:00:00 +0100\r\n"
    "Message-ID: <m{n}@example.fr>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Policy POL-1234567. My car was hit on 27/02/2026. Estimate 1200 EUR. I live 14 rue des Tanneurs, "
    "67000 Strasbourg, phone 06 72 18 44 90.\r\nJean Dupont\r\n--b\r\nContent-Type: image/jpeg\r\n"
    "Content-Disposition: attachment; filename=door{n}.jpg\r\nContent-Transfer-Encoding: base64\r\n\r\n{photo}\r\n--b--\r\n"
)


@pytest.fixture
def world(claimflow_home, monkeypatch):
    import base64

    from assets.project import attachments_dir, inbox_dir, warehouse_path

    monkeypatch.delenv("CLAIMFLOW_SOR_URL", raising=False)
    claimflow_home.mkdir(parents=True)
    wh = Warehouse(warehouse_path())
    wh.ensure_schema()
    inbox = MaildirInbox(inbox_dir())
    inbox.ensure()
    for n in (111, 222):
        photo = base64.b64encode(PHOTO + bytes([n % 256])).decode()
        inbox.deliver(MAIL.format(n=n, photo=photo).encode(), name=f"m{n}.eml")
    inbox.deliver(MAIL.format(n=333, photo=base64.b64encode(PHOTO + b"other").decode()).replace(
        "jean.dupont@example.fr", "other@example.fr").replace("Jean Dupont", "Anne Autre").encode(), name="m333.eml")
    store = AttachmentStore(attachments_dir())
    ingest_inbox(inbox, inbox.list_new(), store, wh, run_id="r", max_attachment_bytes=10_000_000)
    parse_pending(wh, run_id="r", rules=ExtractionRules())
    url = f"sqlite:///{claimflow_home / 'system_of_record.db'}"
    system = ClaimsSystem(url)
    system.record_decisions(
        [{"claim_number": f"CLM-2026-000{n}", "queue": "standard", "rule": "R8", "reason": "", "inputs": {},
          "outbox": {"subject": f"Claim CLM-2026-000{n}", "body": "Dear Jean Dupont, we received your claim.",
                     "payload": {"status": "received"}}} for n in (111, 222, 333)],
        step="triage", model_version="1")
    AuditLog(url).append(actor="claimflow.triage", action="triage.decision", subject="CLM-2026-000111",
                         payload={"queue": "standard"})
    identities = IdentityStore(url)
    identities.add_user("ada", "Ada Admin", ["admin"], "a long enough password")
    identities.add_user("rita", "Rita Risk", ["risk_officer"], "a long enough password")
    tokens = {u: identities.create_token(u, "tests") for u in ("ada", "rita")}
    identities.dispose()
    return {"wh": wh, "url": url, "store": store, "inbox": inbox_dir(), "tokens": tokens, "system": system}


def test_erasing_a_person_removes_their_data_everywhere_and_keeps_the_audit_chain(world, monkeypatch, capsys):
    wh, store = world["wh"], world["store"]
    photos = [sha for p in wh.read(f"select photos from {CLAIM_EMAILS}")["photos"] for sha in json.loads(p)]
    assert len(photos) == 3 and all(store.exists(s) for s in photos)

    monkeypatch.setenv(TOKEN_ENV, world["tokens"]["ada"])
    assert cli(["privacy", "erase", "--email", "jean.dupont@example.fr"]) == 0
    assert "2 claims" in capsys.readouterr().out

    mails = wh.read(f"select * from {CLAIM_EMAILS} order by sender")
    mine = mails[mails["sender"] != "other@example.fr"]
    assert len(mine) == 2 and mine["sender"].str.startswith("erased:").all() and mine["body_text"].isna().all()
    claims = wh.read(f"select * from {PARSED_CLAIMS} order by claim_number")
    erased = claims[claims["claim_number"].isin(["CLM-2026-000111", "CLM-2026-000222"])]
    assert erased["contact_phone"].isna().all() and (erased["description"] == "[erased]").all()
    assert erased["policy_number"].tolist() == ["POL-1234567"] * 2  # the business record stays
    assert sum(store.exists(s) for s in photos) == 1  # only the other person's photo is left
    assert len(list((world["inbox"] / "cur").glob("*"))) + len(list((world["inbox"] / "new").glob("*"))) == 1
    outbox = {m["claim_number"]: m["body"] for m in world["system"].outbox()}
    assert outbox["CLM-2026-000111"] == "[erased]" and "Jean" not in outbox["CLM-2026-000222"]
    assert outbox["CLM-2026-000333"].startswith("Dear")

    log = AuditLog(world["url"])
    assert log.verify().intact
    entry = log.entries(action="privacy.erase")[-1]
    text = json.dumps([entry.subject, entry.payload, entry.actor])
    assert entry.actor == "ada" and "dupont" not in text.lower() and "example.fr" not in text
    assert sorted(entry.payload["claims"]) == ["CLM-2026-000111", "CLM-2026-000222"]


def test_only_an_administrator_erases_and_bad_input_exits_2(world, monkeypatch, capsys):
    monkeypatch.setenv(TOKEN_ENV, world["tokens"]["rita"])
    assert cli(["privacy", "erase", "--claim", "CLM-2026-000111"]) == 2
    assert "may not" in capsys.readouterr().err
    monkeypatch.setenv(TOKEN_ENV, world["tokens"]["ada"])
    assert cli(["privacy", "erase", "--email", "not-an-address"]) == 2
    assert cli(["privacy", "erase"]) == 2
    assert capsys.readouterr().err.count("\n") == 2


def test_the_retention_schedule_erases_claims_older_than_the_period(world, monkeypatch, capsys):
    monkeypatch.setenv(TOKEN_ENV, world["tokens"]["ada"])
    assert cli(["privacy", "retention", "--dry-run", "--days", "36500"]) == 0
    assert capsys.readouterr().out.startswith("0 claims")
    # The mails were delivered now; a period of one day erases nothing, until the claims age.
    assert cli(["privacy", "retention", "--days", "1"]) == 0
    assert "0 claims erased" in capsys.readouterr().out
    from assets.claims.privacy import due_for_retention

    later = datetime(2100, 1, 1)
    assert len(due_for_retention(world["wh"], now=later, days=365)) == 3


def test_the_nightly_retention_job_erases_old_claims_in_the_schedules_name_and_only_once(world, monkeypatch):
    import dagster as dg

    from assets.claims.retention import RETENTION_ACTOR, privacy_retention_job, privacy_retention_schedule
    from orchestration.definitions import build_definitions

    wh = world["wh"]
    with wh.connect() as con:  # two of the three claims last heard of eleven years ago
        con.execute(f"""update {PARSED_CLAIMS} set received_at = timestamp '2015-01-05 10:00',
                        last_received_at = timestamp '2015-01-05 10:00'
                        where claim_number in ('CLM-2026-000111', 'CLM-2026-000333')""")
    monkeypatch.setenv("CLAIMFLOW_RETENTION_DAYS", "3650")
    defs = build_definitions()
    assert privacy_retention_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert defs.resolve_schedule_def("privacy_retention_nightly").job_name == privacy_retention_job.name
    job = defs.resolve_job_def(privacy_retention_job.name)

    first = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert first.success and first.output_for_node("apply_retention") == 2
    claims = wh.read(f"select claim_number, description, contact_phone from {PARSED_CLAIMS} order by 1")
    erased = dict(zip(claims["claim_number"], claims["description"]))
    assert erased["CLM-2026-000111"] == erased["CLM-2026-000333"] == "[erased]"
    assert erased["CLM-2026-000222"] != "[erased]"
    log = AuditLog(world["url"])
    entries = log.entries(action="privacy.erase")
    assert [e.actor for e in entries] == [RETENTION_ACTOR] * 2 and log.verify().intact
    assert all("retention: older than 3650 days" == e.payload["reason"] for e in entries)

    again = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert again.success and again.output_for_node("apply_retention") == 0
    assert len(AuditLog(world["url"]).entries(action="privacy.erase")) == 2

    monkeypatch.setenv("CLAIMFLOW_RETENTION_DAYS", "ten years")  # a bad server setting fails the run, erases nothing
    bad = build_definitions().resolve_job_def(privacy_retention_job.name).execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not bad.success
