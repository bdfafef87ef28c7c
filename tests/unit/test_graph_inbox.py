"""The Microsoft 365 inbox (Graph) against a loopback server speaking the endpoints it uses."""

from __future__ import annotations

import pytest

from connectors.graph import GraphError, GraphInbox
from fakes.graph_server import FakeGraph


@pytest.fixture
def graph():
    fake = FakeGraph().start()
    yield fake
    fake.stop()


def inbox(fake: FakeGraph, **kwargs) -> GraphInbox:
    return GraphInbox(fake.tenant, fake.client_id, kwargs.pop("secret", fake.secret), fake.mailbox,
                      graph_url=fake.url, login_url=fake.url, **kwargs)  # fmt: skip


def mail(i: int) -> bytes:
    return f"From: client{i}@example.fr\r\nSubject: Sinistre CLM-2026-{i:06d}\r\n\r\nBonjour {i}\r\n".encode()


def test_mail_is_listed_oldest_first_across_pages_read_as_mime_and_moved_once(graph):
    box = inbox(graph)
    delivered = [box.deliver(mail(i)) for i in range(5)]
    listed = box.list_new()
    assert [i.key for i in listed] == [d.key for d in delivered]  # 3 pages of 2
    assert [box.read(i) for i in listed] == [mail(i) for i in range(5)]
    assert [i.size for i in listed] == [len(mail(i)) for i in range(5)]
    assert box.list_new(limit=3) == listed[:3]

    box.mark_processed(listed[0])
    box.mark_processed(listed[0])  # already moved: no second move
    box.mark_processed_many(listed[1:3])
    assert [i.key for i in box.list_new()] == [d.key for d in delivered[3:]]
    assert len(graph.in_folder("Processed")) == 3
    assert sum(1 for method, path in graph.calls if method == "POST" and path.endswith("/move")) == 3
    # Immutable IDs: a processed message is still read under the same key.
    assert box.read(listed[0]) == mail(0)
    assert "s3cret" not in repr(box)


def test_a_crash_between_commit_and_move_leaves_the_mail_listed_for_the_next_run(graph):
    box = inbox(graph)
    item = box.deliver(mail(1))
    box.read(item)  # the run read it and committed its receipt, then died before mark_processed
    again = inbox(graph).list_new()
    assert [i.key for i in again] == [item.key]


def test_throttling_is_retried_and_a_bad_secret_is_a_clear_error(graph):
    box = inbox(graph)
    box.deliver(mail(1))
    graph.throttle_next = 2
    assert len(box.list_new()) == 1
    with pytest.raises(GraphError, match="401"):
        inbox(graph, secret="wrong").list_new()


def test_a_missing_message_reads_as_file_not_found(graph):
    box = inbox(graph)
    item = box.deliver(mail(1))
    del graph.messages[item.key.removeprefix("graph-")]
    with pytest.raises(FileNotFoundError):
        box.read(item)
