"""The review queue: people claim, release and decide the claims the rules held back.

An item carries the machine's suggestion (queue, rule, reason) and its evidence (the rule's
inputs). A reviewer claims it, then approves the suggestion or overrides it with a reason;
the decision updates the claim and yields a label for training. A claim nobody decides goes
back to the queue after `claim_timeout` minutes. Every action appends to the audit log.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import sqlalchemy as sa

from assets.claims.routing import FRAUD_REVIEW, HUMAN_REVIEW, SPECIALIST, WORK_QUEUES
from connectors.audit import AuditLog
from connectors.system_of_record import (
    OPEN_REVIEW_STATUSES,
    REVIEW_STATUSES,
    ClaimsSystem,
    claims_table,
    review_items_table,
    specialists_table,
    utc_naive,
)

ACTIONS: tuple[str, ...] = ("approve", "override")
# Extracted fields a reviewer may correct (personal contact fields included: the holder's own).
CORRECTABLE_FIELDS: tuple[str, ...] = (
    "claim_number", "policy_number", "incident_date", "loss_type", "estimated_amount", "currency",
    "description", "contact_email", "contact_phone",
)
HIGH_RISK_QUEUES: tuple[str, ...] = (SPECIALIST, FRAUD_REVIEW)
DEFAULT_CLAIM_TIMEOUT_MINUTES = 30.0
SYSTEM_ACTOR = "system"


class ReviewError(ValueError):
    """A review action that is not allowed (unknown claim, not yours, missing reason...): one line."""


class ReviewQueue:
    """Review items of a `ClaimsSystem`, with their audit trail in the same database."""

    def __init__(
        self,
        system: ClaimsSystem,
        *,
        audit: AuditLog | None = None,
        claim_timeout: float = DEFAULT_CLAIM_TIMEOUT_MINUTES,
    ):
        if claim_timeout <= 0:
            raise ValueError("claim_timeout must be a positive number of minutes")
        self.system = system
        self.system.ensure_schema()
        self.audit = audit or AuditLog(system.url)
        self.claim_timeout = timedelta(minutes=claim_timeout)

    # -------------------------------------------------------------- reading

    def expire_claims(self, now: datetime | None = None) -> list[str]:
        """Return to the queue every item claimed longer than `claim_timeout` ago; the claim numbers."""
        now = utc_naive(now)
        r = review_items_table.c
        cutoff = now - self.claim_timeout
        expired = []
        with self.system.engine.connect() as con:
            stale = con.execute(
                sa.select(review_items_table).where(r.status == "claimed", r.claimed_at <= cutoff).order_by(r.id)
            ).all()
        for item in stale:
            with self.system.engine.begin() as con:
                # Conditional on the claim we saw, so a concurrent decide or re-claim wins cleanly.
                moved = con.execute(
                    review_items_table.update()
                    .where(r.id == item.id, r.status == "claimed", r.claimed_by == item.claimed_by,
                           r.claimed_at == item.claimed_at)
                    .values(status="waiting", claimed_by=None, claimed_at=None, updated_at=now)
                ).rowcount
            if moved:
                expired.append(item.claim_number)
                self.audit.append(
                    actor=SYSTEM_ACTOR, action="review.expire", subject=item.claim_number,
                    payload={"item_id": item.id, "claimed_by": item.claimed_by, "claimed_at": item.claimed_at,
                             "timeout_minutes": self.claim_timeout.total_seconds() / 60},
                )
        return expired

    def list_items(self, status: str = "waiting", now: datetime | None = None) -> list[dict]:
        """Items with `status` (waiting, claimed, decided, superseded or all), oldest first."""
        if status != "all" and status not in REVIEW_STATUSES:
            raise ReviewError(f"unknown status {status!r} (expected one of {', '.join(REVIEW_STATUSES)}, all)")
        now = utc_naive(now)
        self.expire_claims(now)
        r = review_items_table.c
        query = sa.select(review_items_table).order_by(r.created_at, r.id)
        if status != "all":
            query = query.where(r.status == status)
        with self.system.engine.connect() as con:
            rows = con.execute(query).all()
        return [self._item(row, now) for row in rows]

    def show(self, claim_number: str, now: datetime | None = None) -> dict:
        """The claim's review item (the open one, else the latest) with its evidence and the claim's row."""
        now = utc_naive(now)
        item = self._current(claim_number)
        return {**self._item(item, now), "claim": self.system.claim(claim_number)}

    # -------------------------------------------------------------- acting

    def claim(self, claim_number: str, reviewer: str, now: datetime | None = None) -> dict:
        """Take an item waiting (or whose previous claim expired) for `reviewer`."""
        reviewer = _who(reviewer)
        now = utc_naive(now)
        self.expire_claims(now)
        item = self._current(claim_number)
        if item.status == "claimed":
            who = "you" if item.claimed_by == reviewer else item.claimed_by
            raise ReviewError(f"{claim_number} is already claimed by {who}")
        if item.status != "waiting":
            raise ReviewError(f"{claim_number} is not waiting for review (it is {item.status})")
        r = review_items_table.c
        with self.system.engine.begin() as con:
            taken = con.execute(
                review_items_table.update().where(r.id == item.id, r.status == "waiting")
                .values(status="claimed", claimed_by=reviewer, claimed_at=now, updated_at=now)
            ).rowcount
        if not taken:
            raise ReviewError(f"{claim_number} was claimed by someone else a moment ago")
        self.audit.append(
            actor=reviewer, action="review.claim", subject=claim_number,
            payload={"item_id": item.id, "suggestion": _suggestion(item), "evidence": _evidence(item),
                     "expires_at": now + self.claim_timeout},
        )
        return self._item(self._by_id(item.id), now)

    def release(self, claim_number: str, reviewer: str, now: datetime | None = None) -> dict:
        """Give a claimed item back to the queue; only its claimer can."""
        reviewer = _who(reviewer)
        now = utc_naive(now)
        item = self._current(claim_number)
        self._check_claimer(item, claim_number, reviewer)
        r = review_items_table.c
        with self.system.engine.begin() as con:
            moved = con.execute(
                review_items_table.update().where(r.id == item.id, r.status == "claimed", r.claimed_by == reviewer)
                .values(status="waiting", claimed_by=None, claimed_at=None, updated_at=now)
            ).rowcount
        if not moved:
            raise ReviewError(f"{claim_number} is no longer claimed by {reviewer}")
        self.audit.append(actor=reviewer, action="review.release", subject=claim_number, payload={"item_id": item.id})
        return self._item(self._by_id(item.id), now)

    def decide(
        self,
        claim_number: str,
        reviewer: str,
        action: str,
        queue: str | None = None,
        reason: str = "",
        now: datetime | None = None,
    ) -> dict:
        """Approve the suggestion or override it with `queue`, always with a `reason`; returns the training label.

        Approving a human_review item accepts the queue the rules proposed behind the hold.
        The claim moves to the final queue with status `reviewed`, which later machine writes keep.
        """
        reviewer = _who(reviewer)
        now = utc_naive(now)
        reason = (reason or "").strip()
        if action not in ACTIONS:
            raise ReviewError(f"unknown action {action!r} (expected approve or override)")
        if not reason:  # an approval is a decision too: the audit trail says why, always
            raise ReviewError(f"an {action} needs a reason")
        item = self._current(claim_number)
        self._check_claimer(item, claim_number, reviewer)
        if action == "override":
            if not queue:
                raise ReviewError("an override needs the queue the claim goes to")
            if queue not in WORK_QUEUES:
                raise ReviewError(f"unknown queue {queue!r} (expected one of {', '.join(WORK_QUEUES)})")
            final = queue
        else:
            if queue and queue != _approvable(item):
                raise ReviewError(f"approve takes the suggested queue; use override to send it to {queue}")
            final = _approvable(item)
            if final is None:
                raise ReviewError(f"{claim_number} has no proposed queue to approve: override with a queue")
        r, c = review_items_table.c, claims_table.c
        with self.system.engine.begin() as con:
            done = con.execute(
                review_items_table.update().where(r.id == item.id, r.status == "claimed", r.claimed_by == reviewer)
                .values(status="decided", decided_by=reviewer, decided_at=now, decision=action, final_queue=final,
                        decision_reason=reason, updated_at=now)
            ).rowcount
            if not done:
                raise ReviewError(f"{claim_number} is no longer claimed by {reviewer}")
            current = con.execute(sa.select(claims_table).where(c.claim_number == claim_number)).first()
            assigned = current.assigned_to if current is not None else None
            if assigned and current.queue != final:
                # The claim leaves the handler's queue, so it leaves the handler's load too.
                s = specialists_table.c
                con.execute(
                    specialists_table.update().where(s.specialist_id == assigned, s.current_load > 0)
                    .values(current_load=s.current_load - 1, updated_at=now)
                )
                assigned = None
            con.execute(
                claims_table.update().where(c.claim_number == claim_number)
                .values(queue=final, status="reviewed", reviewed_by=reviewer, assigned_to=assigned,
                        rule=f"reviewer_{action}", reason=reason, updated_at=now)
            )
        label = {"claim_number": claim_number, "high_risk": final in HIGH_RISK_QUEUES, "reviewer": reviewer,
                 "decided_at": now, "reason": reason}
        self.audit.append(
            actor=reviewer, action="review.decide", subject=claim_number,
            payload={"item_id": item.id, "decision": action, "final_queue": final, "reason": reason,
                     "high_risk": label["high_risk"], "suggestion": _suggestion(item), "evidence": _evidence(item)},
        )
        return label

    def correct_field(
        self, claim_number: str, reviewer: str, field: str, value: str, reason: str, now: datetime | None = None
    ) -> dict:
        """Record a reviewer's correction of one extracted field (claimed items only, with a reason).

        The correction is an audit entry beside the extraction it corrects (the extractor's
        value stays in the warehouse): the dossier shows it and it is a label for extraction.
        """
        reviewer = _who(reviewer)
        reason, value = (reason or "").strip(), (value or "").strip()
        if field not in CORRECTABLE_FIELDS:
            raise ReviewError(f"unknown field {field!r} (expected one of {', '.join(CORRECTABLE_FIELDS)})")
        if not value:
            raise ReviewError("a correction needs the new value")
        if not reason:
            raise ReviewError("a correction needs a reason")
        item = self._current(claim_number)
        self._check_claimer(item, claim_number, reviewer)
        entry = self.audit.append(
            actor=reviewer, action="review.correct_field", subject=claim_number,
            payload={"item_id": item.id, "field": field, "value": value, "reason": reason, "at": utc_naive(now)},
        )
        return {"claim_number": claim_number, "field": field, "value": value, "reason": reason, "by": reviewer,
                "audit_seq": entry.seq}

    def corrections(self, claim_number: str) -> list[dict]:
        """Reviewers' field corrections of a claim, oldest first."""
        return [
            {**e.payload, "by": e.actor, "audit_seq": e.seq}
            for e in self.audit.entries(action="review.correct_field", subject=claim_number)
        ]

    def labels_since(self, since: datetime | None = None) -> list[dict]:
        """Training labels from reviewer decisions made at or after `since` (all when None), oldest first."""
        r = review_items_table.c
        query = sa.select(review_items_table).where(r.status == "decided").order_by(r.decided_at, r.id)
        if since is not None:
            query = query.where(r.decided_at >= utc_naive(since))
        with self.system.engine.connect() as con:
            rows = con.execute(query).all()
        return [
            {"claim_number": x.claim_number, "high_risk": x.final_queue in HIGH_RISK_QUEUES, "reviewer": x.decided_by,
             "decided_at": x.decided_at, "reason": x.decision_reason}
            for x in rows
        ]

    # -------------------------------------------------------------- helpers

    def _current(self, claim_number: str):
        r = review_items_table.c
        with self.system.engine.connect() as con:
            rows = con.execute(
                sa.select(review_items_table).where(r.claim_number == claim_number).order_by(r.id.desc())
            ).all()
        if not rows:
            raise ReviewError(f"no review item for {claim_number}")
        return next((x for x in rows if x.status in OPEN_REVIEW_STATUSES), rows[0])

    def _by_id(self, item_id: int):
        with self.system.engine.connect() as con:
            return con.execute(sa.select(review_items_table).where(review_items_table.c.id == item_id)).one()

    def _check_claimer(self, item, claim_number: str, reviewer: str) -> None:
        if item.status != "claimed":
            raise ReviewError(f"{claim_number} is not claimed (it is {item.status}): claim it first")
        if item.claimed_by != reviewer:
            raise ReviewError(f"{claim_number} is claimed by {item.claimed_by}, not {reviewer}")

    def _item(self, row, now: datetime) -> dict:
        expires = row.claimed_at + self.claim_timeout if row.status == "claimed" and row.claimed_at else None
        return {
            "claim_number": row.claim_number,
            "status": row.status,
            "suggested_queue": row.suggested_queue,
            "rule": row.suggested_rule,
            "reason": row.suggested_reason,
            "proposed_queue": row.proposed_queue,
            "evidence": _evidence(row),
            "created_at": row.created_at,
            "age_minutes": round((now - row.created_at).total_seconds() / 60, 1),
            "claimed_by": row.claimed_by,
            "claimed_at": row.claimed_at,
            "claim_expires_at": expires,
            "decided_by": row.decided_by,
            "decided_at": row.decided_at,
            "decision": row.decision,
            "final_queue": row.final_queue,
            "decision_reason": row.decision_reason,
        }


def _approvable(item) -> str | None:
    """What approving means: the proposed work queue behind a human_review hold, else the suggested queue."""
    return item.proposed_queue if item.suggested_queue == HUMAN_REVIEW else item.suggested_queue


def _suggestion(item) -> dict:
    return {"queue": item.suggested_queue, "rule": item.suggested_rule, "reason": item.suggested_reason,
            "proposed_queue": item.proposed_queue}


def _evidence(item) -> dict:
    return json.loads(item.evidence_json or "{}")


def _who(reviewer: str) -> str:
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise ReviewError("a reviewer name is required")
    return reviewer
