"""The X resource: tweepy against the X API when a bearer token is configured, else the bundled replay."""

from __future__ import annotations

import json
import os
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

    bearer_token_env: str = Field("X_BEARER_TOKEN", description="Variable holding the bearer token (never in config); "
                                  "unset or empty: the replay.")
    base_url_env: str = Field("X_API_BASE_URL", description="Variable naming another host for api.twitter.com "
                              "(an egress proxy); unset: X itself.")
    replay_path: str = Field("", description="Replay file (X API v2 JSON lines) used without a token.")
    replay_seed: int = Field(REPLAY_SEED, description="Seed of the bundled replay written when the file is missing.")
    wait_on_rate_limit: bool = Field(True, description="Sleep until x-rate-limit-reset on a 429 (else stop the pull).")
    max_pages: int = Field(10, description="Recent-search pages per query and pull (100 posts each).")
    retention_days: int = Field(30, description="Posts (text, pseudonymised author) are deleted after this many days.")
    queries_json: str = Field("", description='Queries as JSON, [{"name", "query", "topic", "language"}]; empty: defaults.')

    def _token(self) -> str:
        return (os.environ.get(self.bearer_token_env) or "").strip()

    @property
    def uses_api(self) -> bool:
        return bool(self._token())

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
            base_url = (os.environ.get(self.base_url_env) or "").strip() or None
            return TweepySource(self._token(), base_url=base_url, wait_on_rate_limit=self.wait_on_rate_limit)
        if not self.replay_path:
            raise dg.Failure("no X_BEARER_TOKEN and no replay_path: nothing to read posts from", allow_retries=False)
        return ReplaySource(ensure_replay(Path(self.replay_path), self.replay_seed), clock=clock)



def local_x_resource() -> XResource:
    """LOCAL: tweepy when `X_BEARER_TOKEN` is set (`X_API_BASE_URL` optional), else the bundled replay."""
    return XResource(replay_path=str(default_replay_path()))


def prod_x_resource() -> XResource:
    """PROD: the X API (`X_BEARER_TOKEN`); without it no replay stands in, the pull fails and says why."""
    return XResource(replay_path="")
