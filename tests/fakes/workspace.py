"""The smallest real state the workspace pages need: a system of record with held claims and users
of every role, and a warehouse with the held claims' e-mails (one hostile), fields, photos,
triage decisions, scores and drafts. Written through the real connectors, no demo run needed."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
from PIL import Image

from connectors.attachments import AttachmentStore
from connectors.identity import IdentityStore
from connectors.schema import (
    CLAIM_EMAILS,
    PARSED_CLAIMS,
    PHOTO_QUALITY,
    RISK_SCORES,
    STATUS_DRAFTS,
    TRIAGE_DECISIONS,
)
from connectors.system_of_record import ClaimsSystem
from connectors.warehouse import Warehouse

PASSWORD = "workspace password 1"
USERS = {  # username -> role
    "hana.handler": "handler", "rene.reviewer": "reviewer", "rita.risk": "risk_officer", "adam.admin": "admin",
}
HELD, FRAUD, PLAIN = "CLM-2026-100001", "CLM-2026-100002", "CLM-2026-100003"
REUSED_FROM = "CLM-2026-099999"
HOSTILE_HTML = (
    "<html><body><p>Hello, my car was hit.</p><script>document.title='pwned'</script>"
    "<img src=\"https://tracker.example/pixel.gif?u=42\" width=1 height=1>"
    "<p onclick=\"alert(1)\">Policy <b>POL-1234567</b></p><a href=\"javascript:alert(2)\">details</a>"
    "<iframe src=\"https://evil.example/\"></iframe></body></html>"
)


def _photo(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


def build_workspace(home: Path, *, claims: int = 3) -> dict:
    """Write the state under `home`; returns urls, paths and each user's API token.

    `claims` > 3 adds that many more plain held claims (for timing pages on demo-sized data).
    """
    home.mkdir(parents=True, exist_ok=True)
    sor = f"sqlite:///{home / 'system_of_record.db'}"
    now = datetime.now(UTC).replace(tzinfo=None)
    system = ClaimsSystem(sor)
    system.seed_roster([{"id": "H02", "name": "Julien Mercier", "skills": "fraud,theft", "capacity": 5}])
    extra = [f"CLM-2026-2{n:05d}" for n in range(max(0, claims - 3))]
    decisions = [
        {"claim_number": HELD, "queue": "human_review", "rule": "R1_low_extraction_confidence",
         "reason": "weakest extracted field confidence 0.42 is below 0.75",
         "inputs": {"min_confidence": 0.42, "min_extraction_confidence": 0.75}, "proposed_queue": "standard",
         "risk_score": 0.06865774840116501, "policy_verdict": "ok"},
        {"claim_number": FRAUD, "queue": "fraud_review", "rule": "R5_fraud_signal",
         "reason": "a photo was already used on another claim", "risk_score": 0.31,
         "inputs": {"photo_reused": True, "risk_score": 0.31, "fraud_threshold": 0.6}, "assigned_to": "H02",
         "skill": "fraud", "policy_verdict": "ok"},
        {"claim_number": PLAIN, "queue": "human_review", "rule": "R3_policy_not_verified",
         "reason": "policy verification failed: lapsed", "inputs": {"policy_verdict": "lapsed"},
         "proposed_queue": "standard", "policy_verdict": "lapsed"},
    ] + [
        {"claim_number": n, "queue": "human_review", "rule": "R4_no_risk_score", "reason": "no risk score",
         "inputs": {"risk_score": None}, "proposed_queue": "standard"} for n in extra
    ]
    system.record_decisions(decisions, step="triage", model_version="3")
    system.dispose()

    store = IdentityStore(sor)
    tokens = {}
    for username, role in USERS.items():
        store.add_user(username, username.split(".")[0].title() + " " + role.replace("_", " ").title(), [role],
                       PASSWORD)
        tokens[username] = store.create_token(username, "tests")
    store.dispose()

    attachments = AttachmentStore(home / "attachments")
    photo_a, photo_b = attachments.put(_photo(1)), attachments.put(_photo(2))
    inbox = home / "inbox"
    (inbox / "cur").mkdir(parents=True, exist_ok=True)
    (inbox / "cur" / "msg-held:2,S").write_text(
        "From: Jean Dupont <jean.dupont@example.fr>\nTo: claims@insurer.example\nSubject: Claim CLM-2026-100001\n"
        "MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n" + HOSTILE_HTML
    )
    warehouse = home / "warehouse.duckdb"
    Warehouse(warehouse).ensure_schema()
    fields = {"claim_number": 0.99, "policy_number": 0.42, "incident_date": 0.9, "loss_type": 0.8,
              "estimated_amount": 0.85, "currency": 0.9, "description": 0.9, "contact_email": 0.95}
    with duckdb.connect(str(warehouse)) as con:
        for number in [HELD, FRAUD, PLAIN, *extra]:
            con.execute(
                f"insert into {PARSED_CLAIMS} (claim_number, policy_number, incident_date, loss_type, "
                "estimated_amount, currency, description, contact_email, photos, photo_count, confidence, provenance,"
                " min_confidence, source_content_hash, received_at) values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [number, "POL-1234567", (now - timedelta(days=3)).date(), "auto_collision", 1234.56, "EUR",
                 "Rear-ended at a red light", "jean.dupont@example.fr",
                 json.dumps([photo_a] if number != FRAUD else [photo_b]), 1, json.dumps(fields),
                 json.dumps(dict.fromkeys(fields, "rules")), 0.42, f"hash-{number}", now - timedelta(hours=2)],
            )
            con.execute(
                f"insert into {TRIAGE_DECISIONS} (claim_number, model_version, queue, rule, reason, inputs, "
                "policy_verdict, policy_reason, risk_score, decided_at) values (?,?,?,?,?,?,?,?,?,?)",
                [number, "3", "human_review", "R1_low_extraction_confidence", "held",
                 json.dumps({"min_confidence": 0.42, "min_extraction_confidence": 0.75}), "ok",
                 "active at the incident date, covers auto_collision", 0.0687, now],
            )
            con.execute(f"insert into {RISK_SCORES} (claim_number, model_version, score, served_by, scored_at) "
                        "values (?,?,?,?,?)", [number, "3", 0.06865774840116501, "triton", now])
            con.execute(f"insert into {STATUS_DRAFTS} (claim_number, model_version, subject, body, payload, "
                        "provenance, drafted_at) values (?,?,?,?,?,?,?)",
                        [number, "3", f"Your claim {number}", "Dear customer, a colleague is checking your claim.",
                         json.dumps({"status": "in_review"}), "template", now])
        con.execute(f"insert into {CLAIM_EMAILS} (content_hash, message_id, inbox_key, received_at, sender, "
                    "sender_name, subject, body_text, html_only) values (?,?,?,?,?,?,?,?,?)",
                    [f"hash-{HELD}", "<m1@example.fr>", "msg-held", now - timedelta(hours=2),
                     "jean.dupont@example.fr", "Jean Dupont", f"Claim {HELD}", "Hello, my car was hit.", True])
        con.execute(f"insert into {PHOTO_QUALITY} (claim_number, sha256, score, verdict, reasons, reused_in) "
                    "values (?,?,?,?,?,?), (?,?,?,?,?,?)",
                    [HELD, photo_a, 0.81, "usable", "[]", "[]",
                     FRAUD, photo_b, 0.35, "blurred", json.dumps(["sharpness 12 below 40"]),
                     json.dumps([REUSED_FROM])])
    return {"home": home, "sor_url": sor, "warehouse": warehouse, "inbox": inbox,
            "attachments": home / "attachments", "tokens": tokens, "photos": (photo_a, photo_b)}


def web_config(world: dict, **overrides):
    """A `WebConfig` over the world (a fixed session key; no OIDC)."""
    from orchestration.web.app import WebConfig

    values = {"sor_url": world["sor_url"], "secret_key": "test-session-key-" + "x" * 32,
              "warehouse_path": world["warehouse"], "inbox_dir": world["inbox"],
              "attachments_dir": world["attachments"], "reports_dir": world["home"] / "reports"}
    values.update(overrides)
    return WebConfig(**values)
