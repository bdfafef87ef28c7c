"""The claims inbox: an interface, and a Maildir-style folder behind it (`new/`, `cur/`, `tmp/`).

Maildir semantics keep delivery and processing crash-safe without locks: a file is
written in `tmp/` and renamed into `new/` only when complete, so readers never see
half a message; processing renames `new/X` to `cur/X:2,S`. Nothing here deletes a
message: a processed file stays in `cur/` until someone archives it on purpose.
"""

from __future__ import annotations

import itertools
import os
import secrets
import socket
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Inbox", "InboxItem", "MaildirInbox"]

_INFO_SEPARATOR = ":2,"
_SEEN_FLAGS = "S"
_counter = itertools.count()


@dataclass(frozen=True)
class InboxItem:
    """One message waiting in the inbox; `key` is its unique name, stable from `new/` to `cur/`."""

    key: str
    path: Path
    size: int
    mtime: float


class Inbox(ABC):
    """Where claim e-mails arrive. Implementations: a Maildir folder here; IMAP or a topic at scale."""

    @abstractmethod
    def list_new(self, limit: int | None = None) -> list[InboxItem]:
        """Messages not yet processed, oldest first."""

    @abstractmethod
    def read(self, item: InboxItem) -> bytes:
        """The raw bytes of one message."""

    @abstractmethod
    def mark_processed(self, item: InboxItem) -> None:
        """Move a message out of the new ones; idempotent, never deletes it."""

    @abstractmethod
    def deliver(self, raw: bytes, name: str | None = None) -> InboxItem:
        """Add a message (tests, the demo, a mail gateway); returns it as a new item."""


class MaildirInbox(Inbox):
    """A Maildir folder: `tmp/` for deliveries in progress, `new/` waiting, `cur/` processed."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.new = self.root / "new"
        self.cur = self.root / "cur"
        self.tmp = self.root / "tmp"

    def ensure(self) -> None:
        """Create `new/`, `cur/` and `tmp/` if missing."""
        for folder in (self.new, self.cur, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)

    def list_new(self, limit: int | None = None) -> list[InboxItem]:
        """Files in `new/` sorted by (mtime, name); dotfiles, folders and symlinks are not messages."""
        if limit is not None and limit < 0:
            raise ValueError("limit must be zero or positive")
        if not self.new.is_dir():
            raise FileNotFoundError(f"inbox folder {self.new} does not exist; call ensure() first")
        items = []
        with os.scandir(self.new) as entries:
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # taken by a concurrent worker between listing and stat
                    continue
                items.append(InboxItem(_key(entry.name), Path(entry.path), st.st_size, st.st_mtime))
        items.sort(key=lambda i: (i.mtime, i.path.name))
        return items if limit is None else items[:limit]

    def read(self, item: InboxItem) -> bytes:
        """Bytes of the item; found in `cur/` too when another worker processed it meanwhile."""
        try:
            return item.path.read_bytes()
        except FileNotFoundError:
            moved = self._processed_path(item.key)
            if moved is None:
                raise
            return moved.read_bytes()

    def mark_processed(self, item: InboxItem) -> None:
        """Rename `new/X` to `cur/X:2,S` atomically; a second call (or a racing worker) is a no-op."""
        source = self.new / item.path.name
        target = self.cur / f"{item.key}{_INFO_SEPARATOR}{_SEEN_FLAGS}"
        if target.exists() and source.exists():
            # Another file was processed under this key before: keep both, never overwrite.
            target = self.cur / f"{item.key}.{_unique()}{_INFO_SEPARATOR}{_SEEN_FLAGS}"
        try:
            os.replace(source, target)
        except FileNotFoundError:
            if self._processed_path(item.key) is None:
                raise FileNotFoundError(f"inbox item {item.key!r} is neither in new/ nor in cur/") from None

    def deliver(self, raw: bytes, name: str | None = None) -> InboxItem:
        """Write to `tmp/`, fsync, then move into `new/`; an explicit name must not exist yet."""
        if name is None:
            name = _unique()
        else:
            _check_name(name)
            if (self.new / name).exists() or (self.cur / f"{_key(name)}{_INFO_SEPARATOR}{_SEEN_FLAGS}").exists():
                raise FileExistsError(f"inbox already holds a message named {name!r}")
        staging = self.tmp / f"{_unique()}.tmp"
        with open(staging, "xb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        target = self.new / name
        try:
            os.link(staging, target)  # no-clobber: fails if a concurrent delivery took the name
            os.unlink(staging)
        except FileExistsError:
            os.unlink(staging)
            raise FileExistsError(f"inbox already holds a message named {name!r}") from None
        except OSError:  # a filesystem without hard links: the rename is still atomic
            os.replace(staging, target)
        st = target.stat()
        return InboxItem(_key(name), target, st.st_size, st.st_mtime)

    def _processed_path(self, key: str) -> Path | None:
        exact = self.cur / f"{key}{_INFO_SEPARATOR}{_SEEN_FLAGS}"
        if exact.exists():
            return exact
        if not self.cur.is_dir():
            return None
        prefix = key + _INFO_SEPARATOR
        with os.scandir(self.cur) as entries:  # flags other than ours (a mail client set ":2,RS")
            for entry in entries:
                if entry.name.startswith(prefix) or entry.name == key:
                    return Path(entry.path)
        return None


def _key(name: str) -> str:
    """A Maildir file name without its `:2,FLAGS` info suffix."""
    return name.split(_INFO_SEPARATOR, 1)[0]


def _unique() -> str:
    # The Maildir recipe: time, process, a counter, randomness, host; unique without coordination.
    host = socket.gethostname().replace("/", r"\057").replace(":", r"\072") or "localhost"
    return f"{time.time_ns()}.P{os.getpid()}Q{next(_counter)}R{secrets.token_hex(4)}.{host}"


def _check_name(name: str) -> None:
    bad = (
        not name
        or name.startswith(".")
        or any(ch in name for ch in ("/", "\\", "\x00", ":"))
        or name in (".", "..")
        or len(name) > 200
    )
    if bad:
        raise ValueError(f"not a valid inbox file name: {name!r}")
