"""The production claims mailbox as a Dagster resource: IMAP or Microsoft 365 (Graph) behind the
same interface as the Maildir folder.

Subclasses of `InboxResource`, so every asset and sensor that takes `inbox: InboxResource` reads them
unchanged; `orchestration/resources.py` chooses one in PROD by `CLAIMFLOW_INBOX` (`imap`, `graph`).
"""

from __future__ import annotations

from pydantic import Field

from assets.resources import InboxResource
from connectors.graph import GraphInbox
from connectors.imap import ImapInbox


class ImapInboxResource(InboxResource):
    """An IMAP folder; processed mail moves to `processed_folder` once its receipt is committed."""

    root: str = Field("", description="Unused for IMAP (the Maildir root of the parent resource).")
    host: str = Field(description="IMAP server host name.")
    port: int = Field(993, description="993 for ssl, 143 for starttls.")
    security: str = Field("ssl", description="ssl, starttls or none (none: loopback tests only).")
    user: str = Field(description="Mailbox login.")
    password: str = Field(description="Mailbox password or app password; from a secret.")
    folder: str = Field("INBOX", description="Folder claims arrive in.")
    processed_folder: str = Field("Processed", description="Where processed mail is moved; created if missing.")
    checkpoint_url: str = Field(description="SQLAlchemy URL of the checkpoint table (the system of record).")

    def get(self) -> ImapInbox:
        return ImapInbox(
            self.host, self.user, self.password, port=self.port, security=self.security, folder=self.folder,
            processed_folder=self.processed_folder or None, checkpoint_url=self.checkpoint_url,
        )  # fmt: skip


class GraphInboxResource(InboxResource):
    """A folder of a Microsoft 365 mailbox through Microsoft Graph (application permission Mail.ReadWrite)."""

    root: str = Field("", description="Unused for Graph (the Maildir root of the parent resource).")
    tenant_id: str = Field(description="Entra ID tenant.")
    client_id: str = Field(description="The app registration's client id.")
    client_secret: str = Field(description="The app registration's secret; from a secret.")
    mailbox: str = Field(description="The claims mailbox address.")
    folder: str = Field("inbox", description="Folder claims arrive in (well-known name or id).")
    processed_folder: str = Field("Processed", description="Display name of the folder processed mail moves to.")

    def get(self) -> GraphInbox:
        return GraphInbox(
            self.tenant_id, self.client_id, self.client_secret, self.mailbox,
            folder=self.folder, processed_folder=self.processed_folder,
        )  # fmt: skip
