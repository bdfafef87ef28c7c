"""A loopback fake of the X API v2 endpoints tweepy 4.x calls, for tests.

`FakeX` is a stdlib `ThreadingHTTPServer` on 127.0.0.1 and a free port, holding posts as
replay lines (`{"data": {...}, "includes": {...}}`) and a clock (`now`): a post is visible
once its `created_at` is before `now`. It speaks, as tweepy sends them:

- `GET /2/tweets/search/recent`: `query` (the subset of X syntax `connectors.x.compile_query`
  reads), `max_results` (10-100, default 10), `since_id`, `until_id`, `start_time`,
  `end_time` (exclusive; defaults to `now`), `next_token`, `tweet.fields`, `user.fields`,
  `place.fields`, `expansions`. Newest first; `meta.newest_id/oldest_id/result_count` and
  `next_token` while more remain; no `data` key when nothing matches. Fields not asked for
  are left out, like the API (default fields: `id`, `text`, `edit_history_tweet_ids`).
- `GET /2/tweets/counts/recent`: `query`, `granularity` (minute/hour/day), `start_time`,
  `end_time`: `data` buckets and `meta.total_tweet_count`.
- `GET/POST /2/tweets/search/stream/rules`: list, add (`dry_run` validates without keeping,
  duplicates and unreadable rules are reported in `errors` and `meta.summary`) and delete.
- `GET /2/tweets/search/stream`: posts matching the rules as `\\r\\n`-delimited JSON with
  `matching_rules`, keep-alive blank lines in between, until stopped.
- 429 with `x-rate-limit-reset` (epoch seconds) for the next requests `throttle(n)` scripts;
  every answer carries `x-rate-limit-limit/remaining/reset`.
- 401 without `Authorization: Bearer ...`.

Every request is recorded (`requests`: method, path, query parameters, JSON body) so tests
can assert the exact sequence tweepy sent.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.x import compile_query, parse_created_at

DEFAULT_FIELDS = ("id", "text", "edit_history_tweet_ids")
RATE_LIMIT = 450


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    params: dict[str, str]
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _fmt(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FakeX:
    """The fake server; a context manager, or `start()` / `stop()`."""

    def __init__(self, lines: list[dict] | None = None, *, now: datetime | None = None,
                 keepalive_s: float = 0.05):
        self.lines: list[dict] = []
        self.now = now or datetime.now(UTC)
        self.keepalive_s = keepalive_s
        self.requests: list[Recorded] = []
        self.rules: dict[str, dict] = {}
        self._rule_ids = itertools.count(1_600_000_000_000_000_001)
        self._throttle = 0
        self._reset_in_s = 0
        self._stopping = threading.Event()
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self.add(lines or [])

    # -------------------------------------------------------------- test controls

    def add(self, lines: list[dict]) -> None:
        """Add posts (replay lines); ids must be numeric strings."""
        with self._lock:
            self.lines += lines
            self.lines.sort(key=lambda b: int(b["data"]["id"]), reverse=True)

    def throttle(self, n: int = 1, reset_in_s: int = 0) -> None:
        """Answer the next `n` search requests with 429, the window resetting `reset_in_s` from now."""
        with self._lock:
            self._throttle, self._reset_in_s = n, reset_in_s

    def calls(self, path: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if path is None or r.path == path]

    # -------------------------------------------------------------- lifecycle

    def start(self) -> FakeX:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._handle(self, "GET")

            def do_POST(self):
                fake._handle(self, "POST")

        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-x", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeX:  # noqa: PYI034
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -------------------------------------------------------------- dispatch

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(h.path)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self.requests.append(Recorded(method, url.path, params, body, {k.lower(): v for k, v in h.headers.items()}))
        try:
            if not h.headers.get("authorization", "").startswith("Bearer "):
                self._json(h, 401, {"title": "Unauthorized", "type": "about:blank", "status": 401,
                                    "detail": "Unauthorized"})
            elif method == "GET" and url.path == "/2/tweets/search/recent":
                if self._take_throttle():
                    self._json(h, 429, {"title": "Too Many Requests", "detail": "Too Many Requests",
                                        "type": "about:blank", "status": 429})
                else:
                    self._search(h, params)
            elif method == "GET" and url.path == "/2/tweets/counts/recent":
                self._counts(h, params)
            elif url.path == "/2/tweets/search/stream/rules":
                self._rules(h, method, params, body)
            elif method == "GET" and url.path == "/2/tweets/search/stream":
                self._stream(h, params)
            else:
                self._json(h, 404, {"title": "Not Found Error", "detail": f"no route {method} {url.path}"})
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _take_throttle(self) -> bool:
        with self._lock:
            if self._throttle > 0:
                self._throttle -= 1
                return True
            return False

    def _json(self, h: BaseHTTPRequestHandler, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("content-type", "application/json; charset=utf-8")
        h.send_header("content-length", str(len(data)))
        reset = int(time.time()) + (self._reset_in_s if status == 429 else 900)
        h.send_header("x-rate-limit-limit", str(RATE_LIMIT))
        h.send_header("x-rate-limit-remaining", "0" if status == 429 else str(RATE_LIMIT - 1))
        h.send_header("x-rate-limit-reset", str(reset))
        h.end_headers()
        h.wfile.write(data)

    def _bad(self, h, message: str) -> None:
        self._json(h, 400, {"errors": [{"message": message}], "title": "Invalid Request",
                            "detail": "One or more parameters to your request was invalid.",
                            "type": "https://api.twitter.com/2/problems/invalid-request"})

    # -------------------------------------------------------------- shaping posts

    def _shape(self, lines: list[dict], params: dict) -> tuple[list[dict], dict]:
        tweet_fields = set(filter(None, params.get("tweet.fields", "").split(",")))
        user_fields = set(filter(None, params.get("user.fields", "").split(",")))
        place_fields = set(filter(None, params.get("place.fields", "").split(",")))
        expansions = set(filter(None, params.get("expansions", "").split(",")))
        data, users, places = [], {}, {}
        for line in lines:
            tweet = line["data"]
            data.append({k: v for k, v in tweet.items() if k in DEFAULT_FIELDS or k in tweet_fields})
            inc = line.get("includes") or {}
            if "author_id" in expansions:
                for u in inc.get("users", []):
                    if u["id"] == tweet.get("author_id"):
                        users[u["id"]] = {k: v for k, v in u.items() if k in ("id", "name", "username")
                                          or k in user_fields}
            if "geo.place_id" in expansions:
                for p in inc.get("places", []):
                    if p["id"] == (tweet.get("geo") or {}).get("place_id"):
                        places[p["id"]] = {k: v for k, v in p.items() if k in ("id", "full_name") or k in place_fields}
        includes = {}
        if users:
            includes["users"] = list(users.values())
        if places:
            includes["places"] = list(places.values())
        return data, includes

    def _matching(self, params: dict) -> list[dict] | str:
        try:
            match = compile_query(params.get("query", ""))
        except ValueError as err:
            return f"query: {err}"
        try:
            end = min(_ts(params["end_time"]), self.now) if "end_time" in params else self.now
            start = _ts(params["start_time"]) if "start_time" in params else self.now - timedelta(days=7)
        except ValueError:
            return "start_time/end_time must be ISO 8601"
        since = int(params.get("since_id") or 0)
        until = int(params["until_id"]) if params.get("until_id") else None
        with self._lock:
            lines = list(self.lines)
        return [
            b for b in lines
            if start <= parse_created_at(b["data"]["created_at"]) < end
            and int(b["data"]["id"]) > since and (until is None or int(b["data"]["id"]) < until)
            and match(b["data"])
        ]

    # -------------------------------------------------------------- endpoints

    def _search(self, h, params: dict) -> None:
        found = self._matching(params)
        if isinstance(found, str):
            self._bad(h, found)
            return
        size = int(params.get("max_results") or 10)
        if not 10 <= size <= 100:
            self._bad(h, "max_results must be between 10 and 100")
            return
        offset = 0
        if params.get("next_token"):
            try:
                offset = int(base64.urlsafe_b64decode(params["next_token"].encode()).decode())
            except ValueError:
                self._bad(h, "next_token is invalid")
                return
        page = found[offset : offset + size]
        if not page:
            self._json(h, 200, {"meta": {"result_count": 0}})
            return
        data, includes = self._shape(page, params)
        meta = {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"], "result_count": len(data)}
        if offset + size < len(found):
            meta["next_token"] = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
        body = {"data": data, "meta": meta}
        if includes:
            body["includes"] = includes
        self._json(h, 200, body)

    def _counts(self, h, params: dict) -> None:
        found = self._matching(params)
        if isinstance(found, str):
            self._bad(h, found)
            return
        step = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}.get(
            params.get("granularity", "hour"))
        if step is None:
            self._bad(h, "granularity must be minute, hour or day")
            return
        start = _ts(params["start_time"]) if "start_time" in params else self.now - timedelta(days=7)
        end = min(_ts(params["end_time"]), self.now) if "end_time" in params else self.now
        trunc = {timedelta(minutes=1): {"second": 0, "microsecond": 0},
                 timedelta(hours=1): {"minute": 0, "second": 0, "microsecond": 0},
                 timedelta(days=1): {"hour": 0, "minute": 0, "second": 0, "microsecond": 0}}[step]
        buckets: dict[datetime, int] = {}
        t = start.replace(**trunc)
        while t < end:
            buckets[t] = 0
            t += step
        for b in found:
            t = parse_created_at(b["data"]["created_at"]).replace(**trunc)
            buckets[t] = buckets.get(t, 0) + 1
        data = [{"start": _fmt(t), "end": _fmt(t + step), "tweet_count": n} for t, n in sorted(buckets.items())]
        self._json(h, 200, {"data": data, "meta": {"total_tweet_count": sum(buckets.values())}})

    def _rules(self, h, method: str, params: dict, body: Any) -> None:
        sent = _fmt(datetime.now(UTC))
        if method == "GET":
            with self._lock:
                rules = list(self.rules.values())
            ids = set(filter(None, params.get("ids", "").split(",")))
            rules = [r for r in rules if not ids or r["id"] in ids]
            out: dict = {"meta": {"sent": sent, "result_count": len(rules)}}
            if rules:
                out["data"] = rules
            self._json(h, 200, out)
            return
        dry = params.get("dry_run", "").lower() == "true"  # tweepy sends "True"
        if not isinstance(body, dict) or not ({"add", "delete"} & set(body)):
            self._bad(h, "body must have `add` or `delete`")
            return
        if "add" in body:
            created, errors = [], []
            with self._lock:
                values = {r["value"] for r in self.rules.values()}
                for rule in body["add"]:
                    value = rule.get("value", "")
                    try:
                        compile_query(value)
                    except ValueError as err:
                        errors.append({"value": value, "title": "UnprocessableEntity", "details": [str(err)]})
                        continue
                    if value in values:
                        errors.append({"value": value, "id": next(r["id"] for r in self.rules.values()
                                                                 if r["value"] == value), "title": "DuplicateRule"})
                        continue
                    new = {"id": str(next(self._rule_ids)), "value": value}
                    if rule.get("tag"):
                        new["tag"] = rule["tag"]
                    created.append(new)
                    values.add(value)
                if not dry:
                    for r in created:
                        self.rules[r["id"]] = r
            summary = {"created": 0 if dry else len(created), "not_created": len(errors) + (len(created) if dry else 0),
                       "valid": len(created), "invalid": len(errors)}
            out = {"meta": {"sent": sent, "summary": summary}}
            if created:
                out["data"] = created
            if errors:
                out["errors"] = errors
            self._json(h, 200, out)
            return
        ids = [str(i) for i in body["delete"].get("ids", [])]
        with self._lock:
            gone = [i for i in ids if i in self.rules]
            if not dry:
                for i in gone:
                    del self.rules[i]
        self._json(h, 200, {"meta": {"sent": sent, "summary": {"deleted": len(gone),
                                                               "not_deleted": len(ids) - len(gone)}}})

    def _stream(self, h, params: dict) -> None:
        with self._lock:
            rules = [(r, compile_query(r["value"])) for r in self.rules.values()]
            lines = sorted(self.lines, key=lambda b: int(b["data"]["id"]))
        h.send_response(200)
        h.send_header("content-type", "application/json; charset=utf-8")
        h.send_header("transfer-encoding", "chunked")
        h.end_headers()

        def chunk(payload: bytes) -> None:
            h.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
            h.wfile.flush()

        for line in lines:
            if self._stopping.is_set():
                break
            hits = [{"id": r["id"], "tag": r.get("tag", "")} for r, m in rules if m(line["data"])]
            if not hits:
                continue
            data, includes = self._shape([line], params)
            out = {"data": data[0], "matching_rules": hits}
            if includes:
                out["includes"] = includes
            chunk(json.dumps(out).encode() + b"\r\n")
            chunk(b"\r\n")  # a keep-alive between posts, as the API sends when idle
        while not self._stopping.wait(self.keepalive_s):
            chunk(b"\r\n")
        chunk(b"")
