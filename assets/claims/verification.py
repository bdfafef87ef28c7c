"""Policy verification: does the claimed policy exist, cover this loss on this date, and is the sender its holder?

Pure functions over one claim and its policy row. Reasons never quote names or addresses:
they end up in the review queue's evidence and the audit log.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parseaddr
from functools import lru_cache
from typing import Any

from connectors.values import present

VERIFIED = "verified"
UNKNOWN_POLICY = "unknown_policy"
NOT_STARTED = "not_started"
LAPSED = "lapsed"
EXPIRED = "expired"
NOT_COVERED = "not_covered"
SENDER_MISMATCH = "sender_mismatch"
MISSING_POLICY_NUMBER = "missing_policy_number"
MISSING_INCIDENT_DATE = "missing_incident_date"

VERDICT_CODES: tuple[str, ...] = (
    VERIFIED,
    UNKNOWN_POLICY,
    NOT_STARTED,
    LAPSED,
    EXPIRED,
    NOT_COVERED,
    SENDER_MISMATCH,
    MISSING_POLICY_NUMBER,
    MISSING_INCIDENT_DATE,
)

# Letters NFKD does not decompose (Łukasz, Øberg, Straße, Cœur).
_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE"})


@dataclass(frozen=True)
class PolicyVerdict:
    """Whether a claim may proceed on its policy; `code` is one of `VERDICT_CODES`."""

    passed: bool
    code: str
    reason: str


def verify_policy(claim: Mapping[str, Any], policy: Mapping[str, Any] | None) -> PolicyVerdict:
    """Check, in order: a policy number, a known policy, an incident date inside the cover, the loss type, the sender.

    `claim` reads `policy_number`, `incident_date`, `loss_type`, `sender` (address), `sender_name`
    and `contact_email`; `policy` is the policy register's row (or None when the number is unknown).
    """
    number = _value(claim, "policy_number")
    if not number:
        return _fail(MISSING_POLICY_NUMBER, "the claim names no policy number")
    if policy is None or not _value(policy, "policy_number"):
        return _fail(UNKNOWN_POLICY, f"policy {number} is not in the policy register")
    incident = _as_date(_value(claim, "incident_date"))
    if incident is None:
        return _fail(MISSING_INCIDENT_DATE, "the claim states no incident date, so the cover cannot be checked")

    start = _as_date(_value(policy, "start_date"))
    end = _as_date(_value(policy, "end_date"))
    lapsed_on = _as_date(_value(policy, "lapsed_on"))
    if start is not None and incident < start:
        return _fail(NOT_STARTED, f"incident on {incident} is before the policy started on {start}")
    if lapsed_on is not None and lapsed_on <= incident:
        return _fail(LAPSED, f"the policy lapsed on {lapsed_on}, on or before the incident on {incident}")
    if lapsed_on is None and str(_value(policy, "status") or "").lower() == "lapsed":
        # No lapse date recorded: the register cannot show the policy was in force on the day.
        return _fail(LAPSED, "the policy is lapsed and the register holds no lapse date")
    if end is not None and incident > end:
        return _fail(EXPIRED, f"incident on {incident} is after the policy ended on {end}")

    loss_type = _value(claim, "loss_type")
    covered = {t.strip() for t in str(_value(policy, "covered_loss_types") or "").split(",") if t.strip()}
    if not loss_type:
        return _fail(NOT_COVERED, "the claim states no loss type, so the cover cannot be checked")
    if loss_type not in covered:
        return _fail(NOT_COVERED, f"the policy does not cover {loss_type} (covers {', '.join(sorted(covered)) or 'nothing'})")

    how = sender_is_plausible(claim, policy)
    if how is None:
        return _fail(SENDER_MISMATCH, "neither the sender nor the contact address matches the policy holder")
    return PolicyVerdict(True, VERIFIED, f"policy in force on {incident}, covers {loss_type}, {how}")


def sender_is_plausible(claim: Mapping[str, Any], policy: Mapping[str, Any]) -> str | None:
    """How the sender plausibly is the holder (a short phrase), or None when nothing ties them."""
    holder_email = _address(_value(policy, "holder_email"))
    sender_name, sender = _parseaddr(str(_value(claim, "sender") or ""))
    sender = _address(sender)
    contact = _address(_value(claim, "contact_email"))
    if holder_email and sender == holder_email:
        return "sent from the holder's address"
    if holder_email and contact == holder_email:
        # A broker forwarding the holder's mail writes from its own address but quotes the holder's.
        return "the contact address is the holder's"
    display = _value(claim, "sender_name") or sender_name
    holder_name = _value(policy, "holder_name")
    if holder_name and _name_matches(str(holder_name), str(display or ""), sender.partition("@")[0]):
        return "the holder's name appears in the sender"
    return None


@lru_cache(maxsize=1 << 16)
def _parseaddr(value: str) -> tuple[str, str]:
    """`email.utils.parseaddr`, remembered: a sender writes several claims, and parsing was 60% of verifying."""
    return parseaddr(value)


def _name_matches(holder_name: str, display_name: str, local_part: str) -> bool:
    """The family name as whole words of the display name, or inside the address's local part."""
    words = holder_name.split()
    if not words:
        return False
    first = _tokens(words[0])
    family = _tokens(" ".join(words[1:])) if len(words) > 1 else first
    # A very short family name ("Li", "Ba") is only convincing next to the first name.
    needed = family if len("".join(family)) >= 3 else family + first
    if not needed:
        return False
    shown = set(_tokens(display_name))
    if all(t in shown for t in needed):
        return True
    local = _letters(local_part)
    return bool(local) and all(t in local for t in needed)


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[^a-z]+", _fold(text)) if t]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _letters(text: str) -> str:
    return re.sub(r"[^a-z]", "", _fold(text))


def _address(value: Any) -> str:
    return str(value).strip().lower() if value else ""


def _fail(code: str, reason: str) -> PolicyVerdict:
    return PolicyVerdict(False, code, reason)


def _value(row: Mapping[str, Any], key: str) -> Any:
    """`row[key]`, with missing values (None, NaN, NaT, pd.NA, blank) as None; dicts and pandas rows."""
    return present(row.get(key)) if hasattr(row, "get") else None


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):  # includes pandas Timestamp
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
