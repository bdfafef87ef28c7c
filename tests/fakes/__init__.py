"""Test doubles of the systems outside: a local fake of the Anthropic API, an injection corpus."""

from .anthropic_server import (
    Behaviour,
    CapturedRequest,
    FakeAnthropic,
    default_responder,
    estimate_tokens,
    leaked,
    malformed_tool,
    overloaded,
    rate_limited,
    refusal,
    seeded_patterns,
    server_error,
    slow,
    text_only,
)

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
