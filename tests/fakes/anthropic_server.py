"""A local fake of the Anthropic Messages and Message Batches APIs, for tests.

`FakeAnthropic` is a stdlib `ThreadingHTTPServer` bound to 127.0.0.1 on a free port. Point
the SDK at it with `base_url=fake.base_url` (or `ANTHROPIC_BASE_URL`). It speaks:

- `POST /v1/messages`: a `message` body with ids, model, content blocks (a `tool_use`
  block for the forced tool), `stop_reason` and `usage` with the cache fields;
- `POST /v1/messages/batches`, `GET /v1/messages/batches/{id}`,
  `POST /v1/messages/batches/{id}/cancel`, `GET /v1/messages/batches/{id}/results` (JSONL,
  in reverse order so callers must map by `custom_id`).

It captures every request (method, path, headers, raw body, parsed JSON) so tests can
check what actually left the process. Scripted behaviours for the next `/v1/messages`
responses: `rate_limited` (429 + retry-after), `server_error` (500), `overloaded` (529),
`slow` (delay before answering), `malformed_tool`, `refusal`, `text_only`. Batch items can
be scripted to end `errored`, `expired` or `canceled`, and a batch can be kept in progress.

The model itself is a double: `default_responder` fills the forced tool from the request
(claim and policy numbers, dates and placeholders it finds in the `<email>` block; a
templated sentence for a status message). Usage is estimated at ~4 characters per token,
plus the tool-use system prompt the API adds (313 tokens with a forced tool), and cache
writes and reads follow the `cache_control` breakpoint and a minimum cacheable length
(4,096 tokens by default, Claude Haiku 4.5's minimum; below it the API caches nothing).

`seeded_patterns` and `leaked` inspect captured requests (or logs) for seeded personal
values in any spelling, reporting only the kind of value found.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "Behaviour",
    "CapturedRequest",
    "FakeAnthropic",
    "default_responder",
    "estimate_tokens",
    "leaked",
    "malformed_tool",
    "overloaded",
    "rate_limited",
    "refusal",
    "seeded_patterns",
    "server_error",
    "slow",
    "text_only",
]

CHARS_PER_TOKEN = 4
# Tokens of the system prompt the API adds for tool use (Claude 4.x models): auto/none 346, any/tool 313.
TOOL_SYSTEM_TOKENS = {"auto": 346, "none": 346, "any": 313, "tool": 313}
TOOL_USE_FRAMING_TOKENS = 15
CACHE_TTL_S = 300

_UNSET: Any = object()


def estimate_tokens(text: str) -> int:
    """A simple estimator: one token per ~4 characters (English and French prose, JSON)."""
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN)) if text else 0


@dataclass
class CapturedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any
    at: float = 0.0  # time.monotonic() when it arrived

    @property
    def text(self) -> str:
        """The raw body as text, JSON escapes undone (what to scan for leaked values)."""
        return json.dumps(self.body, ensure_ascii=False) if self.body is not None else self.raw.decode("utf-8", "replace")


@dataclass
class Behaviour:
    """How to answer one `/v1/messages` request (defaults: a normal 200 from the responder)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict | None = None
    delay_s: float = 0.0
    tool_input: Any = _UNSET
    stop_reason: str | None = None
    content: list | None = None


def _error_body(kind: str, message: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": _new_id("req")}


def rate_limited(retry_after: str | None = "1", *, retry_after_ms: str | None = None) -> Behaviour:
    headers = {}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    if retry_after_ms is not None:
        headers["retry-after-ms"] = retry_after_ms
    return Behaviour(status=429, headers=headers, body=_error_body("rate_limit_error", "Number of requests too high"))


def server_error() -> Behaviour:
    return Behaviour(status=500, body=_error_body("api_error", "Internal server error"))


def overloaded() -> Behaviour:
    return Behaviour(status=529, body=_error_body("overloaded_error", "Overloaded"))


def slow(seconds: float) -> Behaviour:
    return Behaviour(delay_s=seconds)


def malformed_tool(tool_input: Any = None) -> Behaviour:
    """A tool_use block whose input does not fit the schema (default: wrong types and an extra field)."""
    if tool_input is None:
        tool_input = {"claim_number": {"value": 42, "confidence": "high"}, "route": "fast_track"}
    return Behaviour(tool_input=tool_input)


def refusal() -> Behaviour:
    return Behaviour(stop_reason="refusal", content=[])


def text_only(text: str = "I cannot help with that.") -> Behaviour:
    return Behaviour(stop_reason="end_turn", content=[{"type": "text", "text": text}])


_COUNTER = itertools.count(1)


def _new_id(prefix: str) -> str:
    n = next(_COUNTER)
    return f"{prefix}_01{hashlib.sha256(f'{prefix}{n}{time.time_ns()}'.encode()).hexdigest()[:22]}"


# ------------------------------------------------------------------ the model double

_EMAIL_BLOCK = re.compile(r"<email>\n?(.*?)\n?</email>", re.DOTALL)
_STATUS_BLOCK = re.compile(r"<status>\n?(.*?)\n?</status>", re.DOTALL)
_CLAIM = re.compile(r"CLM[-/ ]?(20\d{2})[-/ ]?(\d{1,6})(?!\d)", re.IGNORECASE)
_POLICY = re.compile(r"POL[- ]?(\d{3})[ -]?(\d{4})(?!\d)", re.IGNORECASE)
_ISO = re.compile(r"(?<!\d)(20\d{2})-(\d{2})-(\d{2})(?!\d)")
_DMY = re.compile(r"(?<![\d/.])(\d{1,2})[/.](\d{1,2})[/.](20\d{2})(?!\d)")
_PHONE_PH = re.compile(r"\[PHONE_\d+\]")
_LOSS_WORDS = [
    ("auto_glass", r"windscreen|windshield|pare-brise|glass|window"),
    ("theft", r"stolen|theft|vol[ée]"),
    ("fire", r"fire|incendie"),
    ("water_damage", r"flood|water|inond"),
    ("storm", r"hail|storm|gr[êe]le|temp[êe]te"),
    ("auto_collision", r"collid|collision|rear-ended|crash|accident|hit"),
]


def _user_text(body: dict) -> str:
    parts = []
    for msg in body.get("messages", []):
        content = msg.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [b.get("text", "") for b in content if isinstance(b, dict)]
    return "\n".join(parts)


def _guess(value, confidence=0.9) -> dict:
    return {"value": value, "confidence": confidence if value is not None else 0.0}


def extraction_double(body: dict) -> dict:
    """What a diligent model would return for `record_claim_fields`, read from the delimited e-mail."""
    m = _EMAIL_BLOCK.search(_user_text(body))
    mail = m.group(1) if m else ""
    claim = _CLAIM.search(mail)
    policy = _POLICY.search(mail)
    date = None
    if iso := _ISO.search(mail):
        date = iso.group(0)
    elif dmy := _DMY.search(mail):
        date = f"{dmy.group(3)}-{int(dmy.group(2)):02d}-{int(dmy.group(1)):02d}"
    loss = next((k for k, rx in _LOSS_WORDS if re.search(rx, mail, re.IGNORECASE)), None)
    phone = _PHONE_PH.search(mail)
    return {
        "claim_number": _guess(f"CLM-{claim.group(1)}-{int(claim.group(2)):06d}" if claim else None, 0.97),
        "policy_number": _guess(f"POL-{policy.group(1)}{policy.group(2)}" if policy else None, 0.96),
        "incident_date": _guess(date, 0.9),
        "loss_type": _guess(loss, 0.85),
        "estimated_amount": _guess(None),
        "currency": _guess(None),
        "contact_phone": _guess(phone.group(0) if phone else None, 0.9),
    }


def draft_double(body: dict) -> dict:
    """A short status message written from the `<status>` facts, greeting the placeholder it was given."""
    m = _STATUS_BLOCK.search(_user_text(body))
    facts = json.loads(m.group(1)) if m else {}
    who = facts.get("customer")
    if facts.get("language") == "fr":
        text = (
            f"Bonjour {who or 'Madame, Monsieur'}, votre dossier {facts.get('claim_number')} : "
            f"{facts.get('status_text')}. {facts.get('next_step_text')} ({facts.get('expected_time')}). "
            "Le service sinistres de Claimflow Assurances"
        )
    else:
        text = (
            f"Dear {who or 'customer'}, about your claim {facts.get('claim_number')}: {facts.get('status_text')}. "
            f"{facts.get('next_step_text')} ({facts.get('expected_time')}). Claimflow Assurances claims team"
        )
    return {"message": text}


def default_responder(body: dict) -> dict:
    """Tool input for the forced tool of `body`."""
    name = (body.get("tool_choice") or {}).get("name") or next(iter(t["name"] for t in body.get("tools", [])), "")
    if name == "record_claim_fields":
        return extraction_double(body)
    if name == "write_status_message":
        return draft_double(body)
    return {}


# ------------------------------------------------------------------ server


@dataclass
class _Batch:
    id: str
    requests: list[dict]
    created_at: datetime
    polls: int = 0
    status: str = "in_progress"
    cancel_initiated_at: datetime | None = None
    ended_at: datetime | None = None
    results: list[dict] = field(default_factory=list)


class FakeAnthropic:
    """The fake API server; use as a context manager or `start()`/`stop()`."""

    def __init__(
        self,
        *,
        responder: Callable[[dict], Any] = default_responder,
        min_cacheable_tokens: int = 4096,
        batch_polls_before_end: int = 1,
    ):
        self.responder = responder
        self.min_cacheable_tokens = min_cacheable_tokens
        self._initial = (responder, min_cacheable_tokens)
        self.batch_polls_before_end = batch_polls_before_end
        self.batch_outcomes: dict[str, str] = {}
        self.batch_never_ends = False
        self.requests: list[CapturedRequest] = []
        self._queue: deque[Behaviour] = deque()
        self._cache: dict[str, float] = {}
        self._batches: dict[str, _Batch] = {}
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- lifecycle

    def start(self) -> FakeAnthropic:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                fake._handle(self, "POST")

            def do_GET(self):
                fake._handle(self, "GET")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-anthropic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeAnthropic:  # noqa: PYI034 - the fake is not meant to be subclassed
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -------------------------------------------------------------- test controls

    def script(self, *behaviours: Behaviour) -> None:
        """Answer the next `/v1/messages` requests with these behaviours, in order."""
        with self._lock:
            self._queue.extend(behaviours)

    def reset(self) -> None:
        """Forget captured requests, scripts, batch settings and the prompt cache; restore the responder."""
        with self._lock:
            self.requests.clear()
            self._queue.clear()
            self._cache.clear()
            self._batches.clear()
            self.batch_outcomes = {}
            self.batch_never_ends = False
            self.batch_polls_before_end = 1
            self.responder, self.min_cacheable_tokens = self._initial

    def message_requests(self) -> list[CapturedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/messages"]

    def batch_requests(self) -> list[CapturedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == "/v1/messages/batches"]

    # -------------------------------------------------------------- dispatch

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = h.path.split("?", 1)[0]
        with self._lock:
            self.requests.append(
                CapturedRequest(method, path, {k.lower(): v for k, v in h.headers.items()}, raw, body, time.monotonic())
            )
        try:
            headers = self.requests[-1].headers
            if not headers.get("x-api-key") and not headers.get("authorization", "").startswith("Bearer "):
                self._json(h, 401, _error_body("authentication_error", "x-api-key header is required"))
            elif method == "POST" and path == "/v1/messages":
                self._messages(h, body)
            elif method == "POST" and path == "/v1/messages/batches":
                self._batch_create(h, body)
            elif m := re.fullmatch(r"/v1/messages/batches/([\w-]+)/cancel", path):
                self._batch_cancel(h, m.group(1))
            elif m := re.fullmatch(r"/v1/messages/batches/([\w-]+)/results", path):
                self._batch_results(h, m.group(1))
            elif m := re.fullmatch(r"/v1/messages/batches/([\w-]+)", path):
                self._batch_get(h, m.group(1))
            else:
                self._json(h, 404, _error_body("not_found_error", f"no route {method} {path}"))
        except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
            pass

    def _json(self, h: BaseHTTPRequestHandler, status: int, body: Any, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        h.send_header("request-id", _new_id("req"))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    # -------------------------------------------------------------- messages

    def _messages(self, h: BaseHTTPRequestHandler, body: dict | None) -> None:
        with self._lock:
            behaviour = self._queue.popleft() if self._queue else Behaviour()
        if behaviour.delay_s:
            time.sleep(behaviour.delay_s)
        if behaviour.status != 200:
            self._json(h, behaviour.status, behaviour.body or _error_body("api_error", "error"), behaviour.headers)
            return
        if not isinstance(body, dict) or "model" not in body or "messages" not in body:
            self._json(h, 400, _error_body("invalid_request_error", "model and messages are required"))
            return
        self._json(h, 200, self.message_for(body, behaviour), behaviour.headers)

    def message_for(self, body: dict, behaviour: Behaviour | None = None, *, batch: bool = False) -> dict:
        """The response body the fake gives for a Messages API request body."""
        behaviour = behaviour or Behaviour()
        tool_choice = body.get("tool_choice") or {}
        tools = body.get("tools") or []
        if behaviour.content is not None:
            content = behaviour.content
        else:
            tool_input = self.responder(body) if behaviour.tool_input is _UNSET else behaviour.tool_input
            name = tool_choice.get("name") or (tools[0]["name"] if tools else "tool")
            content = [{"type": "tool_use", "id": _new_id("toolu"), "name": name, "input": tool_input}]
        stop_reason = behaviour.stop_reason or ("tool_use" if any(b.get("type") == "tool_use" for b in content)
                                                else "end_turn")
        usage = self._usage(body, content, batch=batch)
        return {
            "id": _new_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }

    def _usage(self, body: dict, content: list, *, batch: bool) -> dict:
        tools = body.get("tools") or []
        system = body.get("system") or []
        system_blocks = [{"type": "text", "text": system}] if isinstance(system, str) else list(system)
        choice = (body.get("tool_choice") or {}).get("type", "auto") if tools else None
        prefix = (TOOL_SYSTEM_TOKENS.get(choice, 0) if tools else 0) + estimate_tokens(
            json.dumps(tools, ensure_ascii=False) if tools else ""
        ) + sum(estimate_tokens(b.get("text", "")) for b in system_blocks)
        rest = estimate_tokens(_user_text(body)) + 4 * len(body.get("messages", []))
        breakpoint_set = any(b.get("cache_control") for b in system_blocks) or any(t.get("cache_control") for t in tools)
        cache_write = cache_read = 0
        if breakpoint_set and prefix >= self.min_cacheable_tokens:
            key = hashlib.sha256(
                json.dumps([body.get("model"), tools, system_blocks], sort_keys=True).encode()
            ).hexdigest()
            now = time.monotonic()
            with self._lock:
                hit = key in self._cache and now - self._cache[key] < CACHE_TTL_S
                self._cache[key] = now
            if hit:
                cache_read = prefix
            else:
                cache_write = prefix
            input_tokens = rest
        else:
            input_tokens = prefix + rest
        output = sum(
            estimate_tokens(json.dumps(b.get("input"), ensure_ascii=False)) + TOOL_USE_FRAMING_TOKENS
            if b.get("type") == "tool_use" else estimate_tokens(b.get("text", ""))
            for b in content
        )
        return {
            "input_tokens": input_tokens,
            "output_tokens": max(output, 1),
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "cache_creation": {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
            "service_tier": "batch" if batch else "standard",
        }

    # -------------------------------------------------------------- batches

    def _batch_view(self, b: _Batch) -> dict:
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if b.status == "ended":
            for r in b.results:
                counts[r["result"]["type"]] += 1
        else:
            counts["processing"] = len(b.requests)
        return {
            "id": b.id,
            "type": "message_batch",
            "processing_status": b.status,
            "request_counts": counts,
            "created_at": b.created_at.isoformat().replace("+00:00", "Z"),
            "expires_at": (b.created_at + timedelta(hours=24)).isoformat().replace("+00:00", "Z"),
            "ended_at": b.ended_at.isoformat().replace("+00:00", "Z") if b.ended_at else None,
            "cancel_initiated_at": (
                b.cancel_initiated_at.isoformat().replace("+00:00", "Z") if b.cancel_initiated_at else None
            ),
            "archived_at": None,
            "results_url": f"{self.base_url}/v1/messages/batches/{b.id}/results" if b.status == "ended" else None,
        }

    def _batch_create(self, h: BaseHTTPRequestHandler, body: dict | None) -> None:
        reqs = (body or {}).get("requests")
        if not isinstance(reqs, list) or not reqs:
            self._json(h, 400, _error_body("invalid_request_error", "requests: at least one is required"))
            return
        ids = [r.get("custom_id") for r in reqs]
        if len(set(ids)) != len(ids) or not all(isinstance(i, str) and re.fullmatch(r"[\w-]{1,64}", i) for i in ids):
            self._json(h, 400, _error_body("invalid_request_error", "custom_id must be unique, [a-zA-Z0-9_-]{1,64}"))
            return
        batch = _Batch(_new_id("msgbatch"), reqs, datetime.now(UTC))
        with self._lock:
            self._batches[batch.id] = batch
        self._json(h, 200, self._batch_view(batch))

    def _finish(self, b: _Batch, *, canceled: bool) -> None:
        results = []
        for req in b.requests:
            outcome = "canceled" if canceled else self.batch_outcomes.get(req["custom_id"], "succeeded")
            if outcome == "succeeded":
                result = {"type": "succeeded", "message": self.message_for(req["params"], batch=True)}
            elif outcome == "errored":
                result = {"type": "errored", "error": _error_body("invalid_request_error", "scripted error")}
            elif outcome == "malformed":
                msg = self.message_for(req["params"], malformed_tool(), batch=True)
                result = {"type": "succeeded", "message": msg}
            else:
                result = {"type": outcome}
            results.append({"custom_id": req["custom_id"], "result": result})
        b.results = list(reversed(results))
        b.status = "ended"
        b.ended_at = datetime.now(UTC)

    def _batch_get(self, h: BaseHTTPRequestHandler, batch_id: str) -> None:
        b = self._batches.get(batch_id)
        if b is None:
            self._json(h, 404, _error_body("not_found_error", "batch not found"))
            return
        with self._lock:
            b.polls += 1
            if b.status == "canceling":
                self._finish(b, canceled=True)
            elif b.status == "in_progress" and not self.batch_never_ends and b.polls >= self.batch_polls_before_end:
                self._finish(b, canceled=False)
        self._json(h, 200, self._batch_view(b))

    def _batch_cancel(self, h: BaseHTTPRequestHandler, batch_id: str) -> None:
        b = self._batches.get(batch_id)
        if b is None:
            self._json(h, 404, _error_body("not_found_error", "batch not found"))
            return
        with self._lock:
            if b.status == "in_progress":
                b.status = "canceling"
                b.cancel_initiated_at = datetime.now(UTC)
        self._json(h, 200, self._batch_view(b))

    def _batch_results(self, h: BaseHTTPRequestHandler, batch_id: str) -> None:
        b = self._batches.get(batch_id)
        if b is None or b.status != "ended":
            self._json(h, 404, _error_body("not_found_error", "results not available"))
            return
        data = "".join(json.dumps(r) + "\n" for r in b.results).encode()
        h.send_response(200)
        h.send_header("content-type", "application/binary")
        h.send_header("content-length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


# ------------------------------------------------------------------ inspecting what left


def _fold(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _phone_forms(e164: str) -> list[str]:
    digits = e164.lstrip("+")
    forms = [digits]
    if e164.startswith("+33"):
        forms += ["0" + digits[2:], digits[2:]]
    elif e164.startswith("+1"):
        forms += [digits[1:]]
    elif e164.startswith("+44"):
        forms += ["0" + digits[2:]]
    return forms


def seeded_patterns(
    *,
    names: Iterable[str] = (),
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    addresses: Iterable[str] = (),
    literals: Iterable[str] = (),
) -> list[tuple[str, re.Pattern]]:
    """Patterns for seeded personal values in any spelling a request could carry them.

    Names: the full name and every part of 3+ letters (not a particle), with and without
    accents, as whole words. Phones (E.164): the digits in national or international form
    with any separators between them. Addresses: the full address and its street part.
    Each pattern is labelled by kind only, so a failing test does not print the value.
    """
    particles = {"le", "la", "de", "du", "des", "van", "von", "ben", "el", "al", "da", "di"}
    out: list[tuple[str, re.Pattern]] = []
    for name in filter(None, names):
        parts = {name, *[p for tok in name.split() for p in {tok, *tok.split("-")}]}
        for part in parts:
            if sum(ch.isalpha() for ch in part) < 3 or part.lower() in particles:
                continue
            for variant in {part, _fold(part)}:
                out.append(("name", re.compile(rf"(?<![^\W_]){re.escape(variant)}(?![^\W_])")))
    for addr in filter(None, emails):
        out.append(("email", re.compile(re.escape(addr), re.IGNORECASE)))
    for e164 in filter(None, phones):
        for form in _phone_forms(e164):
            sep = r"[\s.\-()/]*"
            out.append(("phone", re.compile(r"(?<!\d)" + sep.join(re.escape(d) for d in form) + r"(?!\d)")))
    for address in filter(None, addresses):
        out.append(("address", re.compile(re.escape(address))))
        street = address.split(",")[0]
        if len(street) >= 8:
            out.append(("address", re.compile(re.escape(street))))
    for literal in filter(None, literals):
        out.append(("literal", re.compile(re.escape(literal))))
    return out


def leaked(text: str, patterns: list[tuple[str, re.Pattern]]) -> list[str]:
    """Kinds of the seeded values found in `text` (empty when nothing leaked)."""
    return [kind for kind, rx in patterns if rx.search(text)]
