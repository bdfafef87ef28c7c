"""Dagster resources over the outside systems; the clients themselves live in `connectors/`.

`orchestration/resources.py` decides which configuration each environment gets.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from connectors.attachments import AttachmentStore
from connectors.inbox import MaildirInbox
from connectors.mail import MAX_ATTACHMENT_BYTES
from connectors.system_of_record import PolicySystem, SqlPolicySystem
from connectors.warehouse import Warehouse


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file that raw tables land in and dbt builds on."""

    path: str = Field(description="DuckDB database file.")

    def get(self) -> Warehouse:
        return Warehouse(self.path)


class InboxResource(dg.ConfigurableResource):
    """The claims mailbox: a Maildir-style folder (`new/`, `cur/`, `tmp/`)."""

    root: str = Field(description="Maildir root folder.")
    max_attachment_bytes: int = Field(MAX_ATTACHMENT_BYTES, description="Larger attachments are skipped.")

    def get(self) -> MaildirInbox:
        inbox = MaildirInbox(self.root)
        inbox.ensure()
        return inbox


class AttachmentStoreResource(dg.ConfigurableResource):
    """Content-addressed store of e-mail attachments."""

    root: str = Field(description="Folder; files are kept under their sha256.")

    def get(self) -> AttachmentStore:
        return AttachmentStore(self.root)


class PolicySystemResource(dg.ConfigurableResource):
    """The policy register in the system of record (any SQLAlchemy URL)."""

    url: str = Field(description="SQLAlchemy URL, e.g. sqlite:////path/sor.db or postgresql+psycopg://...")

    def get(self) -> PolicySystem:
        return SqlPolicySystem(self.url)
