"""Message Batches: many requests as one batch at half price, for work that can wait.

`run_batch` submits the requests, polls until the batch has ended (with a growing interval,
for at most `BatchConfig.max_wait_s`; past it the batch is canceled and polled a little
longer), streams the results and maps them back by `custom_id` (results come in any
order). Each item ends as one `BatchItem`: a validated tool output, or none and a
`reason` - `batch_errored`, `batch_expired`, `batch_canceled`, `batch_missing`,
`batch_unfinished`, or the parse failure (`refusal`, `no_tool_use`,
`malformed_tool_result`). Callers fall back per item and say so in provenance.

`draft_status_batch` is the drafting use: one status message per decided claim.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from models.claude import ClaudeClient, ClaudeError, ToolSpec
from models.pricing import TokenUsage

__all__ = [
    "BatchConfig",
    "BatchItem",
    "BatchRequest",
    "BatchRun",
    "draft_status_batch",
    "run_batch",
    "run_batch_or_fallback",
]

log = logging.getLogger(__name__)

CUSTOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class BatchConfig:
    """Polling policy. The API ends most batches within an hour and every batch within 24 h."""

    poll_interval_s: float = 30.0
    poll_backoff: float = 1.5
    max_poll_interval_s: float = 300.0
    max_wait_s: float = 6 * 3600.0
    cancel_grace_s: float = 600.0


@dataclass(frozen=True)
class BatchRequest:
    """One request of a batch: its id, Messages API params and the tool its output must validate against."""

    custom_id: str
    params: dict
    tool: ToolSpec


@dataclass(frozen=True)
class BatchItem:
    """What became of one request."""

    custom_id: str
    status: str
    output: BaseModel | None = None
    usage: TokenUsage = field(default_factory=TokenUsage)
    reason: str | None = None
    message_id: str | None = None
    model: str | None = None
    sent: bool = True


@dataclass(frozen=True)
class BatchRun:
    """A finished (or abandoned) batch and its items by `custom_id`."""

    batch_id: str
    processing_status: str
    items: dict[str, BatchItem]
    polls: int
    waited_s: float
    canceled: bool = False


def run_batch(
    client: ClaudeClient,
    requests: Sequence[BatchRequest],
    *,
    config: BatchConfig = BatchConfig(),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> BatchRun:
    """Submit, poll (bounded, with backoff), fetch and map results; API failures raise `ClaudeError`."""
    ids = [r.custom_id for r in requests]
    if not requests:
        raise ValueError("a batch needs at least one request")
    if len(set(ids)) != len(ids):
        raise ValueError("custom_id values must be unique within a batch")
    bad = [i for i in ids if not CUSTOM_ID.match(i)]
    if bad:
        raise ValueError(f"{len(bad)} custom_id values do not match [A-Za-z0-9_-]{{1,64}}")
    by_id = {r.custom_id: r for r in requests}
    sdk = client.sdk.messages.batches
    batch, _, _ = client.with_retries(
        "batch_create", lambda: sdk.create(requests=[{"custom_id": r.custom_id, "params": r.params} for r in requests])
    )
    log.info("batch %s submitted: requests=%d", batch.id, len(requests))
    started = clock()
    interval = config.poll_interval_s
    polls, waited, canceled_at = 0, 0.0, None
    while batch.processing_status != "ended":
        elapsed = clock() - started
        if canceled_at is None and elapsed >= config.max_wait_s:
            batch, _, _ = client.with_retries("batch_cancel", lambda bid=batch.id: sdk.cancel(bid))
            canceled_at = clock()
            log.warning("batch %s canceled after %.0fs without ending", batch.id, elapsed)
            continue
        if canceled_at is not None and clock() - canceled_at >= config.cancel_grace_s:
            break
        sleep(interval)
        waited += interval
        interval = min(interval * config.poll_backoff, config.max_poll_interval_s)
        batch, _, _ = client.with_retries("batch_poll", lambda bid=batch.id: sdk.retrieve(bid))
        polls += 1

    items: dict[str, BatchItem] = {}
    if batch.processing_status == "ended":
        lines, _, _ = client.with_retries("batch_results", lambda: list(sdk.results(batch.id)))
        for line in lines:
            req = by_id.get(line.custom_id)
            if req is None:
                continue
            items[line.custom_id] = _item(client, req, line.result)
    missing_reason = "batch_missing" if batch.processing_status == "ended" else "batch_unfinished"
    for cid in ids:
        items.setdefault(cid, BatchItem(cid, "missing", reason=missing_reason))
    counts = {}
    for item in items.values():
        counts[item.status] = counts.get(item.status, 0) + 1
    log.info("batch %s %s: polls=%d %s", batch.id, batch.processing_status, polls,
             " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return BatchRun(batch.id, batch.processing_status, items, polls, waited, canceled=canceled_at is not None)


def _item(client: ClaudeClient, req: BatchRequest, result) -> BatchItem:
    kind = getattr(result, "type", None)
    if kind == "succeeded":
        message = result.message
        usage = TokenUsage.from_api(getattr(message, "usage", None))
        try:
            output = client.parse_tool_message(message, req.tool)
        except ClaudeError as err:
            return BatchItem(req.custom_id, "unusable", usage=usage, reason=err.reason,
                             message_id=getattr(message, "id", None), model=getattr(message, "model", None))
        return BatchItem(req.custom_id, "succeeded", output=output, usage=usage,
                         message_id=getattr(message, "id", None), model=getattr(message, "model", None))
    if kind in ("errored", "expired", "canceled"):
        # Errored, expired and canceled requests are not billed.
        return BatchItem(req.custom_id, kind, reason=f"batch_{kind}")
    return BatchItem(req.custom_id, "unusable", reason="batch_unknown_result")


def run_batch_or_fallback(
    client: ClaudeClient,
    requests: Sequence[BatchRequest],
    *,
    config: BatchConfig = BatchConfig(),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, BatchItem]:
    """`run_batch`, except that a batch the API would not take or return leaves every item with a reason."""
    try:
        return run_batch(client, requests, config=config, sleep=sleep, clock=clock).items
    except ClaudeError as err:
        log.warning("batch failed as a whole: reason=%s requests=%d", err.reason, len(requests))
        return {r.custom_id: BatchItem(r.custom_id, "failed", reason=f"batch_{err.reason}", sent=False)
                for r in requests}


def draft_status_batch(
    items: Mapping[str, tuple[Mapping, Mapping]] | Sequence[tuple[str, Mapping, Mapping]],
    client: ClaudeClient | None,
    *,
    config: BatchConfig = BatchConfig(),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
):
    """Status drafts for many claims as one batch: `{custom_id: (claim, decision)}` -> `{custom_id: StatusDraft}`.

    The claim number makes a good `custom_id` (`CLM-2026-000123` fits the API's pattern).
    Items that error, expire, are canceled or come back unusable get the template draft,
    with provenance "template" and the reason.
    """
    from models.drafting import (
        DRAFT_TOOL_SPEC,
        accept_draft,
        prepare_draft,
        template_draft,
    )

    pairs = dict(items) if isinstance(items, Mapping) else {cid: (c, d) for cid, c, d in items}
    jobs = {cid: prepare_draft(claim, decision) for cid, (claim, decision) in pairs.items()}
    if client is None:
        return {cid: template_draft(job, reason="no_api_key") for cid, job in jobs.items()}
    requests = [BatchRequest(cid, job.params(client), DRAFT_TOOL_SPEC) for cid, job in jobs.items()]
    results = run_batch_or_fallback(client, requests, config=config, sleep=sleep, clock=clock)
    drafts = {}
    for cid, job in jobs.items():
        item = results[cid]
        cost = client.cost(item.usage, batch=True)
        common = {"model": item.model or client.model, "usage": item.usage, "cost_usd": cost, "batch": True,
                  "called": item.sent, "message_id": item.message_id}
        if item.output is None:
            drafts[cid] = template_draft(job, reason=item.reason or "batch_unusable", **common)
        else:
            drafts[cid] = accept_draft(job, item.output, **common)  # type: ignore[arg-type]
    return drafts
