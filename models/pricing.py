"""What a Claude call costs: tokens from the response's `usage` times a dated price table.

Prices are configuration, not code paths: `PRICE_TABLE` carries the date it was read and
its source, and `PriceTable.from_mapping` loads another (e.g. from a JSON file) when the
list price moves. Every number is USD per million tokens.

The Messages API reports input in three disjoint parts: `input_tokens` (not cached),
`cache_creation_input_tokens` (written to the cache, billed above base) and
`cache_read_input_tokens` (read from it, billed at a tenth of base). The Message Batches
API bills every part at half price; the discounts stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

__all__ = [
    "PRICE_TABLE",
    "ModelPrice",
    "PriceTable",
    "TokenUsage",
    "call_cost",
    "total_cost",
]

_MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class TokenUsage:
    """The four billed token counts of one response (or a sum of them)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @classmethod
    def from_api(cls, usage: object | None) -> TokenUsage:
        """From an SDK `Usage` object or its dict form; absent cache fields count as 0."""
        if usage is None:
            return cls()

        def get(name: str) -> int:
            value = usage.get(name) if isinstance(usage, Mapping) else getattr(usage, name, None)
            return int(value or 0)

        return cls(
            input_tokens=get("input_tokens"),
            output_tokens=get("output_tokens"),
            cache_creation_input_tokens=get("cache_creation_input_tokens"),
            cache_read_input_tokens=get("cache_read_input_tokens"),
        )

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        }


@dataclass(frozen=True)
class ModelPrice:
    """List prices of one model family, USD per million tokens."""

    model: str
    input: Decimal
    output: Decimal
    cache_write_5m: Decimal
    cache_read: Decimal
    cache_write_1h: Decimal | None = None
    batch_discount: Decimal = Decimal("0.5")

    def cost(self, usage: TokenUsage, *, batch: bool = False, cache_ttl: str = "5m") -> Decimal:
        """USD for `usage`; `batch` applies the Message Batches discount to every part."""
        write = self.cache_write_1h if cache_ttl == "1h" and self.cache_write_1h is not None else self.cache_write_5m
        total = (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_creation_input_tokens * write
            + usage.cache_read_input_tokens * self.cache_read
        ) / _MILLION
        if batch:
            total *= 1 - self.batch_discount
        return total


@dataclass(frozen=True)
class PriceTable:
    """Prices as read on `as_of` from `source`; models are matched by id prefix (dated ids included)."""

    as_of: date
    source: str
    prices: tuple[ModelPrice, ...] = field(default_factory=tuple)

    def for_model(self, model: str) -> ModelPrice:
        """The longest matching entry: `claude-haiku-4-5-20251001` finds `claude-haiku-4-5`."""
        matches = [p for p in self.prices if model == p.model or model.startswith(p.model + "-")]
        if not matches:
            raise KeyError(f"no price for model {model!r} in the table of {self.as_of} (add it to the price table)")
        return max(matches, key=lambda p: len(p.model))

    def cost(self, usage: TokenUsage, model: str, *, batch: bool = False) -> Decimal:
        return self.for_model(model).cost(usage, batch=batch)

    @classmethod
    def from_mapping(cls, data: Mapping) -> PriceTable:
        """`{"as_of": "YYYY-MM-DD", "source": ..., "models": {id: {input, output, cache_write_5m, cache_read,
        cache_write_1h?, batch_discount?}}}`, e.g. a JSON file kept beside the deployment config."""
        prices = []
        for model, p in data["models"].items():
            prices.append(
                ModelPrice(
                    model=model,
                    input=Decimal(str(p["input"])),
                    output=Decimal(str(p["output"])),
                    cache_write_5m=Decimal(str(p["cache_write_5m"])),
                    cache_read=Decimal(str(p["cache_read"])),
                    cache_write_1h=Decimal(str(p["cache_write_1h"])) if p.get("cache_write_1h") is not None else None,
                    batch_discount=Decimal(str(p.get("batch_discount", "0.5"))),
                )
            )
        return cls(as_of=date.fromisoformat(str(data["as_of"])), source=str(data["source"]), prices=tuple(prices))


# Anthropic list prices, standard (not long-context, not priority) tier. Cache writes with the
# default 5-minute TTL cost 1.25x base input, 1-hour writes 2x, cache reads 0.1x; the Message
# Batches API halves every part.
PRICE_TABLE = PriceTable(
    as_of=date(2026, 11, 27),
    source=(
        "Anthropic pricing page, https://platform.claude.com/docs/en/about-claude/pricing "
        "(model pricing table; batch processing: 50% of standard prices), read 2026-11-27"
    ),
    prices=(
        ModelPrice(
            model="claude-haiku-4-5",
            input=Decimal("1.00"),
            output=Decimal("5.00"),
            cache_write_5m=Decimal("1.25"),
            cache_write_1h=Decimal("2.00"),
            cache_read=Decimal("0.10"),
        ),
        ModelPrice(
            model="claude-sonnet-4-5",
            input=Decimal("3.00"),
            output=Decimal("15.00"),
            cache_write_5m=Decimal("3.75"),
            cache_write_1h=Decimal("6.00"),
            cache_read=Decimal("0.30"),
        ),
    ),
)


def call_cost(usage: TokenUsage, model: str, *, batch: bool = False, table: PriceTable = PRICE_TABLE) -> Decimal:
    """USD for one response's usage."""
    return table.cost(usage, model, batch=batch)


def total_cost(costs: Iterable[Decimal]) -> Decimal:
    """Sum of call costs (Decimal, so per-claim totals add up exactly)."""
    return sum(costs, Decimal(0))
