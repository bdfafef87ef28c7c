"""Assignment of triaged claims to claims handlers: least loaded qualified handler with room, ties by id.

Deterministic: the same decisions and roster give the same assignments, whatever the input order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from assets.claims.routing import (
    FAST_TRACK,
    FRAUD_REVIEW,
    HUMAN_REVIEW,
    SPECIALIST,
    STANDARD,
    Decision,
)

GENERAL = "general"
FRAUD = "fraud"
# Scarce capacity goes to fraud first, then specialist work, then standard claims.
_QUEUE_PRIORITY = {FRAUD_REVIEW: 0, SPECIALIST: 1, STANDARD: 2}


@dataclass(frozen=True)
class Specialist:
    """A claims handler: skills are loss types plus `general` and `fraud`; `current_load` counts open claims."""

    id: str
    name: str
    skills: tuple[str, ...]
    capacity: int
    current_load: int = 0


@dataclass(frozen=True)
class Assignment:
    """Who takes a claim, or why nobody does (the claim then stays in its queue)."""

    claim_number: str
    queue: str
    skill: str | None
    specialist_id: str | None
    specialist_name: str | None
    reason: str

    @property
    def assigned(self) -> bool:
        return self.specialist_id is not None


def required_skill(decision: Decision) -> str | None:
    """The skill a handler needs for this decision's queue, or None when no handler takes it."""
    if decision.queue == FRAUD_REVIEW:
        return FRAUD
    if decision.queue == STANDARD:
        return GENERAL
    if decision.queue == SPECIALIST:
        return decision.skill or GENERAL
    return None


def assign(decisions: Iterable[Decision], roster: Iterable[Specialist | Mapping]) -> list[Assignment]:
    """One `Assignment` per decision, in the decisions' order.

    Claims are served fraud first, then specialist, then standard, riskiest first, then by claim
    number; each goes to the qualified handler with the lowest load that still has room (ties by
    id), and that handler's load counts the claim for the rest of the batch.
    """
    decisions = list(decisions)
    handlers = sorted((as_specialist(s) for s in roster), key=lambda s: s.id)
    load = {s.id: s.current_load for s in handlers}
    out: dict[int, Assignment] = {}

    def order(i: int):
        d = decisions[i]
        risk = d.inputs.get("risk_score") if isinstance(d.inputs, Mapping) else None
        return (_QUEUE_PRIORITY.get(d.queue, 9), -(risk if isinstance(risk, (int, float)) else 0.0), str(d.claim_number))

    for i in sorted(range(len(decisions)), key=order):
        d = decisions[i]
        number = str(d.claim_number)
        skill = required_skill(d)
        if skill is None:
            why = {
                FAST_TRACK: "fast-track claims are settled without a handler",
                HUMAN_REVIEW: "held for a reviewer before any handler takes it",
            }.get(d.queue, f"queue {d.queue} is not assigned to handlers")
            out[i] = Assignment(number, d.queue, None, None, None, why)
            continue
        qualified = [s for s in handlers if skill in s.skills]
        if not qualified:
            out[i] = Assignment(number, d.queue, skill, None, None, f"no handler has the skill {skill}")
            continue
        free = [s for s in qualified if load[s.id] < s.capacity]
        if not free:
            out[i] = Assignment(
                number, d.queue, skill, None, None, f"every handler with the skill {skill} is at capacity"
            )
            continue
        pick = min(free, key=lambda s: (load[s.id], s.id))
        out[i] = Assignment(
            number, d.queue, skill, pick.id, pick.name,
            f"least loaded handler with {skill} ({load[pick.id]}/{pick.capacity} before this claim)",
        )
        load[pick.id] += 1
    return [out[i] for i in range(len(decisions))]


def as_specialist(item: Specialist | Mapping) -> Specialist:
    """A roster entry from a `Specialist` or a row of the `specialists` table (skills as a comma list)."""
    if isinstance(item, Specialist):
        return item
    skills = item.get("skills") or ()
    if isinstance(skills, str):
        skills = [s for s in skills.split(",")]
    return Specialist(
        id=str(item.get("id") or item.get("specialist_id")),
        name=str(item.get("name") or ""),
        skills=tuple(s.strip() for s in skills if s and s.strip()),
        capacity=int(item.get("capacity") or 0),
        current_load=int(item.get("current_load") or 0),
    )


def loads_after(roster: Sequence[Specialist | Mapping], assignments: Iterable[Assignment]) -> dict[str, int]:
    """Each handler's load once `assignments` are made."""
    load = {s.id: s.current_load for s in map(as_specialist, roster)}
    for a in assignments:
        if a.assigned:
            load[a.specialist_id] += 1
    return load


def default_roster() -> list[Specialist]:
    """The embedded default's claims department: twelve handlers; every skill is held by at least two."""
    return [
        Specialist("H01", "Camille Lefèvre", ("fire", "storm", "water_damage", "general"), 14),
        Specialist("H02", "Julien Mercier", ("theft", "fraud", "general"), 12),
        Specialist("H03", "Nadia Benali", ("liability", "auto_collision", "general"), 16),
        Specialist("H04", "Thomas Garnier", ("auto_collision", "auto_glass", "general"), 20),
        Specialist("H05", "Élodie Fontaine", ("fraud", "theft", "fire"), 10),
        Specialist("H06", "Mathieu Rousseau", ("liability", "other", "general"), 15),
        Specialist("H07", "Sophie Chevalier", ("water_damage", "storm", "auto_glass", "general"), 18),
        Specialist("H08", "Karim Haddad", ("fraud", "liability"), 10),
        Specialist("H09", "Aurélie Marchand", ("auto_collision", "other", "general"), 20),
        Specialist("H10", "Nicolas Bertrand", ("fire", "theft", "general"), 12),
        Specialist("H11", "Léa Dubois", ("auto_glass", "storm", "general"), 22),
        Specialist("H12", "François Lemaire", ("liability", "fire", "water_damage", "other"), 14),
    ]
