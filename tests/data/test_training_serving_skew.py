"""Training/serving skew: the live path (mail -> extraction -> photo scoring) and the training path
(the claims system's own records) must give the same model inputs for the same claims.

Claims of the sample claims system are rendered to mail, read back the way intake reads them
(`read_message_file`, `extract_fields`, `assess_photo`) and compared, claim by claim, with the
claims system's values the training set is built from. Findings this check pinned down (see
README, "Training/serving skew"):

* per claim the inputs agree: loss type, amount, photo count and the mail's incident date match
  the claims system;
* photo quality is a real skew: measured from the pixels it has the claims system's mean and
  spread and correlates per claim, but not its shape (bounded below, documented);
* report delay differs for claims reported after the inbox's `now` (the generator clamps their
  mail to arrive before `now`): a rendering artefact, bounded below;
* the rest of what the demo's gate saw between the training holdout and the live window is the
  claims process itself, not the path: the holdout covers other months (storms 7.2 % of its claims
  against 2.2 % in a November window, theft 4.8 % against 7.5 %, amounts 12 % lower on the same
  seed), policies are older by the time live claims arrive (tenure), and 10.5 % of the window's
  claims are reported after `now` and clamped (shorter delays).
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def both_paths(tmp_path_factory) -> pd.DataFrame:
    from assets.claims.photos import PhotoError, assess_photo
    from connectors.mail import read_message_file
    from connectors.samples.inbox import claims_for_inbox, generate_inbox
    from connectors.samples.policies import build_policy_table
    from models.extraction import extract_fields

    policies = build_policy_table()
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    claims = claims_for_inbox(policies, count=100, seed=4242, now=now)  # a seed the demo and benches do not use
    out = tmp_path_factory.mktemp("skew")
    truth = generate_inbox(100, 4242, out, policies, now=now, claims=claims)
    system = claims.set_index("claim_number")
    rows = []
    for rec in truth:
        number = rec["expected"]["claim_number"]
        if rec["kind"] != "new" or number not in system.index:
            continue
        c = system.loc[number]
        msg = read_message_file(out / rec["file"])
        f = extract_fields(subject=msg.subject, text=msg.text, sender=msg.sender_address, received_at=msg.date,
                           photos=[a.sha256 for a in msg.attachments if a.kind == "image" and a.sha256])
        scores = []
        for a in msg.attachments:
            if a.kind == "image" and a.data:
                try:
                    scores.append(assess_photo(a.data).score)
                except PhotoError:
                    pass
        rows.append({
            "stated_date": rec["expected"]["incident_date"] is not None,
            "system_loss": c["loss_type"], "live_loss": f.loss_type,
            "system_amount": round(float(c["estimated_amount"]), 2), "live_currency": f.currency,
            "live_amount": float(f.estimated_amount) if f.estimated_amount is not None else np.nan,
            "system_incident": pd.Timestamp(c["incident_date"]).date(), "live_incident": f.incident_date,
            "system_delay": int(c["report_delay_days"]),
            "live_delay": (msg.date.date() - pd.Timestamp(c["incident_date"]).date()).days,
            "system_photos": int(c["photo_count"]), "live_photos": len(f.photos),
            "system_quality": c["photo_quality"], "live_quality": float(np.mean(scores)) if scores else np.nan,
        })
    frame = pd.DataFrame(rows)
    assert len(frame) >= 60, "too few new-claim mails to judge skew"
    return frame


def _agree(frame: pd.DataFrame, a: str, b: str) -> float:
    return float((frame[a] == frame[b]).mean())


def test_loss_type_photo_count_and_incident_date_agree_claim_by_claim(both_paths):
    assert _agree(both_paths, "system_loss", "live_loss") >= 0.97
    assert _agree(both_paths, "system_photos", "live_photos") >= 0.98
    stated = both_paths[both_paths["stated_date"]]
    assert _agree(stated, "system_incident", "live_incident") >= 0.95


def test_amounts_in_euros_agree_claim_by_claim(both_paths):
    eur = both_paths[both_paths["live_currency"] == "EUR"]
    assert len(eur) >= 40
    assert float((eur["system_amount"] == eur["live_amount"]).mean()) >= 0.97


def test_report_delay_agrees_except_for_mail_clamped_before_now(both_paths):
    same = both_paths["system_delay"] == both_paths["live_delay"]
    assert same.mean() >= 0.85
    # clamping only ever makes the mail earlier, never later
    assert (both_paths.loc[~same, "live_delay"] < both_paths.loc[~same, "system_delay"]).all()


def test_photo_quality_measured_from_pixels_follows_the_claims_systems_score_within_the_known_skew(both_paths):
    """Known skew, bounded here so it cannot grow silently: the claims system draws a smooth score
    (beta), while the scorer measures pixels: clean photos land in 0.7-0.9 and degraded ones near 0.
    Means and spreads agree and the scores correlate per claim, but the gate's Wasserstein test sees
    the shapes differ (0.46 of a standard deviation, threshold 0.1). Fixing it means drawing the
    claims system's photo quality from the scorer's own distribution on the photo library."""
    from monitoring.drift import ReferenceProfile, detect_drift

    q = both_paths.dropna(subset=["system_quality", "live_quality"])
    assert len(q) >= 40
    assert q[["system_quality", "live_quality"]].corr().iloc[0, 1] >= 0.4
    assert abs(q["system_quality"].mean() - q["live_quality"].mean()) <= 0.05
    assert abs(q["system_quality"].std() - q["live_quality"].std()) <= 0.05
    profile = ReferenceProfile.fit(pd.DataFrame({"photo_quality": q["system_quality"]}), ["photo_quality"], [])
    column = detect_drift(profile, pd.DataFrame({"photo_quality": q["live_quality"]})).columns[0]
    assert column.statistic <= 0.6, f"photo-quality skew grew: {column.statistic:.3f} (known: 0.46)"
