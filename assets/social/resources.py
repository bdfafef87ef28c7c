"""The X resource: tweepy against the X API when a bearer token is configured, else the bundled replay."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import dagster as dg
from pydantic import Field

from assets.social.queries import DEFAULT_QUERIES
from connectors.x import PostSource, ReplaySource, SearchQuery, TweepySource, hash_key

REPLAY_SEED = 7
REPLAY_DAYS = 14


def default_replay_path() -> Path:
    """Where the bundled replay lives: under `$CLAIMFLOW_HOME/samples/social/`."""
    from assets.project import claimflow_home

    return claimflow_home() / "samples" / "social" / f"replay-seed-{REPLAY_SEED}.jsonl"


def ensure_replay(path: Path, seed: int = REPLAY_SEED, days: int = REPLAY_DAYS) -> Path:
    """The bundled replay: written once from the documented process (docs/social_stream.md), then reused."""
    if not path.exists():
        from connectors.samples.social import generate_social_stream, write_replay

        lines, events = generate_social_stream(seed, days=days)
        write_replay(path, lines, events)
    return path


class XResource(dg.ConfigurableResource):
    """Public posts: X API v2 through tweepy, or a replay of X API v2 JSON lines."""

    bearer_token: str = Field("", description="X API bearer token; empty uses the replay.")
    base_url: str = Field("", description="Another host for api.twitter.com (an egress proxy); empty: X itself.")
    replay_path: str = Field("", description="Replay file (X API v2 JSON lines) used without a token.")
    replay_seed: int = Field(REPLAY_SEED, description="Seed of the bundled replay written when the file is missing.")
    wait_on_rate_limit: bool = Field(True, description="Sleep until x-rate-limit-reset on a 429 (else stop the pull).")
    max_pages: int = Field(10, description="Recent-search pages per query and pull (100 posts each).")
    retention_days: int = Field(30, description="Posts (text, pseudonymised author) are deleted after this many days.")
    queries_json: str = Field("", description='Queries as JSON, [{"name", "query", "topic", "language"}]; empty: defaults.')

    @property
    def uses_api(self) -> bool:
        return bool(self.bearer_token.strip())

    def search_queries(self) -> list[SearchQuery]:
        if not self.queries_json.strip():
            return list(DEFAULT_QUERIES)
        return [SearchQuery(**q) for q in json.loads(self.queries_json)]

    def hash_key(self) -> bytes:
        """The pseudonymisation key (`CLAIMFLOW_SOCIAL_HASH_KEY`, LOCAL default otherwise)."""
        return hash_key()

    def source(self, clock: Callable[[], datetime] | None = None) -> PostSource:
        """The source; `clock` is the replay's now (a run's partition end), ignored by the API."""
        if self.uses_api:
            return TweepySource(self.bearer_token.strip(), base_url=self.base_url.strip() or None,
                                wait_on_rate_limit=self.wait_on_rate_limit)
        if not self.replay_path:
            raise dg.Failure("no X_BEARER_TOKEN and no replay_path: nothing to read posts from", allow_retries=False)
        return ReplaySource(ensure_replay(Path(self.replay_path), self.replay_seed), clock=clock)


def local_x_resource() -> XResource:
    """LOCAL: tweepy when `X_BEARER_TOKEN` is set (`X_API_BASE_URL` optional), else the bundled replay."""
    import os

    return XResource(bearer_token=os.environ.get("X_BEARER_TOKEN", ""),
                     base_url=os.environ.get("X_API_BASE_URL", ""), replay_path=str(default_replay_path()))


def prod_x_resource() -> XResource:
    """PROD: the X API, always (`X_BEARER_TOKEN` must be set)."""
    import os

    return XResource(bearer_token=dg.EnvVar("X_BEARER_TOKEN"), base_url=os.environ.get("X_API_BASE_URL", ""))
