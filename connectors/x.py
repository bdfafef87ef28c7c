"""X (Twitter) API v2: recent search, post counts and the filtered stream, behind one interface.

Two implementations of `PostSource`:

- `TweepySource`: tweepy 4.x `Client` (recent search through `Paginator` with a page
  limit, `wait_on_rate_limit` or the 429 / `x-rate-limit-reset` path, the fields and
  expansions below) and `StreamingClient` (rules with tags, `matching_rules` on each post).
  `base_url` points both at another host (a loopback server in tests, an egress proxy in
  production) through `RebaseAdapter`, a `requests` transport adapter mounted on the
  client's `session`: tweepy has no base-URL setting and is never patched.
- `ReplaySource`: the same calls answered from a file of X API v2 JSON lines (one
  `{"data": {...}, "includes": {...}}` object per line), as of a clock. It is the embedded
  default without `X_BEARER_TOKEN`, and replays any recorded stream.

Both return posts as `PostLine`s in that same line shape, tagged with the query or rule that
matched, so everything downstream reads one format. Checkpoints (`Checkpoint`) make recent
search incremental: `since_id` when the last pull completed; when a pull stopped early
(page limit, rate limit) the gap between what it got and the old `since_id` is remembered and
filled first on the next pull, so no post is skipped.

`pseudonymise` turns a handle or user id into a keyed HMAC-SHA256 digest; the key comes from
`CLAIMFLOW_SOCIAL_HASH_KEY` (a LOCAL default otherwise). Raw handles never reach the warehouse.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from connectors.tracing import outside_call

log = logging.getLogger(__name__)

X_API = "https://api.twitter.com"
TWEET_FIELDS = ("created_at", "lang", "author_id", "conversation_id", "referenced_tweets", "public_metrics", "geo")
USER_FIELDS = ("username", "location")
PLACE_FIELDS = ("full_name", "country_code")
EXPANSIONS = ("author_id", "geo.place_id")
PAGE_SIZE = 100  # the API's maximum for recent search
DEFAULT_MAX_PAGES = 10
LOCAL_HASH_KEY = "claimflow-local-social-key"  # LOCAL only; production sets CLAIMFLOW_SOCIAL_HASH_KEY
HASH_KEY_ENV = "CLAIMFLOW_SOCIAL_HASH_KEY"


class XSourceError(RuntimeError):
    """The X API (or replay file) could not answer; `reason` is a short code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


# ------------------------------------------------------------------ queries


@dataclass(frozen=True)
class SearchQuery:
    """One configured query: a name (the rule tag), X query syntax, and what it watches."""

    name: str
    query: str
    topic: str = "brand"
    language: str | None = None
    region: str | None = None

    def __post_init__(self):
        if not re.fullmatch(r"[a-z0-9_:-]{1,64}", self.name):
            raise ValueError(f"query name {self.name!r}: lower-case letters, digits, _ : - only")
        compile_query(self.query)  # raises ValueError on bad syntax


_TOKEN = re.compile(r'\s*(\(|\)|-?"[^"]*"|-?[^\s()"]+)')


def _tokens(query: str) -> list[str]:
    out, pos = [], 0
    query = query.strip()
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if not m:
            raise ValueError(f"cannot read query at {query[pos:pos + 20]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def _fold(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(c))


def compile_query(query: str) -> Callable[[dict], bool]:
    """A predicate over a post's `data` dict for the subset of X query syntax we use.

    Terms are matched case- and accent-insensitively on word boundaries (like the API's
    tokenised match); `"quoted phrases"`, implicit AND, `OR`, parentheses, `-negation`,
    `#hashtags`, `@mentions`, `lang:xx`, `is:retweet`, `is:reply`, `is:quote`, `has:geo`.
    """
    toks = _tokens(query)
    if not toks:
        raise ValueError("empty query")
    if len(query) > 512:
        raise ValueError("query longer than 512 characters")
    pos = 0

    def atom():
        nonlocal pos
        if pos >= len(toks):
            raise ValueError("query ends too early")
        tok = toks[pos]
        pos += 1
        if tok == "(":
            inner = disjunction()
            if pos >= len(toks) or toks[pos] != ")":
                raise ValueError("unbalanced parentheses")
            pos += 1
            return inner
        if tok == ")" or tok == "OR":
            raise ValueError(f"unexpected {tok!r}")
        negate = tok.startswith("-") and len(tok) > 1
        tok = tok[1:] if negate else tok
        pred = _term(tok)
        return (lambda d, p=pred: not p(d)) if negate else pred

    def conjunction():
        nonlocal pos
        parts = [atom()]
        while pos < len(toks) and toks[pos] not in (")", "OR"):
            parts.append(atom())
        return parts[0] if len(parts) == 1 else (lambda d, ps=tuple(parts): all(p(d) for p in ps))

    def disjunction():
        nonlocal pos
        parts = [conjunction()]
        while pos < len(toks) and toks[pos] == "OR":
            pos += 1
            parts.append(conjunction())
        return parts[0] if len(parts) == 1 else (lambda d, ps=tuple(parts): any(p(d) for p in ps))

    pred = disjunction()
    if pos != len(toks):
        raise ValueError("unbalanced parentheses")
    return pred


def _refs(d: dict) -> set[str]:
    return {r.get("type") for r in d.get("referenced_tweets") or []}


def _term(tok: str) -> Callable[[dict], bool]:
    if tok.startswith('"'):
        phrase = _fold(tok.strip('"'))
        if not phrase:
            raise ValueError("empty phrase")
        rx = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, phrase.split())) + r"(?!\w)")
        return lambda d: bool(rx.search(_fold(d.get("text", ""))))
    if ":" in tok and not tok.startswith(("#", "@")):
        op, _, value = tok.partition(":")
        if op == "lang":
            return lambda d: d.get("lang") == value
        if op == "is" and value in ("retweet", "reply", "quote"):
            kind = {"retweet": "retweeted", "reply": "replied_to", "quote": "quoted"}[value]
            return lambda d: kind in _refs(d)
        if op == "has" and value == "geo":
            return lambda d: bool((d.get("geo") or {}).get("place_id"))
        raise ValueError(f"unsupported operator {tok!r}")
    word = _fold(tok)
    rx = re.compile(r"(?<![\w#@])" + re.escape(word) + r"(?!\w)")
    return lambda d: bool(rx.search(_fold(d.get("text", ""))))


# ------------------------------------------------------------------ post lines and checkpoints


@dataclass(frozen=True)
class PostLine:
    """One post as the API delivers it (`data`, `includes`), with the queries/rules it matched."""

    data: dict
    includes: dict
    matched: tuple[str, ...] = ()

    @property
    def id(self) -> int:
        return int(self.data["id"])

    def to_json(self) -> str:
        body = {"data": self.data, "includes": self.includes}
        if self.matched:
            body["matching_rules"] = [{"tag": t} for t in self.matched]
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def split_page(page: dict, tag: str | None = None) -> list[PostLine]:
    """A search page (`data` list + shared `includes`) as one `PostLine` per post, with its own includes."""
    users = {u["id"]: u for u in (page.get("includes") or {}).get("users", [])}
    places = {p["id"]: p for p in (page.get("includes") or {}).get("places", [])}
    out = []
    for tweet in page.get("data") or []:
        inc: dict = {}
        if tweet.get("author_id") in users:
            inc["users"] = [users[tweet["author_id"]]]
        place_id = (tweet.get("geo") or {}).get("place_id")
        if place_id in places:
            inc["places"] = [places[place_id]]
        out.append(PostLine(tweet, inc, (tag,) if tag else ()))
    return out


@dataclass(frozen=True)
class Checkpoint:
    """Where a query's recent search stands: `since_id`, plus an unfilled gap after an early stop."""

    since_id: int | None = None
    gap_until_id: int | None = None
    gap_newest_id: int | None = None

    def to_json(self) -> str:
        return json.dumps({"since_id": self.since_id, "gap_until_id": self.gap_until_id,
                           "gap_newest_id": self.gap_newest_id})

    @classmethod
    def from_json(cls, raw: str | None) -> Checkpoint:
        return cls(**json.loads(raw)) if raw else cls()


@dataclass
class PullResult:
    """What one recent-search pull for one query got."""

    query: str
    posts: list[PostLine]
    checkpoint: Checkpoint
    pages: int = 0
    complete: bool = True
    rate_limited_until: datetime | None = None


@dataclass(frozen=True)
class RuleSync:
    """The outcome of making the stream's rules equal the configured queries."""

    added: tuple[str, ...]
    deleted: tuple[str, ...]
    kept: tuple[str, ...]


def next_checkpoint(cp: Checkpoint, newest: int | None, oldest: int | None, complete: bool,
                    filling_gap: bool) -> Checkpoint:
    """The checkpoint after a pull; a gap is remembered whenever a pull stopped before reaching `since_id`."""
    if filling_gap:
        if complete:
            return Checkpoint(since_id=cp.gap_newest_id)
        return replace(cp, gap_until_id=oldest if oldest is not None else cp.gap_until_id)
    if complete:
        return Checkpoint(since_id=newest if newest is not None else cp.since_id)
    if newest is None:  # stopped before the first page: nothing changes
        return cp
    return Checkpoint(since_id=cp.since_id, gap_until_id=oldest, gap_newest_id=newest)


# ------------------------------------------------------------------ pseudonymisation


def hash_key(environ: dict | None = None) -> bytes:
    """The pseudonymisation key: `CLAIMFLOW_SOCIAL_HASH_KEY`, else the LOCAL default."""
    env = os.environ if environ is None else environ
    return (env.get(HASH_KEY_ENV) or LOCAL_HASH_KEY).encode()


def pseudonymise(value: str | None, key: bytes) -> str | None:
    """Keyed HMAC-SHA256 of a handle or user id (first 20 hex digits): stable, not reversible without the key."""
    if not value:
        return None
    return hmac.new(key, value.casefold().encode(), hashlib.sha256).hexdigest()[:20]


# ------------------------------------------------------------------ the interface


class PostSource(ABC):
    """Where posts come from: the X API or a replay of it."""

    @abstractmethod
    def search_recent(self, query: SearchQuery, checkpoint: Checkpoint, *, end_time: datetime | None = None,
                      max_pages: int = DEFAULT_MAX_PAGES) -> PullResult:
        """New posts for `query` since `checkpoint` (gap first), newest first, up to `max_pages` pages."""

    @abstractmethod
    def counts_recent(self, query: SearchQuery, start_time: datetime, end_time: datetime) -> list[dict]:
        """Hourly post counts for `query`: `[{"start", "end", "tweet_count"}]`."""

    @abstractmethod
    def sync_rules(self, queries: Sequence[SearchQuery]) -> RuleSync:
        """Make the filtered stream's rules those of `queries` (tag = query name)."""

    @abstractmethod
    def stream(self, *, max_posts: int, timeout_s: float) -> list[PostLine]:
        """Posts from the filtered stream until `max_posts` or `timeout_s`, tagged by matching rule."""

    def pull(self, queries: Sequence[SearchQuery], checkpoints: dict[str, Checkpoint], *,
             end_time: datetime | None = None, max_pages: int = DEFAULT_MAX_PAGES) -> list[PullResult]:
        """One recent-search pull per query; a query that hits the rate limit keeps its checkpoint's gap."""
        return [self.search_recent(q, checkpoints.get(q.name, Checkpoint()), end_time=end_time, max_pages=max_pages)
                for q in queries]


# ------------------------------------------------------------------ tweepy


class RebaseAdapter(HTTPAdapter):
    """A transport adapter that sends requests for `https://api.twitter.com` to another base URL."""

    def __init__(self, base_url: str, **kwargs):
        super().__init__(**kwargs)
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be http(s)://host[:port], got {base_url!r}")
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        request.url = urlunsplit((self._scheme, self._netloc, self._prefix + parts.path, parts.query, ""))
        return super().send(request, **kwargs)


def mount_base_url(session: requests.Session, base_url: str | None) -> None:
    """Route the session's X API traffic to `base_url` (no-op for None)."""
    if base_url:
        session.mount(X_API, RebaseAdapter(base_url))


def _iso(ts: datetime) -> datetime:
    return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)


class TweepySource(PostSource):
    """The X API v2 through tweepy (bearer token, app-only auth)."""

    def __init__(self, bearer_token: str, *, base_url: str | None = None, wait_on_rate_limit: bool = True,
                 stream_max_retries: int = 3):
        import tweepy

        if not bearer_token:
            raise ValueError("TweepySource needs a bearer token (X_BEARER_TOKEN)")
        self._tweepy = tweepy
        self.bearer_token = bearer_token
        self.base_url = base_url
        self.stream_max_retries = stream_max_retries
        self.client = tweepy.Client(bearer_token, return_type=dict, wait_on_rate_limit=wait_on_rate_limit)
        mount_base_url(self.client.session, base_url)

    def _streaming_client(self, **kwargs):
        tweepy = self._tweepy

        class _Collector(tweepy.StreamingClient):
            def __init__(inner, *a, **k):
                super().__init__(*a, **k)
                inner.lines: list[PostLine] = []
                inner.limit = 0

            def on_data(inner, raw_data):
                body = json.loads(raw_data)
                if "data" in body:
                    tags = tuple(r.get("tag") or str(r.get("id")) for r in body.get("matching_rules") or [])
                    inner.lines.append(PostLine(body["data"], body.get("includes") or {}, tags))
                if inner.limit and len(inner.lines) >= inner.limit:
                    inner.disconnect()

        client = _Collector(self.bearer_token, return_type=dict, max_retries=self.stream_max_retries, **kwargs)
        # StreamingClient builds its session in BaseStream.__init__, so mount after construction.
        mount_base_url(client.session, self.base_url)
        return client

    def search_recent(self, query, checkpoint, *, end_time=None, max_pages=DEFAULT_MAX_PAGES):
        tweepy = self._tweepy
        filling_gap = checkpoint.gap_until_id is not None
        params = {
            "max_results": PAGE_SIZE,
            "tweet_fields": list(TWEET_FIELDS),
            "user_fields": list(USER_FIELDS),
            "place_fields": list(PLACE_FIELDS),
            "expansions": list(EXPANSIONS),
        }
        if checkpoint.since_id is not None:
            params["since_id"] = checkpoint.since_id
        if filling_gap:
            params["until_id"] = checkpoint.gap_until_id
        if end_time is not None and not filling_gap:
            params["end_time"] = _iso(end_time)
        posts: list[PostLine] = []
        newest = oldest = None
        pages, complete, limited_until = 0, True, None
        paginator = tweepy.Paginator(self.client.search_recent_tweets, query.query, limit=max_pages, **params)
        with outside_call("x", "search_recent", query=query.name) as span:
            try:
                for page in paginator:
                    pages += 1
                    meta = page.get("meta") or {}
                    if meta.get("result_count", 0):
                        newest = newest or int(meta["newest_id"])
                        oldest = int(meta["oldest_id"])
                        posts += split_page(page, query.name)
                    complete = not meta.get("next_token")
            except tweepy.TooManyRequests as err:
                complete = False
                reset = getattr(err, "reset_time", None)
                limited_until = datetime.fromtimestamp(reset, UTC) if reset else None
                log.warning("x search %s rate limited after %d pages (reset %s)", query.name, pages, limited_until)
            except tweepy.TweepyException as err:
                raise XSourceError("x_api_error", f"{query.name}: {type(err).__name__}") from err
            span.set_attribute("claimflow.pages", pages)
        cp = next_checkpoint(checkpoint, newest, oldest, complete, filling_gap)
        return PullResult(query.name, posts, cp, pages, complete, limited_until)

    def counts_recent(self, query, start_time, end_time):
        try:
            body = self.client.get_recent_tweets_count(
                query.query, granularity="hour", start_time=_iso(start_time), end_time=_iso(end_time)
            )
        except self._tweepy.TweepyException as err:
            raise XSourceError("x_api_error", f"counts {query.name}: {type(err).__name__}") from err
        return list(body.get("data") or [])

    def sync_rules(self, queries):
        tweepy = self._tweepy
        client = self._streaming_client()
        wanted = {q.name: q.query for q in queries}
        current = client.get_rules().get("data") or []
        stale = [r for r in current if wanted.get(r.get("tag")) != r.get("value")]
        present = {r.get("tag") for r in current if r not in stale}
        missing = [tweepy.StreamRule(value=q.query, tag=q.name) for q in queries if q.name not in present]
        if missing:
            # Validate first, so a bad rule leaves the live rule set untouched.
            check = client.add_rules(missing, dry_run=True)
            invalid = (check.get("meta") or {}).get("summary", {}).get("invalid", 0)
            if invalid:
                raise XSourceError("invalid_rule", json.dumps(check.get("errors") or [])[:300])
        if stale:
            client.delete_rules([r["id"] for r in stale])
        if missing:
            client.add_rules(missing)
        return RuleSync(tuple(r.tag for r in missing), tuple(r.get("tag") or r["id"] for r in stale),
                        tuple(sorted(present)))

    def stream(self, *, max_posts, timeout_s):
        client = self._streaming_client()
        client.limit = max_posts
        thread = client.filter(
            threaded=True, tweet_fields=list(TWEET_FIELDS), user_fields=list(USER_FIELDS),
            place_fields=list(PLACE_FIELDS), expansions=list(EXPANSIONS),
        )
        thread.join(timeout_s)
        client.disconnect()  # the stream notices at its next line or keep-alive
        thread.join(5)
        return list(client.lines)


# ------------------------------------------------------------------ replay


@dataclass
class ReplayStats:
    """What reading a replay file found: lines, posts, and bad lines by reason (never fatal)."""

    lines: int = 0
    posts: int = 0
    bad: dict[str, int] = field(default_factory=dict)

    def add_bad(self, reason: str) -> None:
        self.bad[reason] = self.bad.get(reason, 0) + 1


def parse_created_at(value: str) -> datetime:
    """X's `created_at` (`2026-06-14T15:04:05.000Z`) as an aware UTC datetime."""
    return datetime.fromisoformat(value).astimezone(UTC)


def read_replay(lines: Iterable[str | bytes], stats: ReplayStats | None = None) -> Iterator[PostLine]:
    """Parse X API v2 JSON lines; a bad line is counted in `stats.bad` by reason and skipped."""
    stats = stats if stats is not None else ReplayStats()
    for raw in lines:
        stats.lines += 1
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                stats.add_bad("undecodable")
                continue
        if not raw.strip():
            stats.lines -= 1  # blank lines are keep-alives, not data
            continue
        try:
            body = json.loads(raw)
        except ValueError:
            stats.add_bad("not_json")
            continue
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            stats.add_bad("no_data")
            continue
        data = body["data"]
        tid, text, created = data.get("id"), data.get("text"), data.get("created_at")
        if not (isinstance(tid, str) and tid.isdigit()) or not isinstance(text, str):
            stats.add_bad("missing_id_or_text")
            continue
        try:
            parse_created_at(created)
        except (TypeError, ValueError, AttributeError):
            stats.add_bad("bad_created_at")
            continue
        includes = body.get("includes") if isinstance(body.get("includes"), dict) else {}
        tags = tuple(r.get("tag") for r in body.get("matching_rules") or [] if isinstance(r, dict) and r.get("tag"))
        stats.posts += 1
        yield PostLine(data, includes, tags)


class ReplaySource(PostSource):
    """Recent search and the stream answered from replay lines, as of `clock()`.

    Posts become visible when their `created_at` has passed, like a live API; queries are
    matched with `compile_query`, pages are newest first with the API's page size.
    """

    def __init__(self, path: Path | str | None = None, *, lines: Iterable[PostLine] | None = None,
                 clock: Callable[[], datetime] | None = None):
        self.stats = ReplayStats()
        if lines is None:
            if path is None:
                raise ValueError("ReplaySource needs a path or lines")
            with open(path, "rb") as fh:
                lines = list(read_replay(fh, self.stats))
        posts = sorted(lines, key=lambda p: p.id, reverse=True)
        self._posts = posts
        self._created = [parse_created_at(p.data["created_at"]) for p in posts]
        self.clock = clock or (lambda: datetime.now(UTC))
        self._rules: dict[str, str] = {}
        self._stream_pos = 0
        self._lock = threading.Lock()

    def _visible(self, end_time: datetime | None) -> Iterator[tuple[PostLine, datetime]]:
        limit = min(self.clock(), _iso(end_time)) if end_time else self.clock()
        for post, created in zip(self._posts, self._created, strict=True):
            if created < limit:
                yield post, created

    def search_recent(self, query, checkpoint, *, end_time=None, max_pages=DEFAULT_MAX_PAGES):
        match = compile_query(query.query)
        filling_gap = checkpoint.gap_until_id is not None
        lo = checkpoint.since_id or 0
        hi = checkpoint.gap_until_id if filling_gap else None
        found = [p for p, _ in self._visible(None if filling_gap else end_time)
                 if p.id > lo and (hi is None or p.id < hi) and match(p.data)]
        budget = max_pages * PAGE_SIZE
        got = found[:budget]
        complete = len(found) <= budget
        pages = max(1, -(-len(got) // PAGE_SIZE))
        newest = got[0].id if got else None
        oldest = got[-1].id if got else None
        cp = next_checkpoint(checkpoint, newest, oldest, complete, filling_gap)
        return PullResult(query.name, [replace(p, matched=(query.name,)) for p in got], cp, pages, complete)

    def counts_recent(self, query, start_time, end_time):
        match = compile_query(query.query)
        start, end = _iso(start_time), _iso(end_time)
        buckets: dict[datetime, int] = {}
        hour = start.replace(minute=0, second=0, microsecond=0)
        while hour < end:
            buckets[hour] = 0
            hour += timedelta(hours=1)
        for post, created in self._visible(end):
            if created >= start and match(post.data):
                b = created.replace(minute=0, second=0, microsecond=0)
                buckets[b] = buckets.get(b, 0) + 1
        fmt = "%Y-%m-%dT%H:%M:%S.000Z"
        return [{"start": h.strftime(fmt), "end": (h + timedelta(hours=1)).strftime(fmt), "tweet_count": n}
                for h, n in sorted(buckets.items())]

    def sync_rules(self, queries):
        wanted = {q.name: q.query for q in queries}
        stale = tuple(t for t, v in self._rules.items() if wanted.get(t) != v)
        kept = tuple(sorted(t for t in self._rules if t not in stale))
        added = tuple(t for t in wanted if t not in kept)
        self._rules = dict(wanted)
        return RuleSync(added, stale, kept)

    def stream(self, *, max_posts, timeout_s):
        rules = {t: compile_query(v) for t, v in self._rules.items()}
        visible = sorted((p for p, _ in self._visible(None)), key=lambda p: p.id)
        out = []
        with self._lock:
            for post in visible[self._stream_pos:]:
                self._stream_pos += 1
                tags = tuple(t for t, m in rules.items() if m(post.data))
                if tags:
                    out.append(replace(post, matched=tags))
                if len(out) >= max_posts:
                    break
        return out


def source_from_env(replay_path: Path | str, environ: dict | None = None,
                    clock: Callable[[], datetime] | None = None) -> PostSource:
    """`TweepySource` when `X_BEARER_TOKEN` is set (`X_API_BASE_URL` optional), else the replay."""
    env = os.environ if environ is None else environ
    token = (env.get("X_BEARER_TOKEN") or "").strip()
    if token:
        return TweepySource(token, base_url=(env.get("X_API_BASE_URL") or "").strip() or None)
    return ReplaySource(replay_path, clock=clock)


def wait_seconds_until(reset: datetime | None, now: Callable[[], float] = time.time) -> float:
    """Seconds until a rate-limit window resets (0 when unknown or past)."""
    return max(0.0, reset.timestamp() - now()) if reset else 0.0
