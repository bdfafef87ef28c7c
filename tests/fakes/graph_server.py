"""A loopback server speaking the few Microsoft Graph endpoints `connectors/graph.py` uses.

Token (client credentials), list a folder's messages (paged by `@odata.nextLink`, oldest first, the size
extended property), read MIME (`/$value`), read `parentFolderId`, move, find/create a folder, create a
message from base64 MIME. IDs are immutable: a move keeps them. `throttle_next` answers 429 once.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .postgres import free_port

PAGE = 2  # small pages, so paging is exercised


class FakeGraph:
    def __init__(self, tenant: str = "tenant-1", client_id: str = "app-1", secret: str = "s3cret", mailbox: str = "claims@insurer.example"):
        self.tenant, self.client_id, self.secret, self.mailbox = tenant, client_id, secret, mailbox
        self.folders = {"inbox": "inbox"}  # displayName (lower) -> id
        self.messages: dict[str, dict] = {}  # id -> {"folder", "mime", "received"}
        self.tokens: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        self.throttle_next = 0
        self._clock = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGraph:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, code, body=b"", ctype="application/json", headers=None):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.calls.append((method, self.path))
                code, out, ctype, headers = fake.handle(method, self.path, dict(self.headers), body)
                self._reply(code, out, ctype, headers)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def in_folder(self, name: str) -> list[str]:
        folder = self.folders[name.lower()]
        return [i for i, m in self.messages.items() if m["folder"] == folder]

    # ------------------------------------------------------------ routes

    def handle(self, method, raw_path, headers, body):
        url = urllib.parse.urlsplit(raw_path)
        path, query = urllib.parse.unquote(url.path), urllib.parse.parse_qs(url.query)
        if path == f"/{self.tenant}/oauth2/v2.0/token":
            form = urllib.parse.parse_qs(body.decode())
            if form.get("client_id") != [self.client_id] or form.get("client_secret") != [self.secret]:
                return 401, {"error": "invalid_client"}, "application/json", {}
            token = uuid.uuid4().hex
            self.tokens.add(token)
            return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}, "application/json", {}
        if headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return 401, {"error": {"code": "InvalidAuthenticationToken"}}, "application/json", {}
        if self.throttle_next:
            self.throttle_next -= 1
            return 429, {"error": {"code": "TooManyRequests"}}, "application/json", {"Retry-After": "0"}
        prefix = f"/v1.0/users/{self.mailbox}"
        if not path.startswith(prefix):
            return 404, {"error": {"code": "ErrorInvalidUser"}}, "application/json", {}
        rest = path.removeprefix(prefix).strip("/").split("/")
        if rest[0] == "mailFolders" and len(rest) == 1:
            if method == "POST":
                name = json.loads(body)["displayName"]
                self.folders[name.lower()] = folder_id = f"folder-{uuid.uuid4().hex[:8]}"
                return 201, {"id": folder_id, "displayName": name}, "application/json", {}
            wanted = (query.get("$filter") or [""])[0].split("'")[1].lower()
            found = [{"id": self.folders[wanted], "displayName": wanted}] if wanted in self.folders else []
            return 200, {"value": found}, "application/json", {}
        if rest[0] == "mailFolders" and rest[2:] == ["messages"]:
            folder = self.folders.get(rest[1].lower(), rest[1])
            if method == "POST":
                return 201, self._create(folder, base64.b64decode(body)), "application/json", {}
            ids = sorted((i for i, m in self.messages.items() if m["folder"] == folder),
                         key=lambda i: self.messages[i]["received"])  # fmt: skip
            skip = int((query.get("$skip") or ["0"])[0])
            page = [self._summary(i) for i in ids[skip : skip + PAGE]]
            out = {"value": page}
            if skip + PAGE < len(ids):
                q = urllib.parse.urlencode({**{k: v[0] for k, v in query.items()}, "$skip": skip + PAGE})
                out["@odata.nextLink"] = f"{self.url}{url.path}?{q}"
            return 200, out, "application/json", {}
        if rest[0] == "messages" and len(rest) >= 2:
            message = self.messages.get(rest[1])
            if message is None:
                return 404, {"error": {"code": "ErrorItemNotFound"}}, "application/json", {}
            if rest[2:] == ["$value"]:
                return 200, message["mime"], "message/rfc822", {}
            if rest[2:] == ["move"] and method == "POST":
                message["folder"] = json.loads(body)["destinationId"]
                return 201, self._summary(rest[1]), "application/json", {}
            if len(rest) == 2:
                return 200, {"id": rest[1], "parentFolderId": message["folder"]}, "application/json", {}
        return 404, {"error": {"code": "NotServedByFake", "path": path}}, "application/json", {}

    def _create(self, folder: str, mime: bytes) -> dict:
        self._clock += timedelta(minutes=1)
        message_id = "AAMk" + base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        self.messages[message_id] = {"folder": folder, "mime": mime, "received": self._clock}
        return self._summary(message_id)

    def _summary(self, message_id: str) -> dict:
        m = self.messages[message_id]
        return {"id": message_id, "receivedDateTime": m["received"].isoformat().replace("+00:00", "Z"),
                "parentFolderId": m["folder"],
                "singleValueExtendedProperties": [{"id": "Integer 0x0E08", "value": str(len(m["mime"]))}]}  # fmt: skip
