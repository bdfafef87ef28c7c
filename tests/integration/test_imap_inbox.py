"""The IMAP inbox against a real Dovecot: same contract as the Maildir one, nothing lost on a crash."""

from __future__ import annotations

import threading
import time
from email.message import EmailMessage

import pytest
from imap_tools import MailBoxUnencrypted

from assets.claims.intake import ingest_inbox
from connectors.attachments import AttachmentStore
from connectors.imap import ImapInbox, parse_key
from connectors.warehouse import Warehouse

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dovecot():
    from fakes.dovecot import start_dovecot

    server = start_dovecot()
    yield server
    server.stop()


@pytest.fixture
def mailbox(dovecot, tmp_path):
    """A fresh folder per test (the server is shared), a checkpoint database, and a factory of inboxes."""
    folder = f"Claims{time.time_ns()}"
    opened = []

    def make(**kwargs) -> ImapInbox:
        options = {"folder": folder, "processed_folder": f"{folder}-done", **kwargs}
        inbox = ImapInbox(dovecot.host, dovecot.user, dovecot.password, port=dovecot.port, security="none",
                          checkpoint_url=f"sqlite:///{tmp_path / 'checkpoints.db'}", **options)  # fmt: skip
        opened.append(inbox)
        return inbox

    with _raw(dovecot) as box:
        box.folder.create(folder)
    yield make
    for inbox in opened:
        inbox.close()


def _raw(dovecot) -> MailBoxUnencrypted:
    return MailBoxUnencrypted(dovecot.host, dovecot.port).login(dovecot.user, dovecot.password, initial_folder=None)


def _count(dovecot, folder: str) -> int:
    with _raw(dovecot) as box:
        return int(box.folder.status(folder, ["MESSAGES"])["MESSAGES"]) if box.folder.exists(folder) else 0


def claim_mail(i: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"client{i}@example.fr"
    msg["To"] = "sinistres@assureur.example"
    msg["Subject"] = f"Déclaration de sinistre CLM-2026-{i:06d}"
    msg["Message-ID"] = f"<claim-{i}@example.fr>"
    msg.set_content(f"Bonjour, sinistre CLM-2026-{i:06d}, police POL-{i:07d}, le 02/03/2026 : pare-brise fissuré.")
    return msg.as_bytes()


def test_delivered_mail_is_listed_in_arrival_order_read_byte_for_byte_and_moved_once(dovecot, mailbox):
    inbox = mailbox()
    sent = [claim_mail(i) for i in range(5)]
    delivered = [inbox.deliver(raw) for raw in sent]
    listed = inbox.list_new()
    assert [i.key for i in listed] == [d.key for d in delivered]
    assert [parse_key(i.key)[1] for i in listed] == sorted(parse_key(i.key)[1] for i in listed)
    assert [inbox.read(i).replace(b"\r\n", b"\n") for i in listed] == [r.replace(b"\r\n", b"\n") for r in sent]
    assert all(i.size > 0 and i.mtime > 0 for i in listed)

    inbox.mark_processed(listed[0])
    inbox.mark_processed(listed[0])  # idempotent
    inbox.mark_processed_many(listed[1:3])
    assert [i.key for i in inbox.list_new()] == [d.key for d in delivered[3:]]
    assert inbox.list_new(limit=1)[0].key == delivered[3].key
    assert (_count(dovecot, inbox.folder), _count(dovecot, inbox.processed_folder)) == (2, 3)
    assert "s3cret" not in repr(inbox)
    assert {"MOVE", "UIDPLUS", "IDLE"} <= set(inbox.box.client.capabilities)  # server-side move, not copy+expunge


def _intake(inbox, tmp_path, run_id: str, crash_after_commit: bool = False):
    class CrashAfterCommit(Exception):
        pass

    if crash_after_commit:
        def crash(item):
            raise CrashAfterCommit("pod killed after the warehouse commit, before the move")

        inbox.mark_processed = crash
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    warehouse.ensure_schema()
    try:
        return ingest_inbox(inbox, inbox.list_new(), AttachmentStore(tmp_path / "att"), warehouse,
                            run_id=run_id, max_attachment_bytes=10_000_000)  # fmt: skip
    except CrashAfterCommit:
        return None


def test_a_crash_between_the_receipt_commit_and_the_move_loses_nothing_and_doubles_nothing(dovecot, mailbox, tmp_path):
    first = mailbox()
    for i in range(4):
        first.deliver(claim_mail(i))
    assert _intake(first, tmp_path, "run-1", crash_after_commit=True) is None
    assert _count(dovecot, first.folder) == 4  # committed, not moved: still in the inbox
    first.close()

    again = _intake(mailbox(), tmp_path, "run-2")
    assert (again.files, again.new_messages) == (4, 0)  # read again, known by content hash
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    assert warehouse.read("select count(*) as n from raw.claim_emails")["n"][0] == 4
    assert (_count(dovecot, first.folder), _count(dovecot, first.processed_folder)) == (0, 4)
    assert mailbox().list_new() == []


def test_a_checkpointed_message_whose_move_was_interrupted_is_moved_not_returned(dovecot, mailbox):
    inbox = mailbox()
    items = [inbox.deliver(claim_mail(i)) for i in range(3)]
    validity, uid = parse_key(items[1].key)
    inbox.checkpoint.record(validity, [uid])  # step 2 happened, then the process died before step 3
    assert [i.key for i in mailbox().list_new()] == [items[0].key, items[2].key]
    assert _count(dovecot, inbox.processed_folder) == 1


def test_a_read_only_mailbox_is_tracked_by_checkpoint_alone(dovecot, mailbox):
    inbox = mailbox(processed_folder=None)
    items = [inbox.deliver(claim_mail(i)) for i in range(3)]
    inbox.mark_processed_many(items[:2])
    assert [i.key for i in mailbox(processed_folder=None).list_new()] == [items[2].key]
    assert _count(dovecot, inbox.folder) == 3  # nothing moved, nothing deleted


def test_a_renumbered_folder_gets_new_keys_and_intake_knows_the_messages_by_content(dovecot, mailbox, tmp_path):
    inbox = mailbox()
    for i in range(2):
        inbox.deliver(claim_mail(i))
    assert _intake(inbox, tmp_path, "run-1").new_messages == 2
    old_validity = inbox.uidvalidity()
    inbox.close()
    with _raw(dovecot) as box:  # the administrator restores the folder from a backup: new UIDVALIDITY
        box.folder.delete(inbox.folder)
        box.folder.create(inbox.folder)
    restored = mailbox()
    for i in range(2):
        restored.deliver(claim_mail(i))
    fresh = restored.list_new()
    assert restored.uidvalidity() != old_validity and {parse_key(i.key)[0] for i in fresh} == {restored.uidvalidity()}
    again = _intake(restored, tmp_path, "run-2")
    assert (again.files, again.new_messages) == (2, 0)


def test_idle_wakes_up_when_mail_arrives(mailbox):
    watcher, sender = mailbox(), mailbox()
    watcher.list_new()
    timer = threading.Timer(0.5, lambda: sender.deliver(claim_mail(9)))
    started = time.monotonic()
    timer.start()
    try:
        assert watcher.wait_for_mail(timeout=20)
    finally:
        timer.join()
    assert time.monotonic() - started < 10
    assert len(watcher.list_new()) == 1
