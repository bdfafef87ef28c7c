"""What the intake flow does with one read mail: the one rule the CLI and the assets share.

`decide_disposition` is pure: the same `MailReading` (and the same reply link, if any) always
gets the same answer, so `claimflow intake parse` says exactly what `parsed_claims` and
`quarantined_emails` will hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.mail_reading import MailReading

NEW_CLAIM, FOLLOW_UP, FIRST_NOTICE, QUARANTINE = "new_claim", "follow_up", "first_notice", "quarantine"
DISPOSITIONS = (NEW_CLAIM, FOLLOW_UP, FIRST_NOTICE, QUARANTINE)


@dataclass(frozen=True)
class Disposition:
    """`kind` is one of `DISPOSITIONS`; `reason` (and a short `detail`) only for quarantine."""

    kind: str
    reason: str | None = None
    detail: str | None = None
    claim_number: str | None = None


def decide_disposition(reading: MailReading, *, linked_claim: str | None = None) -> Disposition:
    """new_claim / follow_up / first_notice / quarantine for one mail.

    - not a claim (newsletter, auto-reply, delivery failure) -> quarantine `not_a_claim`;
    - a claim number: a reply (or a mail whose reply headers link a known claim) follows up,
      anything else opens that claim;
    - no claim number but reply headers that link a known claim -> follow-up of that claim;
    - no claim number, a policy number and a loss (type or date) -> first notice of loss;
    - otherwise -> quarantine `missing_claim_number`.
    """
    if reading.not_a_claim:
        return Disposition(QUARANTINE, "not_a_claim", reading.not_a_claim)
    f = reading.fields
    if f.claim_number:
        kind = FOLLOW_UP if (reading.is_reply or linked_claim == f.claim_number) else NEW_CLAIM
        return Disposition(kind, claim_number=f.claim_number)
    if linked_claim:
        return Disposition(FOLLOW_UP, claim_number=linked_claim)
    if f.policy_number and (f.loss_type or f.incident_date):
        return Disposition(FIRST_NOTICE)
    return Disposition(QUARANTINE, "missing_claim_number", "no claim number, and no policy number with a loss")
