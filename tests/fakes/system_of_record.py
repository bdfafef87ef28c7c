"""Fault injection into the claims system of record, through subclasses and a wrapping resource only."""

from __future__ import annotations

from pydantic import Field

from assets.resources import SystemOfRecordResource
from connectors.system_of_record import ClaimsSystem


class CrashingClaimsSystem(ClaimsSystem):
    """Crashes on claim `crash_after + 1` of a `record_decisions` call (its key in, its writes not)."""

    def __init__(self, url: str, crash_after: int):
        super().__init__(url)
        self.crash_after = crash_after


class UnkeyedClaimsSystem(ClaimsSystem):
    """Writes every decision blindly, without effect keys: what a retry would double without them."""

    keyed = False

    def __init__(self, url: str, crash_after: int | None = None):
        super().__init__(url)
        self.crash_after = crash_after


class CrashingSystemOfRecordResource(SystemOfRecordResource):
    """The system of record whose claims system crashes part-way through a batch (re-execution rehearsal)."""

    crash_after: int = Field(description="Claims written before the simulated crash.")

    def claims(self) -> ClaimsSystem:
        system = CrashingClaimsSystem(self._ready_url(), self.crash_after)
        system.ensure_schema()
        return system
