"""Personal data at rest: attachments and mail bodies encrypted, files private, keys rotatable.

Regression (issue 12, finding 5): SQLite/DuckDB files and inbox mail were world-readable (0644,
folders 0755); mail bodies and photos were stored in clear.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import pytest
from cryptography.fernet import Fernet

from connectors.attachments import AttachmentStore
from connectors.secrets import secure_tree
from connectors.vault import DataVault, VaultError

PHOTO = b"\xff\xd8\xff\xe0 a photo of Jean Dupont's car, plate AB-123-CD" * 20


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_an_attachment_is_stored_encrypted_private_and_read_back(claimflow_home, monkeypatch):
    monkeypatch.delenv("CLAIMFLOW_DATA_KEY", raising=False)
    store = AttachmentStore(claimflow_home / "attachments")
    sha = store.put(PHOTO)
    stored = store.path_for(sha).read_bytes()
    assert PHOTO[:40] not in stored and b"Dupont" not in stored and stored.startswith(b"gAAAAA")
    assert store.get(sha) == PHOTO
    assert mode(store.path_for(sha)) == 0o600 and mode(store.path_for(sha).parent) == 0o700
    assert mode(claimflow_home / "secrets" / "data.key") == 0o600


def test_a_rotated_key_reads_old_data_and_rewrites_it_under_the_new_key(tmp_path, monkeypatch):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    before = AttachmentStore(tmp_path / "a", DataVault([old]))
    sha = before.put(PHOTO)
    during = AttachmentStore(tmp_path / "a", DataVault([new, old]))
    assert during.get(sha) == PHOTO
    path = during.path_for(sha)
    path.write_bytes(during.vault.rotate(path.read_bytes()))
    assert AttachmentStore(tmp_path / "a", DataVault([new])).get(sha) == PHOTO
    with pytest.raises(VaultError):
        AttachmentStore(tmp_path / "a", DataVault([old])).get(sha)


def test_a_mail_body_is_sealed_in_the_warehouse_and_still_parsed(tmp_path, monkeypatch):
    from assets.claims.intake import ingest_inbox, parse_pending
    from connectors.inbox import MaildirInbox
    from connectors.schema import CLAIM_EMAILS, PARSED_CLAIMS
    from connectors.warehouse import Warehouse
    from models.extraction import ExtractionRules

    monkeypatch.setenv("CLAIMFLOW_HOME", str(tmp_path / "home"))
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.ensure_schema()
    inbox = MaildirInbox(tmp_path / "inbox")
    inbox.ensure()
    inbox.deliver(b"From: Jean Dupont <jean@example.fr>\nTo: claims@insurer.example\nSubject: Claim CLM-2026-000777\n"
                  b"Date: Mon, 02 Mar 2026 10:00:00 +0100\nMessage-ID: <x@example>\n\n"
                  b"Policy POL-1234567. I live 14 rue des Tanneurs, 67000 Strasbourg. Jean Dupont\n", name="a.eml")
    ingest_inbox(inbox, inbox.list_new(), AttachmentStore(tmp_path / "att"), wh, run_id="r",
                 max_attachment_bytes=10_000_000)
    body = wh.read(f"select body_text from {CLAIM_EMAILS}")["body_text"].iloc[0]
    assert body.startswith("fernet:") and "Tanneurs" not in body and "Dupont" not in body
    parse_pending(wh, run_id="r", rules=ExtractionRules())
    assert wh.read(f"select policy_number from {PARSED_CLAIMS}")["policy_number"].iloc[0] == "POL-1234567"


def test_everything_the_cli_writes_under_the_home_is_private(claimflow_home, monkeypatch):
    monkeypatch.delenv("CLAIMFLOW_SOR_URL", raising=False)
    claimflow_home.mkdir(parents=True)
    code = subprocess.run([sys.executable, "-m", "orchestration.cli", "audit", "verify"], capture_output=True,
                          text=True, env=os.environ | {"CLAIMFLOW_HOME": str(claimflow_home)}, timeout=120)
    assert code.returncode == 0, code.stderr
    entries = [p for p in claimflow_home.rglob("*")]
    assert any(p.name == "system_of_record.db" for p in entries)
    loose = [(str(p), oct(mode(p))) for p in entries if mode(p) & 0o077]
    assert not loose


def test_an_old_world_readable_home_is_tightened(tmp_path):
    (tmp_path / "home" / "inbox" / "new").mkdir(parents=True)
    mail = tmp_path / "home" / "inbox" / "new" / "m.eml"
    mail.write_text("From: a@b.c")
    os.chmod(mail, 0o644)
    os.chmod(tmp_path / "home" / "inbox", 0o755)
    assert secure_tree(tmp_path / "home") >= 2
    assert mode(mail) == 0o600 and mode(tmp_path / "home" / "inbox") == 0o700


def test_a_closed_pipe_ends_the_command_quietly(claimflow_home, monkeypatch):
    from connectors.audit import AuditLog

    claimflow_home.mkdir(parents=True)
    log = AuditLog(f"sqlite:///{claimflow_home / 'system_of_record.db'}")
    log.append_many([{"actor": "t", "action": "a", "subject": f"s{i}", "payload": {"i": i}} for i in range(3000)])
    env = os.environ | {"CLAIMFLOW_HOME": str(claimflow_home)}
    env.pop("CLAIMFLOW_SOR_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "orchestration.cli", "audit", "show", "--last", "3000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and "BrokenPipe" not in err and "Traceback" not in err, err
