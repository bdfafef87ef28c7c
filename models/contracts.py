"""Typed contracts between the orchestration and the models: what goes in, what comes out.

Every field a model produces carries a confidence in [0, 1] and the provenance that
produced it (`rules`, `claude`, ...), so a reviewer can tell later who said what.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

LossType = Literal[
    "auto_collision",
    "auto_glass",
    "theft",
    "fire",
    "water_damage",
    "storm",
    "liability",
    "other",
]
LOSS_TYPES: tuple[str, ...] = get_args(LossType)

# Fields that carry a confidence and a provenance entry.
EXTRACTED_FIELDS: tuple[str, ...] = (
    "claim_number",
    "policy_number",
    "incident_date",
    "loss_type",
    "estimated_amount",
    "currency",
    "description",
    "contact_email",
    "contact_phone",
    "photos",
)


class ClaimFields(BaseModel):
    """The fields of one claim e-mail, as the CLI prints them and `parsed_claims` stores them."""

    model_config = ConfigDict(extra="forbid")

    claim_number: str | None = Field(None, description="Canonical `CLM-YYYY-NNNNNN`.")
    policy_number: str | None = Field(None, description="Canonical `POL-NNNNNNN`.")
    incident_date: date | None = None
    loss_type: LossType | None = None
    estimated_amount: Decimal | None = Field(None, ge=0, decimal_places=2)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$", description="ISO 4217.")
    description: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = Field(None, description="E.164, e.g. +33612345678.")
    photos: list[str] = Field(default_factory=list, description="sha256 of each photo.")
    confidence: dict[str, float] = Field(default_factory=dict)
    provenance: dict[str, str] = Field(default_factory=dict)

    @property
    def min_confidence(self) -> float:
        """The weakest confidence among the fields that were found (1.0 when none were)."""
        found = [self.confidence.get(f, 0.0) for f in EXTRACTED_FIELDS if self.has(f)]
        return min(found, default=1.0)

    def has(self, name: str) -> bool:
        value = getattr(self, name)
        return bool(value) if isinstance(value, list) else value is not None
