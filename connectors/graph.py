"""The claims mailbox on Microsoft 365, through Microsoft Graph, behind the `Inbox` interface.

Calls (application permission `Mail.ReadWrite` on the one mailbox, granted by an Exchange
application access policy): client-credentials token; list the folder's messages oldest first;
read one as MIME (`/$value`); move it to the processed folder (created if missing); create one
from MIME (tests, a gateway). Messages are addressed by immutable IDs (`Prefer: IdType="ImmutableId"`),
which survive the move, so a key never changes meaning.

Crash safety is the IMAP inbox's: intake commits the receipt first, then `mark_processed` moves the
message; a crash in between leaves it in the folder, read again, and its content hash makes that a
no-op. 429 and 503 answers are retried after `Retry-After`.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from connectors.inbox import Inbox, InboxItem

__all__ = ["GraphError", "GraphInbox"]

_SIZE_PROPERTY = "Integer 0x0E08"  # PR_MESSAGE_SIZE: Graph has no size field of its own
_IMMUTABLE = {"Prefer": 'IdType="ImmutableId"'}


class GraphError(RuntimeError):
    """Graph answered with an error; `status` is the HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(f"Microsoft Graph {status}: {message}")
        self.status = status


class GraphInbox(Inbox):
    """A mail folder of one Microsoft 365 mailbox; processed mail moves to `processed_folder`."""

    def __init__(
        self,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        mailbox: str,
        *,
        folder: str = "inbox",
        processed_folder: str = "Processed",
        graph_url: str = "https://graph.microsoft.com",
        login_url: str = "https://login.microsoftonline.com",
        timeout: float = 30,
        max_retries: int = 4,
    ):
        self.tenant_id, self.client_id, self._secret = tenant_id, client_id, client_secret
        self.mailbox, self.folder, self.processed_folder = mailbox, folder, processed_folder
        self.graph_url, self.login_url = graph_url.rstrip("/"), login_url.rstrip("/")
        self.timeout, self.max_retries = timeout, max_retries
        self._token: tuple[str, float] | None = None
        self._processed_id: str | None = None

    def __repr__(self) -> str:  # never the secret
        return f"GraphInbox({self.mailbox}/{self.folder})"

    # ------------------------------------------------------------ HTTP

    def _access_token(self) -> str:
        if self._token and self._token[1] > time.monotonic() + 60:
            return self._token[0]
        form = urllib.parse.urlencode({
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self._secret,
            "scope": f"{self.graph_url}/.default",
        }).encode()  # fmt: skip
        answer = json.loads(self._send(f"{self.login_url}/{self.tenant_id}/oauth2/v2.0/token", "POST", form,
                                       {"Content-Type": "application/x-www-form-urlencoded"}, auth=False))  # fmt: skip
        self._token = (answer["access_token"], time.monotonic() + float(answer.get("expires_in", 3600)))
        return self._token[0]

    def _send(self, url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None,
              *, auth: bool = True) -> bytes:  # fmt: skip
        for attempt in range(self.max_retries + 1):
            request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
            if auth:
                request.add_header("Authorization", f"Bearer {self._access_token()}")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.read()
            except urllib.error.HTTPError as err:
                detail = err.read().decode(errors="replace")[:300]
                if err.code == 401 and auth and attempt == 0:
                    self._token = None  # expired early or revoked: one fresh token
                    continue
                if err.code in (429, 503) and attempt < self.max_retries:
                    time.sleep(min(float(err.headers.get("Retry-After") or 2 ** attempt), 60))
                    continue
                raise GraphError(err.code, detail) from None
        raise GraphError(429, "still throttled after retries")

    def _api(self, path: str, method: str = "GET", payload: dict | None = None) -> dict:
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {**_IMMUTABLE, "Content-Type": "application/json"}
        raw = self._send(f"{self.graph_url}/v1.0/users/{urllib.parse.quote(self.mailbox)}{path}", method, body, headers)
        return json.loads(raw) if raw else {}

    # ------------------------------------------------------------ Inbox

    def list_new(self, limit: int | None = None) -> list[InboxItem]:
        """Messages in the folder, oldest first (every page)."""
        if limit is not None and limit < 0:
            raise ValueError("limit must be zero or positive")
        query = urllib.parse.urlencode({
            "$select": "id,receivedDateTime", "$orderby": "receivedDateTime asc", "$top": "100",
            "$expand": f"singleValueExtendedProperties($filter=id eq '{_SIZE_PROPERTY}')",
        })  # fmt: skip
        page = self._api(f"/mailFolders/{urllib.parse.quote(self.folder)}/messages?{query}")
        items: list[InboxItem] = []
        while True:
            for message in page.get("value", []):
                items.append(self._item(message))
                if limit is not None and len(items) >= limit:
                    return items
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return items
            page = json.loads(self._send(next_link, headers=_IMMUTABLE))

    def read(self, item: InboxItem) -> bytes:
        """The message as MIME bytes."""
        try:
            return self._send(f"{self.graph_url}/v1.0/users/{urllib.parse.quote(self.mailbox)}/messages/"
                              f"{urllib.parse.quote(_message_id(item.key))}/$value", headers=_IMMUTABLE)  # fmt: skip
        except GraphError as err:
            if err.status == 404:
                raise FileNotFoundError(f"{item.key} is no longer in the mailbox") from None
            raise

    def mark_processed(self, item: InboxItem) -> None:
        """Move to the processed folder; already there (a second call, a racing worker) is a no-op."""
        self.mark_processed_many([item])

    def mark_processed_many(self, items: Iterable[InboxItem]) -> None:
        target = self._processed_folder_id()
        for item in items:
            message_id = urllib.parse.quote(_message_id(item.key))
            current = self._api(f"/messages/{message_id}?$select=parentFolderId")
            if current.get("parentFolderId") == target:
                continue
            self._api(f"/messages/{message_id}/move", "POST", {"destinationId": target})

    def deliver(self, raw: bytes, name: str | None = None) -> InboxItem:
        """Create a message from MIME in the folder (tests, a gateway); Graph names it."""
        created = json.loads(self._send(
            f"{self.graph_url}/v1.0/users/{urllib.parse.quote(self.mailbox)}/mailFolders/"
            f"{urllib.parse.quote(self.folder)}/messages",
            "POST", base64.b64encode(raw), {**_IMMUTABLE, "Content-Type": "text/plain"},
        ))  # fmt: skip
        return self._item({**created, "singleValueExtendedProperties": [{"id": _SIZE_PROPERTY, "value": len(raw)}]})

    # ------------------------------------------------------------ helpers

    def _processed_folder_id(self) -> str:
        if self._processed_id:
            return self._processed_id
        name = self.processed_folder.replace("'", "''")
        query = urllib.parse.quote(f"displayName eq '{name}'")
        found = self._api(f"/mailFolders?$filter={query}").get("value", [])
        folder = found[0] if found else self._api("/mailFolders", "POST", {"displayName": self.processed_folder})
        self._processed_id = folder["id"]
        return self._processed_id

    def _item(self, message: dict) -> InboxItem:
        size = next((int(p["value"]) for p in message.get("singleValueExtendedProperties") or []
                     if p.get("id", "").lower() == _SIZE_PROPERTY.lower()), 0)  # fmt: skip
        received = message.get("receivedDateTime") or ""
        stamp = datetime.fromisoformat(received).timestamp() if received else time.time()
        return InboxItem(f"graph-{message['id']}", Path(self.folder) / message["id"], size, stamp)


def _message_id(key: str) -> str:
    if not key.startswith("graph-"):
        raise ValueError(f"not a Microsoft Graph inbox key: {key!r}")
    return key.removeprefix("graph-")
