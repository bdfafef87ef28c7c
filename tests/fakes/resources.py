"""Fake implementations of the outside systems, as Dagster resources: swapped in by resource key only."""

from __future__ import annotations

from pydantic import Field

from assets.resources import ClaudeResource
from models.claude import ClaudeClient, ClaudeConfig


class FakeClaudeResource(ClaudeResource):
    """Claude through the real SDK, pointed at the local fake Messages API (`tests/fakes/anthropic_server.py`)."""

    base_url: str = Field(description="The fake server's URL.")

    def client(self) -> ClaudeClient:
        # A fixed key: the fake accepts any, and nothing is read from the environment.
        return ClaudeClient(ClaudeConfig(max_retries=0), api_key="fake-key-for-the-local-server",
                            base_url=self.base_url)
