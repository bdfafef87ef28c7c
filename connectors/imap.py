"""The production claims mailbox: IMAP (any server: Exchange, Dovecot, Gmail...) behind the `Inbox` interface.

A message's key is `imap-<UIDVALIDITY>-<UID>`: stable while the folder lives, and new if the server
ever renumbers the folder (a new UIDVALIDITY), so nothing is silently confused with an older message;
intake's content-hash key makes a re-read after a renumbering a no-op.

Processing is crash-safe in three steps, in this order:
1. intake commits the message's receipt to the warehouse (the caller, before `mark_processed`);
2. `mark_processed` records (UIDVALIDITY, UID) in the checkpoint table (SQL, the system of record);
3. it then moves the message to the processed folder (UID MOVE, or COPY + delete without MOVE).
A crash before 2 leaves the message in the inbox: it is read again and its content hash makes the
second read a no-op. A crash between 2 and 3 leaves a checkpointed message in the inbox: the next
`list_new` finishes its move instead of returning it. Nothing is deleted before a copy exists.

With `processed_folder=None` (a mailbox we may read but not change) the checkpoint alone decides
what is new. `wait_for_mail` uses IMAP IDLE when the server offers it, else polls.
"""

from __future__ import annotations

import imaplib
import re
import time
from collections.abc import Iterable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

import sqlalchemy as sa
from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import MailboxFolderSelectError

from connectors.inbox import Inbox, InboxItem

__all__ = ["ImapCheckpoint", "ImapInbox", "parse_key"]

_FETCH_ITEM = re.compile(rb"UID (\d+)|RFC822\.SIZE (\d+)|INTERNALDATE \"([^\"]+)\"")
_APPENDUID = re.compile(rb"APPENDUID (\d+) (\d+)")

_metadata = sa.MetaData()
checkpoints_table = sa.Table(
    "imap_checkpoints",
    _metadata,
    sa.Column("mailbox", sa.String(300), primary_key=True),
    sa.Column("uidvalidity", sa.BigInteger, primary_key=True),
    sa.Column("uid", sa.BigInteger, primary_key=True),
    sa.Column("processed_at", sa.DateTime, nullable=False),
)


def parse_key(key: str) -> tuple[int, int]:
    """`imap-<uidvalidity>-<uid>` -> (uidvalidity, uid)."""
    prefix, validity, uid = key.split("-")
    if prefix != "imap":
        raise ValueError(f"not an IMAP inbox key: {key!r}")
    return int(validity), int(uid)


class ImapCheckpoint:
    """Which (UIDVALIDITY, UID) of a mailbox are processed: rows in any SQLAlchemy database.

    Rows, not a high-water mark: micro-batches commit out of order when several runs are in flight.
    """

    def __init__(self, url: str, mailbox: str):
        self.engine = sa.create_engine(url)
        self.mailbox = mailbox
        _metadata.create_all(self.engine)

    def processed(self, uidvalidity: int) -> set[int]:
        t = checkpoints_table
        query = sa.select(t.c.uid).where(t.c.mailbox == self.mailbox, t.c.uidvalidity == uidvalidity)
        with self.engine.connect() as con:
            return set(con.execute(query).scalars())

    def record(self, uidvalidity: int, uids: Iterable[int]) -> None:
        """Add processed UIDs; recording one twice is a no-op."""
        now = datetime.now(UTC).replace(tzinfo=None)
        with self.engine.begin() as con:
            known = self._known(con, uidvalidity)
            rows = [{"mailbox": self.mailbox, "uidvalidity": uidvalidity, "uid": u, "processed_at": now}
                    for u in set(uids) - known]  # fmt: skip
            if rows:
                con.execute(checkpoints_table.insert(), rows)

    def forget(self, uidvalidity: int, keep: set[int]) -> None:
        """Drop rows of UIDs that left the folder (moved or expunged), so the table stays small."""
        t = checkpoints_table
        with self.engine.begin() as con:
            gone = self._known(con, uidvalidity) - keep
            if gone:
                con.execute(t.delete().where(t.c.mailbox == self.mailbox, t.c.uidvalidity == uidvalidity,
                                             t.c.uid.in_(sorted(gone))))  # fmt: skip

    def _known(self, con, uidvalidity: int) -> set[int]:
        t = checkpoints_table
        query = sa.select(t.c.uid).where(t.c.mailbox == self.mailbox, t.c.uidvalidity == uidvalidity)
        return set(con.execute(query).scalars())


class ImapInbox(Inbox):
    """A folder of an IMAP mailbox; processed mail moves to `processed_folder` (created if missing)."""

    def __init__(
        self,
        host: str,
        user: str,
        password: str,
        *,
        checkpoint_url: str,
        port: int | None = None,
        security: str = "ssl",
        folder: str = "INBOX",
        processed_folder: str | None = "Processed",
        timeout: float = 30,
        poll_seconds: float = 30,
    ):
        if security not in ("ssl", "starttls", "none"):
            raise ValueError(f"security must be ssl, starttls or none, not {security!r}")
        self.host, self.user, self._password = host, user, password
        self.port = port or (993 if security == "ssl" else 143)
        self.security, self.folder, self.processed_folder = security, folder, processed_folder
        self.timeout, self.poll_seconds = timeout, poll_seconds
        self.checkpoint = ImapCheckpoint(checkpoint_url, f"{user}@{host}/{folder}")
        self._box: MailBox | None = None

    def __repr__(self) -> str:  # never the password
        return f"ImapInbox({self.user}@{self.host}:{self.port}/{self.folder})"

    # ------------------------------------------------------------ connection

    def _connect(self) -> MailBox:
        cls = {"ssl": MailBox, "starttls": MailBoxStartTls, "none": MailBoxUnencrypted}[self.security]
        box = cls(self.host, self.port, timeout=self.timeout)
        box.login(self.user, self._password, initial_folder=None)
        # imaplib keeps the pre-login capabilities; servers announce MOVE, UIDPLUS and IDLE after login.
        typ, data = box.client.capability()
        if typ == "OK" and data and data[0]:
            box.client.capabilities = tuple(data[0].decode().upper().split())
        if self.processed_folder and not box.folder.exists(self.processed_folder):
            with suppress(Exception):  # a concurrent worker may create it first
                box.folder.create(self.processed_folder)
        box.folder.set(self.folder)
        return box

    @property
    def box(self) -> MailBox:
        if self._box is None:
            self._box = self._connect()
        return self._box

    def close(self) -> None:
        if self._box is not None:
            with suppress(Exception):
                self._box.logout()
            self._box = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _retrying(self, action):
        # A dropped connection (server restart, idle timeout) gets one fresh login, not a failed run.
        try:
            return action(self.box)
        except (imaplib.IMAP4.abort, OSError):
            self.close()
            return action(self.box)

    # ------------------------------------------------------------ Inbox

    def uidvalidity(self) -> int:
        return self._retrying(lambda box: int(box.folder.status(self.folder, ["UIDVALIDITY"])["UIDVALIDITY"]))

    def list_new(self, limit: int | None = None) -> list[InboxItem]:
        """Messages in the folder not yet processed, by UID (arrival order); finishes interrupted moves."""
        if limit is not None and limit < 0:
            raise ValueError("limit must be zero or positive")

        def listing(box: MailBox):
            box.folder.set(self.folder)
            validity = int(box.folder.status(self.folder, ["UIDVALIDITY"])["UIDVALIDITY"])
            return validity, self._fetch_meta(box, "1:*")

        validity, items = self._retrying(listing)
        done = self.checkpoint.processed(validity)
        present = {uid for uid, _, _ in items}
        if self.processed_folder:
            leftover = sorted(present & done)
            if leftover:  # committed and checkpointed, the move did not happen: finish it now
                self._retrying(lambda box: box.move([str(u) for u in leftover], self.processed_folder))
            self.checkpoint.forget(validity, keep=present - set(leftover))
        fresh = [
            InboxItem(f"imap-{validity}-{uid}", Path(self.folder) / str(validity) / str(uid), size, mtime)
            for uid, size, mtime in items
            if uid not in done
        ]
        return fresh if limit is None else fresh[:limit]

    def read(self, item: InboxItem) -> bytes:
        """The message's RFC 822 bytes (BODY.PEEK: reading does not set \\Seen)."""
        validity, uid = parse_key(item.key)

        def fetch(box: MailBox) -> bytes:
            box.folder.set(self.folder)
            if int(box.folder.status(self.folder, ["UIDVALIDITY"])["UIDVALIDITY"]) != validity:
                raise FileNotFoundError(f"{item.key}: {self.folder} was renumbered (UIDVALIDITY changed)")
            _, data = box.client.uid("FETCH", str(uid), "(BODY.PEEK[])")
            raw = _body(data)
            if raw is None:  # processed meanwhile by another worker: its receipt is already committed
                raise FileNotFoundError(f"{item.key} is no longer in {self.folder}")
            return raw

        return self._retrying(fetch)

    def mark_processed(self, item: InboxItem) -> None:
        """Checkpoint, then move to the processed folder; a second call (or a racing worker) is a no-op."""
        self.mark_processed_many([item])

    def mark_processed_many(self, items: Iterable[InboxItem]) -> None:
        """`mark_processed` for a batch: one checkpoint transaction and one UID MOVE."""
        by_validity: dict[int, list[int]] = {}
        for item in items:
            validity, uid = parse_key(item.key)
            by_validity.setdefault(validity, []).append(uid)
        for validity, uids in by_validity.items():
            self.checkpoint.record(validity, uids)
            if self.processed_folder and validity == self.uidvalidity():

                def move(box: MailBox, uids=uids):
                    box.folder.set(self.folder)
                    still = {u for u, _, _ in self._fetch_meta(box, ",".join(map(str, sorted(uids))))}
                    if still:
                        box.move([str(u) for u in sorted(still)], self.processed_folder)

                self._retrying(move)

    def deliver(self, raw: bytes, name: str | None = None) -> InboxItem:
        """APPEND a message to the folder (tests, a gateway); `name` is ignored: the server names it."""
        response = self._retrying(lambda box: box.append(raw, self.folder, dt=datetime.now(UTC)))
        found = _APPENDUID.search(b" ".join(x if isinstance(x, bytes) else str(x).encode() for x in _flat(response)))
        if not found:
            raise RuntimeError("the IMAP server did not return APPENDUID (UIDPLUS); cannot name the message")
        validity, uid = int(found.group(1)), int(found.group(2))
        return InboxItem(f"imap-{validity}-{uid}", Path(self.folder) / str(validity) / str(uid), len(raw), time.time())

    def wait_for_mail(self, timeout: float) -> bool:
        """Block up to `timeout` s until new mail may be there: IDLE when offered, else one poll interval."""
        box = self.box
        box.folder.set(self.folder)
        if "IDLE" in box.client.capabilities:
            try:
                return bool(box.idle.wait(timeout=timeout))
            except (imaplib.IMAP4.abort, OSError):
                self.close()
                return True  # reconnect and list: a dropped IDLE must not hide mail
        before = box.folder.status(self.folder, ["UIDNEXT", "MESSAGES"])
        time.sleep(min(timeout, self.poll_seconds))
        return box.folder.status(self.folder, ["UIDNEXT", "MESSAGES"]) != before

    # ------------------------------------------------------------ helpers

    def _fetch_meta(self, box: MailBox, uid_set: str) -> list[tuple[int, int, float]]:
        """(uid, size, internal date as epoch seconds) of the messages in `uid_set`, by UID."""
        try:
            status, data = box.client.uid("FETCH", uid_set, "(UID RFC822.SIZE INTERNALDATE)")
        except MailboxFolderSelectError:
            return []
        if status != "OK":
            raise OSError(f"IMAP FETCH failed: {data!r}")
        out = {}
        for line in data:
            if not isinstance(line, bytes):
                continue
            uid = size = None
            stamp = 0.0
            for m in _FETCH_ITEM.finditer(line):
                if m.group(1):
                    uid = int(m.group(1))
                elif m.group(2):
                    size = int(m.group(2))
                else:
                    parsed = imaplib.Internaldate2tuple(b'INTERNALDATE "' + m.group(3) + b'"')
                    stamp = time.mktime(parsed) if parsed else 0.0
            if uid is not None:
                out[uid] = (uid, size or 0, stamp)
        return [out[u] for u in sorted(out)]


def _body(data) -> bytes | None:
    for part in data or ():
        if isinstance(part, tuple) and len(part) == 2 and isinstance(part[1], bytes):
            return part[1]
    return None


def _flat(value):
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _flat(v)
    elif value is not None:
        yield value
