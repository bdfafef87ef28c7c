"""The production claims mailbox as a Dagster resource: IMAP behind the same interface as the Maildir folder.

A subclass of `InboxResource`, so every asset and sensor that takes `inbox: InboxResource` reads
IMAP unchanged; `orchestration/resources.py` chooses it in PROD when `CLAIMFLOW_INBOX=imap`.
"""

from __future__ import annotations

from pydantic import Field

from assets.resources import InboxResource
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
