"""connectors.inbox: Maildir delivery, listing and processing; nothing is ever lost."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectors.inbox import Inbox, InboxItem, MaildirInbox

RAW = b"From: a@example.fr\r\nSubject: sinistre\r\n\r\nCLM-2026-000123\r\n"


@pytest.fixture
def inbox(tmp_path) -> MaildirInbox:
    box = MaildirInbox(tmp_path / "inbox")
    box.ensure()
    return box


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_ensure_creates_the_three_folders_and_can_run_twice(tmp_path):
    box = MaildirInbox(str(tmp_path / "deep" / "inbox"))
    box.ensure()
    box.ensure()
    assert sorted(p.name for p in (tmp_path / "deep" / "inbox").iterdir()) == ["cur", "new", "tmp"]


def test_the_inbox_interface_cannot_be_instantiated():
    with pytest.raises(TypeError):
        Inbox()  # type: ignore[abstract]


def test_delivery_lands_complete_in_new_and_leaves_nothing_in_tmp(inbox):
    item = inbox.deliver(RAW)
    assert item.path.parent == inbox.new and item.path.read_bytes() == RAW
    assert item.size == len(RAW) and item.key == item.path.name
    assert list(inbox.tmp.iterdir()) == []
    assert inbox.read(item) == RAW


def test_generated_names_are_unique_even_in_a_fast_burst(inbox):
    keys = {inbox.deliver(RAW).key for _ in range(300)}
    assert len(keys) == 300 and len(inbox.list_new()) == 300
    assert all(":" not in k and "/" not in k and not k.startswith(".") for k in keys)


def test_a_named_delivery_keeps_its_name_as_key_and_refuses_to_overwrite(inbox):
    item = inbox.deliver(RAW, name="m1.eml")
    assert item.key == "m1.eml"
    with pytest.raises(FileExistsError):
        inbox.deliver(b"other content", name="m1.eml")
    assert (inbox.new / "m1.eml").read_bytes() == RAW
    inbox.mark_processed(item)
    with pytest.raises(FileExistsError):  # already processed under that name
        inbox.deliver(b"other content", name="m1.eml")
    assert list(inbox.tmp.iterdir()) == []


@pytest.mark.parametrize("name", ["", ".hidden", "../escape.eml", "a/b.eml", "x:2,S", "nul\x00.eml", "."])
def test_unsafe_delivery_names_are_rejected(inbox, name):
    with pytest.raises(ValueError):
        inbox.deliver(RAW, name=name)


def test_listing_is_oldest_first_then_by_name_and_honours_the_limit(inbox):
    for name, mtime in (("c.eml", 100), ("b.eml", 200), ("a.eml", 200), ("d.eml", 50)):
        item = inbox.deliver(RAW, name=name)
        os.utime(item.path, (mtime, mtime))
    assert [i.key for i in inbox.list_new()] == ["d.eml", "c.eml", "a.eml", "b.eml"]
    assert [i.key for i in inbox.list_new(limit=2)] == ["d.eml", "c.eml"]
    assert inbox.list_new(limit=0) == []
    assert inbox.list_new()[0] == InboxItem("d.eml", inbox.new / "d.eml", len(RAW), 50.0)


def test_listing_skips_dotfiles_folders_symlinks_and_deliveries_in_progress(inbox, tmp_path):
    inbox.deliver(RAW, name="real.eml")
    (inbox.new / ".DS_Store").write_bytes(b"junk")
    (inbox.new / "subfolder").mkdir()
    outside = tmp_path / "outside.eml"
    outside.write_bytes(RAW)
    (inbox.new / "link.eml").symlink_to(outside)
    (inbox.tmp / "half-written.eml").write_bytes(RAW[:10])
    assert [i.key for i in inbox.list_new()] == ["real.eml"]


def test_listing_a_missing_inbox_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="ensure"):
        MaildirInbox(tmp_path / "nowhere").list_new()


def test_processing_moves_to_cur_with_the_seen_flag_and_deletes_nothing(inbox):
    items = [inbox.deliver(RAW + bytes([i]), name=f"m{i}.eml") for i in range(3)]
    before = sorted(all_files(inbox.root).values())
    inbox.mark_processed(items[1])
    assert (inbox.cur / "m1.eml:2,S").read_bytes() == RAW + b"\x01"
    assert [i.key for i in inbox.list_new()] == ["m0.eml", "m2.eml"]
    assert sorted(all_files(inbox.root).values()) == before


def test_processing_twice_is_a_no_op(inbox):
    item = inbox.deliver(RAW, name="m.eml")
    inbox.mark_processed(item)
    inbox.mark_processed(item)
    assert [p.name for p in inbox.cur.iterdir()] == ["m.eml:2,S"]
    assert inbox.read(item) == RAW  # a worker holding a stale item can still read it


def test_processing_an_item_a_mail_client_already_flagged_is_a_no_op(inbox):
    item = inbox.deliver(RAW, name="m.eml")
    os.replace(item.path, inbox.cur / "m.eml:2,RS")
    inbox.mark_processed(item)
    assert [p.name for p in inbox.cur.iterdir()] == ["m.eml:2,RS"]


def test_processing_never_overwrites_an_earlier_message_with_the_same_key(inbox):
    (inbox.cur / "m.eml:2,S").write_bytes(b"earlier message")
    (inbox.new / "m.eml").write_bytes(RAW)  # put there by hand, not through deliver()
    [item] = inbox.list_new()
    inbox.mark_processed(item)
    contents = sorted(p.read_bytes() for p in inbox.cur.iterdir())
    assert contents == sorted([b"earlier message", RAW])
    assert inbox.list_new() == []


def test_processing_a_message_that_vanished_is_an_error(inbox):
    item = inbox.deliver(RAW, name="m.eml")
    item.path.rename(inbox.root / "elsewhere.eml")
    with pytest.raises(FileNotFoundError):
        inbox.mark_processed(item)
    with pytest.raises(FileNotFoundError):
        inbox.read(item)
