"""Claude through the `anthropic` SDK: configuration, retries, structured output, usage and cost.

The client makes one kind of call: a forced tool call (`tool_choice` names the tool) whose
input is validated by a pydantic model before anyone uses it. Anything else - a refusal,
a reply without the tool, an input that does not validate, retries run out - raises a
`ClaudeError` whose `reason` the caller writes into provenance as its `fallback_reason`
while the rule extractor or the template drafter stands in.

Retries are ours, not the SDK's (the SDK client is built with `max_retries=0`). The SDK
does honour `retry-after-ms`, `retry-after` in seconds and `retry-after` as an HTTP date
(`anthropic._base_client.BaseClient._parse_retry_after_header` and
`_calculate_retry_timeout`), but it waits as long as the server says, without any bound
(up to ~50 days), and it exposes neither the attempts nor the time spent waiting. Here:
429, 408, 409, 5xx and 529 (overloaded) are retried up to `max_retries` times, waiting
what `retry-after` says (refused past `max_retry_after_s`: a claim waits for the
template rather than for an hour) or an exponential backoff with jitter; every call
reports its attempts and wait.

Credentials come from the environment only: `ANTHROPIC_API_KEY` and optionally
`ANTHROPIC_BASE_URL`, read by `ClaudeClient.from_env`, which returns None without a key.
Nothing here logs request or response content: only ids, counts and status codes.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, TypeVar

import anthropic
from pydantic import BaseModel, ValidationError

from connectors.tracing import outside_call
from models.pricing import PRICE_TABLE, PriceTable, TokenUsage, call_cost

__all__ = [
    "CallRecord",
    "ClaudeClient",
    "ClaudeConfig",
    "ClaudeError",
    "ClaudeMalformedOutput",
    "ClaudeRefusal",
    "ClaudeRequestRejected",
    "ClaudeRetriesExhausted",
    "ToolResult",
    "ToolSpec",
    "claims_cost",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_MODEL = "claude-haiku-4-5"
RETRYABLE_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True)
class ClaudeConfig:
    """Model, limits, timeouts and retry policy: configuration, never constants in call sites."""

    model: str = DEFAULT_MODEL
    max_tokens: int = 1024
    timeout_s: float = 30.0
    max_retries: int = 3
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    max_retry_after_s: float = 60.0
    cache_system_prompt: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> ClaudeConfig:
        """Defaults, then optional `CLAIMFLOW_CLAUDE_MODEL`, `..._TIMEOUT_S`, `..._MAX_RETRIES`, then `overrides`."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if env.get("CLAIMFLOW_CLAUDE_MODEL"):
            values["model"] = env["CLAIMFLOW_CLAUDE_MODEL"]
        if env.get("CLAIMFLOW_CLAUDE_TIMEOUT_S"):
            values["timeout_s"] = float(env["CLAIMFLOW_CLAUDE_TIMEOUT_S"])
        if env.get("CLAIMFLOW_CLAUDE_MAX_RETRIES"):
            values["max_retries"] = int(env["CLAIMFLOW_CLAUDE_MAX_RETRIES"])
        values.update(overrides)
        return cls(**values)


# ------------------------------------------------------------------ errors


class ClaudeError(Exception):
    """A call that produced nothing usable; `reason` is a short code for provenance's `fallback_reason`."""

    reason = "claude_error"

    def __init__(self, reason: str | None = None, *, usage: TokenUsage | None = None, attempts: int = 0,
                 retry_wait_s: float = 0.0, status_code: int | None = None, message_id: str | None = None):
        self.reason = reason or type(self).reason
        self.usage = usage or TokenUsage()
        self.attempts = attempts
        self.retry_wait_s = retry_wait_s
        self.status_code = status_code
        self.message_id = message_id
        super().__init__(self.reason)


class ClaudeRetriesExhausted(ClaudeError):
    """429/5xx/529/timeouts until `max_retries` ran out (or the server asked to wait too long)."""

    reason = "retries_exhausted"


class ClaudeRequestRejected(ClaudeError):
    """A 4xx the request itself caused (400, 401, 403, 404, 413...): retrying would not help."""

    reason = "request_rejected"


class ClaudeRefusal(ClaudeError):
    """`stop_reason == "refusal"`, or a reply without the forced tool call."""

    reason = "refusal"


class ClaudeMalformedOutput(ClaudeError):
    """The tool input did not validate against the output model."""

    reason = "malformed_tool_result"


# ------------------------------------------------------------------ records


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model is forced to call, and the pydantic model its input must validate against."""

    name: str
    description: str
    input_schema: dict
    output_model: type[BaseModel]

    @classmethod
    def from_dict(cls, tool: Mapping, output_model: type[BaseModel]) -> ToolSpec:
        return cls(tool["name"], tool["description"], dict(tool["input_schema"]), output_model)

    def as_param(self) -> dict:
        return {"name": self.name, "description": self.description, "input_schema": self.input_schema}


@dataclass(frozen=True)
class ToolResult:
    """A validated tool input and what it cost to get."""

    output: BaseModel
    usage: TokenUsage
    model: str
    message_id: str | None
    attempts: int = 1
    retry_wait_s: float = 0.0
    latency_s: float = 0.0


@dataclass(frozen=True)
class CallRecord:
    """One model call (or the fallback that replaced it): provenance, usage and cost, for the audit log.

    `provenance` is "claude" when the model's output was used, else the stand-in ("rules",
    "template") with `fallback_reason` saying why (`no_api_key`, `retries_exhausted`,
    `timeout`, `refusal`, `no_tool_use`, `malformed_tool_result`, `batch_errored`,
    `batch_expired`, `batch_canceled`...); `called` is False when no request was made at all.
    Usage of failed calls is kept: a refusal is billed too.
    """

    purpose: str
    provenance: str
    model: str | None = None
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_usd: Decimal = Decimal(0)
    called: bool = False
    attempts: int = 0
    retry_wait_s: float = 0.0
    latency_s: float = 0.0
    message_id: str | None = None
    fallback_reason: str | None = None
    batch: bool = False
    claim_ref: str | None = None
    prompt_version: str | None = None
    redactions: Mapping[str, int] = field(default_factory=dict)
    injection_signals: tuple[str, ...] = ()
    fields_supplied: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        """JSON-ready (cost as a string, usage as a dict): what `status_drafts` and the audit log store."""
        return {
            "purpose": self.purpose,
            "provenance": self.provenance,
            "model": self.model,
            "usage": self.usage.as_dict(),
            "cost_usd": str(self.cost_usd),
            "called": self.called,
            "attempts": self.attempts,
            "retry_wait_s": round(self.retry_wait_s, 3),
            "latency_s": round(self.latency_s, 3),
            "message_id": self.message_id,
            "fallback_reason": self.fallback_reason,
            "batch": self.batch,
            "claim_ref": self.claim_ref,
            "prompt_version": self.prompt_version,
            "redactions": dict(self.redactions),
            "injection_signals": list(self.injection_signals),
            "fields_supplied": list(self.fields_supplied),
        }

    def with_claim(self, claim_ref: str | None) -> CallRecord:
        return replace(self, claim_ref=claim_ref)


def claims_cost(records: Iterable[CallRecord]) -> dict[str | None, Decimal]:
    """Cost per claim (`claim_ref`), summed over every call made for it."""
    out: dict[str | None, Decimal] = {}
    for r in records:
        out[r.claim_ref] = out.get(r.claim_ref, Decimal(0)) + r.cost_usd
    return out


# ------------------------------------------------------------------ retry timing


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """`retry-after-ms`, else `retry-after` as seconds or an HTTP date; None when absent or unreadable."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(raw)
    if parsed is None:
        return None
    return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)


# ------------------------------------------------------------------ client


class ClaudeClient:
    """The `anthropic` SDK behind our retry policy, forced tool calls and usage accounting."""

    def __init__(
        self,
        config: ClaudeConfig | None = None,
        *,
        api_key: str,
        base_url: str | None = None,
        prices: PriceTable = PRICE_TABLE,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not api_key:
            raise ValueError("ClaudeClient needs an API key; use ClaudeClient.from_env() to get None without one")
        self.config = config or ClaudeConfig()
        self.prices = prices
        self._sleep = sleep
        self._rng = random.Random()
        self.sdk = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url,
            timeout=self.config.timeout_s,
            max_retries=0,
            # Spans carry metadata only, whatever ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE says.
            open_telemetry={"traces": {"content_mode": "metadata_only"}},
        )

    @classmethod
    def from_env(cls, config: ClaudeConfig | None = None, environ: Mapping[str, str] | None = None,
                 **kwargs) -> ClaudeClient | None:
        """A client when `ANTHROPIC_API_KEY` is set (and `ANTHROPIC_BASE_URL` if given), else None."""
        env = os.environ if environ is None else environ
        key = (env.get("ANTHROPIC_API_KEY") or "").strip()
        if not key:
            return None
        base_url = (env.get("ANTHROPIC_BASE_URL") or "").strip() or None
        return cls(config or ClaudeConfig.from_env(env), api_key=key, base_url=base_url, **kwargs)

    @property
    def model(self) -> str:
        return self.config.model

    def close(self) -> None:
        self.sdk.close()

    # -------------------------------------------------------------- requests

    def build_params(self, *, system: str, user_content: str, tool: ToolSpec, max_tokens: int | None = None) -> dict:
        """Messages API parameters: static system block (cached), forced tool, one user turn."""
        system_block: dict[str, Any] = {"type": "text", "text": system}
        if self.config.cache_system_prompt:
            system_block["cache_control"] = {"type": "ephemeral"}
        return {
            "model": self.config.model,
            "max_tokens": max_tokens or self.config.max_tokens,
            "system": [system_block],
            "tools": [tool.as_param()],
            "tool_choice": {"type": "tool", "name": tool.name, "disable_parallel_tool_use": True},
            "messages": [{"role": "user", "content": user_content}],
        }

    def call_tool(self, *, system: str, user_content: str, tool: ToolSpec, purpose: str = "call",
                  max_tokens: int | None = None) -> ToolResult:
        """One forced tool call, retried per the config; the validated tool input, or a `ClaudeError`."""
        params = self.build_params(system=system, user_content=user_content, tool=tool, max_tokens=max_tokens)
        started = time.monotonic()
        with outside_call("claude", "messages", purpose=purpose, model=self.config.model) as span:
            message, attempts, waited = self.with_retries(purpose, lambda: self.sdk.messages.create(**params))
            span.set_attribute("claimflow.retries", attempts - 1)
        latency = time.monotonic() - started
        usage = TokenUsage.from_api(getattr(message, "usage", None))
        try:
            output = self.parse_tool_message(message, tool)
        except ClaudeError as err:
            err.attempts, err.retry_wait_s = attempts, waited
            log.warning("claude %s unusable: reason=%s message_id=%s", purpose, err.reason, err.message_id)
            raise
        log.info(
            "claude %s ok: message_id=%s attempts=%d input=%d output=%d cache_write=%d cache_read=%d",
            purpose, getattr(message, "id", None), attempts, usage.input_tokens, usage.output_tokens,
            usage.cache_creation_input_tokens, usage.cache_read_input_tokens,
        )
        return ToolResult(output, usage, getattr(message, "model", self.config.model) or self.config.model,
                          getattr(message, "id", None), attempts, waited, latency)

    def parse_tool_message(self, message: Any, tool: ToolSpec) -> BaseModel:
        """The forced tool's input validated by `tool.output_model`; refusals and bad input raise."""
        usage = TokenUsage.from_api(getattr(message, "usage", None))
        message_id = getattr(message, "id", None)
        if getattr(message, "stop_reason", None) == "refusal":
            raise ClaudeRefusal("refusal", usage=usage, message_id=message_id)
        blocks = [b for b in (getattr(message, "content", None) or []) if getattr(b, "type", None) == "tool_use"]
        mine = [b for b in blocks if getattr(b, "name", None) == tool.name]
        if not mine:
            if getattr(message, "stop_reason", None) == "max_tokens":
                raise ClaudeMalformedOutput("truncated_tool_result", usage=usage, message_id=message_id)
            raise ClaudeRefusal("no_tool_use", usage=usage, message_id=message_id)
        raw = getattr(mine[0], "input", None)
        if getattr(message, "stop_reason", None) == "max_tokens":
            raise ClaudeMalformedOutput("truncated_tool_result", usage=usage, message_id=message_id)
        try:
            return tool.output_model.model_validate(raw)
        except ValidationError:
            raise ClaudeMalformedOutput("malformed_tool_result", usage=usage, message_id=message_id) from None

    def cost(self, usage: TokenUsage, *, batch: bool = False, model: str | None = None) -> Decimal:
        return call_cost(usage, model or self.config.model, batch=batch, table=self.prices)

    # -------------------------------------------------------------- retries

    def with_retries(self, op: str, fn: Callable[[], T]) -> tuple[T, int, float]:
        """Run `fn` with the retry policy; returns (result, attempts, seconds waited between attempts)."""
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn(), attempt, waited
            except anthropic.APITimeoutError:
                status, headers, reason = None, None, "timeout"
            except anthropic.APIConnectionError:
                status, headers, reason = None, None, "connection_error"
            except anthropic.APIStatusError as exc:
                status, headers = exc.status_code, exc.response.headers
                should = headers.get("x-should-retry")
                retryable = status in RETRYABLE_STATUS or status >= 500
                if should == "false" or (not retryable and should != "true"):
                    log.warning("claude %s rejected: status=%d attempt=%d", op, status, attempt)
                    raise ClaudeRequestRejected(f"api_error_{status}", attempts=attempt, retry_wait_s=waited,
                                                status_code=status) from None
                reason = "overloaded" if status == 529 else ("rate_limited" if status == 429 else f"http_{status}")
            except anthropic.APIResponseValidationError:
                raise ClaudeMalformedOutput("malformed_response", attempts=attempt, retry_wait_s=waited) from None
            except anthropic.AnthropicError as exc:  # SDK-side failures (credentials, configuration): no retry
                log.warning("claude %s failed in the SDK: %s", op, type(exc).__name__)
                raise ClaudeRequestRejected(f"client_error_{type(exc).__name__}", attempts=attempt,
                                            retry_wait_s=waited) from None
            if attempt > self.config.max_retries:
                log.warning("claude %s gave up: reason=%s attempts=%d waited_s=%.2f", op, reason, attempt, waited)
                final = "timeout" if reason == "timeout" else "retries_exhausted"
                raise ClaudeRetriesExhausted(final, attempts=attempt, retry_wait_s=waited, status_code=status)
            delay = self._delay(attempt, headers)
            if delay is None:
                log.warning("claude %s gave up: retry-after above %.0fs", op, self.config.max_retry_after_s)
                raise ClaudeRetriesExhausted("retry_after_too_long", attempts=attempt, retry_wait_s=waited,
                                             status_code=status)
            log.info("claude %s retry: reason=%s status=%s attempt=%d wait_s=%.2f", op, reason, status, attempt, delay)
            self._sleep(delay)
            waited += delay

    def _delay(self, attempt: int, headers: Mapping[str, str] | None) -> float | None:
        """Seconds before the next attempt: the server's `retry-after`, else exponential backoff with jitter."""
        told = retry_after_seconds(headers)
        if told is not None:
            return told if told <= self.config.max_retry_after_s else None
        backoff = min(self.config.backoff_base_s * 2 ** (attempt - 1), self.config.backoff_max_s)
        return backoff * self._rng.uniform(0.75, 1.0)
