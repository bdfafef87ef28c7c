"""Everything a reviewer needs to decide one held claim, gathered from where it lives.

The review item and the claim come from the system of record; the e-mail, the extracted
fields with confidence and provenance, the photos' quality verdicts and reuse, the triage
decision with its policy verdict and inputs, the risk score and the draft to the customer
come from the warehouse. The CLI's `review show` and the web workspace read this one dossier.
The warehouse may be busy (a run holds its lock): the dossier then says so instead of failing.
"""

from __future__ import annotations

import copy
import email
import email.errors
import email.policy
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assets.claims.review import CORRECTABLE_FIELDS as FIELDS
from assets.claims.review import ReviewQueue
from connectors.vault import open_text


@dataclass
class Dossier:
    """One held claim, ready to show: every part may be empty when its source has nothing yet."""

    item: dict
    claim: dict | None
    handler: dict | None = None
    fields: list[dict] = field(default_factory=list)  # name, value, confidence, provenance, unsure
    email: dict | None = None  # subject, sender, received_at, text, html (raw, untrusted)
    photos: list[dict] = field(default_factory=list)  # sha256, verdict, score, reasons, reused_in
    decision: dict | None = None  # the triage row: rule, reason, inputs, policy verdict and reason
    risk: dict | None = None  # score, model_version, served_by
    contributions: list[dict] = field(default_factory=list)  # top feature effects on the score (models/explain)
    draft: dict | None = None  # subject, body, payload, provenance
    corrections: list[dict] = field(default_factory=list)  # reviewers' corrections, from the audit log
    warehouse_note: str | None = None

    @property
    def unsure_field(self) -> str | None:
        """The least confident extracted field (what an R1 hold is about)."""
        unsure = [f for f in self.fields if f["unsure"]]
        return unsure[0]["name"] if unsure else None

    @property
    def reused_from(self) -> list[str]:
        """Claims a photo of this claim was already used on."""
        return sorted({c for p in self.photos for c in p["reused_in"]})


def build_dossier(
    queue: ReviewQueue,
    claim_number: str,
    *,
    warehouse_path: Path | None,
    inbox_dir: Path | None = None,
    model_repository: Path | None = None,
    min_confidence: float = 0.75,
) -> Dossier:
    """The dossier of `claim_number` (raises `ReviewError` when it has no review item)."""
    shown = queue.show(claim_number)
    claim = shown.pop("claim")
    handler = None
    if claim and claim.get("assigned_to"):
        handler = next((h for h in queue.system.roster() if h["id"] == claim["assigned_to"]), None)
    dossier = Dossier(item=shown, claim=claim, handler=handler, corrections=queue.corrections(claim_number))
    if warehouse_path is None or not Path(warehouse_path).exists():
        dossier.warehouse_note = "no warehouse yet: run the intake"
        return dossier
    import duckdb

    try:
        parts = _warehouse_parts(claim_number, Path(warehouse_path), inbox_dir, min_confidence, model_repository)
        for name, value in parts.items():
            setattr(dossier, name, copy.deepcopy(value))
    except duckdb.Error as err:  # duckdb's lock or a table not built yet: show what the SoR knows
        if "lock" in str(err).lower():
            dossier.warehouse_note = "the warehouse is busy (a run is writing); reload in a moment"
        else:
            dossier.warehouse_note = f"warehouse unavailable: {type(err).__name__}"
    return dossier


_CACHE: OrderedDict[tuple, dict] = OrderedDict()
_CACHE_SIZE = 512


def _warehouse_parts(number: str, path: Path, inbox_dir: Path | None, floor: float,
                     model_repository: Path | None = None) -> dict:
    """The warehouse's part of a dossier, memoised per version of the warehouse file.

    Opening DuckDB costs more than the queries, and a reader may not keep it open (it would
    block the runs that write), so a claim seen twice between two writes is read once.
    """
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size, number, str(inbox_dir), floor, str(model_repository))
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    scratch = Dossier(item={}, claim=None)
    _from_warehouse(scratch, number, path, inbox_dir, floor)
    if model_repository is not None and scratch.risk and scratch.risk.get("model_version"):
        scratch.contributions = _contributions(number, path, Path(model_repository), str(scratch.risk["model_version"]))
    parts = {name: getattr(scratch, name)
             for name in ("fields", "email", "photos", "decision", "risk", "draft", "contributions")}
    _CACHE[key] = parts
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return parts


def _from_warehouse(dossier: Dossier, number: str, path: Path, inbox_dir: Path | None, floor: float) -> None:
    import duckdb

    from connectors.schema import (
        CLAIM_EMAILS,
        PARSED_CLAIMS,
        PHOTO_QUALITY,
        RISK_SCORES,
        STATUS_DRAFTS,
        TRIAGE_DECISIONS,
    )

    with duckdb.connect(str(path), read_only=True, config={"threads": 1}) as con:
        def one(sql: str, *params) -> dict | None:
            cur = con.execute(sql, list(params))
            row = cur.fetchone()
            return dict(zip([d[0] for d in cur.description], row)) if row else None

        def many(sql: str, *params) -> list[dict]:
            cur = con.execute(sql, list(params))
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

        parsed = one(f"select * from {PARSED_CLAIMS} where claim_number = ?", number)
        decision = one(f"select * from {TRIAGE_DECISIONS} where claim_number = ? order by decided_at desc limit 1",
                       number)
        version = decision["model_version"] if decision else None
        risk = one(f"select score, model_version, served_by, scored_at from {RISK_SCORES} "
                   "where claim_number = ? order by scored_at desc limit 1", number)
        draft = one(f"select subject, body, payload, provenance from {STATUS_DRAFTS} "
                    "where claim_number = ? order by drafted_at desc limit 1", number)
        photos = many(f"select sha256, score, verdict, reasons, reused_in from {PHOTO_QUALITY} "
                      "where claim_number = ? order by sha256", number)
        mail = None
        if parsed and parsed.get("source_content_hash"):
            mail = one(f"select subject, sender, sender_name, received_at, body_text, html_only, inbox_key "
                       f"from {CLAIM_EMAILS} where content_hash = ?", parsed["source_content_hash"])
    if parsed:
        confidence = _json(parsed.get("confidence"), {})
        provenance = _json(parsed.get("provenance"), {})
        weakest = min((confidence.get(f, 1.0) for f in FIELDS if f in confidence), default=1.0)
        for name in FIELDS:
            conf = confidence.get(name)
            dossier.fields.append({
                "name": name, "value": parsed.get(name), "confidence": conf, "provenance": provenance.get(name),
                "unsure": conf is not None and conf < floor and conf == weakest,
            })
    if decision:
        dossier.decision = {**decision, "inputs": _json(decision.get("inputs"), {})}
    if risk:
        dossier.risk = risk
    elif decision and decision.get("risk_score") is not None:
        dossier.risk = {"score": decision["risk_score"], "model_version": version, "served_by": None}
    if draft:
        dossier.draft = {**draft, "payload": _json(draft.get("payload"), {})}
    dossier.photos = [
        {**p, "reasons": _json(p.get("reasons"), []), "reused_in": _json(p.get("reused_in"), [])} for p in photos
    ]
    if mail:
        dossier.email = {
            "subject": mail["subject"], "sender": mail["sender"], "sender_name": mail["sender_name"],
            "received_at": mail["received_at"], "text": open_text(mail["body_text"]) or "",
            "html": _original_html(inbox_dir, mail["inbox_key"]) if inbox_dir else None,
        }


def _contributions(number: str, path: Path, repository: Path, version: str) -> list[dict]:
    """The claim's top feature effects under the model version that scored it (its ONNX in the serving
    repository); [] when that model or the claim's features are not at hand."""
    import duckdb

    from assets.dbt.project import dbt_relation
    from models.explain import contributions, typical_values
    from models.features import FEATURES
    from models.onnx_export import onnx_predict

    onnx_path = repository / "claims_risk" / version / "model.onnx"
    if not onnx_path.is_file():
        return []
    try:
        relation = dbt_relation("claim_features")
    except (FileNotFoundError, KeyError, ValueError):
        return []
    columns = ", ".join(FEATURES)
    with duckdb.connect(str(path), read_only=True, config={"threads": 1}) as con:
        claim = con.execute(f"select {columns} from {relation} where claim_number = ?", [number]).df()
        stat = path.stat()
        key = ("typical", str(path), stat.st_mtime_ns)
        if key not in _CACHE:  # the reference claims change only when the warehouse does
            _CACHE[key] = typical_values(con.execute(f"select {columns} from {relation} using sample 2000 rows").df())
    if claim.empty:
        return []
    onnx_bytes = onnx_path.read_bytes()
    return contributions(lambda frame: onnx_predict(onnx_bytes, frame), claim.head(1), _CACHE[key])


def _original_html(inbox_dir: Path, key: str | None) -> str | None:
    """The HTML part of the original message in the Maildir (untrusted: the caller sanitises it)."""
    if not key:
        return None
    for folder in ("cur", "new"):
        for path in sorted((Path(inbox_dir) / folder).glob(f"{key}*")):
            try:
                msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                part = msg.get_body(preferencelist=("html",))
                return part.get_content() if part is not None else None
            except (ValueError, LookupError, OSError, email.errors.MessageError):  # encrypted or unreadable:
                # the extracted text is shown instead
                return None
    return None


def _json(value: Any, default: Any) -> Any:
    if value is None or value == "":
        return default
    if isinstance(value, (dict, list)):
        return value
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return default
