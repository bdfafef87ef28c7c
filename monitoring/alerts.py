"""Alerts to people: a webhook message and a "consider retraining" review item, once per day and kind.

The webhook payload carries no personal data (counts, feature names, a report path).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from connectors.system_of_record import review_items_table

ALERT_RULE = "M1_live_model"
ALERT_QUEUE = "model_review"


@dataclass(frozen=True)
class Alert:
    day: str
    kind: str
    summary: str
    evidence: dict

    @property
    def key(self) -> str:
        return f"alert:{self.kind}:{self.day}"


class WebhookError(RuntimeError):
    """The alert receiver did not take the alert."""


def post_webhook(url: str, alert: Alert, *, timeout: float = 5.0) -> int:
    """POST the alert as JSON; returns the HTTP status or raises `WebhookError`."""
    body = json.dumps({"source": "claimflow", "kind": alert.kind, "day": alert.day, "summary": alert.summary,
                       "evidence": alert.evidence}, default=str).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - URL is operator configuration
            return resp.status
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise WebhookError(f"alert webhook failed: {getattr(err, 'reason', err)}") from None


def open_retraining_item(sor_url: str, alert: Alert, now: datetime | None = None) -> str:
    """A review item "consider retraining" with the evidence, for a risk officer; idempotent on the alert key."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    subject = f"MON-{alert.day}"
    engine = sa.create_engine(sor_url)
    try:
        review_items_table.create(engine, checkfirst=True)
        with engine.begin() as con:
            found = con.execute(sa.select(review_items_table.c.id).where(
                review_items_table.c.effect_key == alert.key)).first()
            if found is None:
                con.execute(review_items_table.insert().values(
                    claim_number=subject, status="open", suggested_queue=ALERT_QUEUE, suggested_rule=ALERT_RULE,
                    suggested_reason=f"consider retraining: {alert.summary}"[:2000],
                    evidence_json=json.dumps(alert.evidence, default=str), created_at=now, updated_at=now,
                    effect_key=alert.key))
    finally:
        engine.dispose()
    return subject
