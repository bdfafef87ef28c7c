"""Model governance over the MLflow registry: gates, named approval, promotion, rollback.

Open-source MLflow has no approval flow and no history of what was in production
(mlflow#2863, #6636, #2169). Claimflow keeps both: gate verdicts and approvals live as
model-version tags (visible in the MLflow UI), and every approval and every move of the
`champion` alias is an entry in the hash-chained audit log.

The alias `champion` is the single answer to "which model is in production".
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from connectors.audit import AuditLog
from connectors.tracing import TracedClient
from models.features import MODEL_NAME

CHAMPION = "champion"
CHALLENGER = "challenger"
PREVIOUS = "previous_champion"
REQUIRED_GATES: tuple[str, ...] = ("accuracy", "behaviour", "drift", "cost")
PASSED, FAILED, PENDING = "passed", "failed", "pending"
APPROVED, REJECTED = "approved", "rejected"
RETIRED_TAG = "retired"
TRAINING_KEY_TAG = "training_key"
HISTORY_TAG = "champion_history"
HISTORY_KEEP = 50


class RegistryError(Exception):
    """A governance rule refused the request; the message says which."""


@dataclass(frozen=True)
class GovernancePolicy:
    """Who may approve and which gates must pass."""

    approvers: tuple[str, ...]
    required_gates: tuple[str, ...] = REQUIRED_GATES

    @classmethod
    def from_env(cls, default_approvers: tuple[str, ...] = ()) -> GovernancePolicy:
        """`CLAIMFLOW_APPROVERS`: comma-separated names allowed to approve models."""
        raw = os.environ.get("CLAIMFLOW_APPROVERS")
        names = tuple(n.strip() for n in raw.split(",") if n.strip()) if raw else default_approvers
        return cls(approvers=names)


@dataclass
class VersionSummary:
    version: int
    aliases: list[str]
    run_id: str | None
    created: str
    trained_by: str | None
    gates: dict[str, str]
    approval: dict[str, str] = field(default_factory=dict)
    gate_details: dict[str, dict] = field(default_factory=dict)  # each gate's evidence, with `reason` in words


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _detail(raw: str | None) -> dict:
    """A gate's stored evidence (JSON, possibly cut to what a tag holds) as a dict; {} when unreadable."""
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {"reason": raw[:300]} if raw else {}
    return value if isinstance(value, dict) else {}


def _mlflow_error() -> type[Exception]:
    """MLflow's exception class, imported only once an exception is being matched."""
    from mlflow.exceptions import MlflowException

    return MlflowException


def code_version(repo_dir) -> str:
    """The code a model is trained with: the git commit plus a digest of uncommitted changes ("unknown" outside git)."""
    def git(*args: str) -> bytes | None:
        try:
            out = subprocess.run(["git", *args], cwd=repo_dir, capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return "unknown"
    diff = git("diff", "HEAD", "--", "models", "assets", "dbt", "monitoring") or b""
    return commit.decode().strip() + (f"+{hashlib.sha256(diff).hexdigest()[:12]}" if diff else "")


def training_key(dataset_digest: str, code: str, params: dict) -> str:
    """What makes two training runs the same model: the data (digest), the code and the hyper-parameters."""
    body = json.dumps({"data": dataset_digest, "code": code, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


class ModelRegistry:
    """Gates, approvals and promotion for one registered model."""

    def __init__(self, tracking_uri: str, audit: AuditLog, policy: GovernancePolicy, name: str = MODEL_NAME):
        self.tracking_uri = tracking_uri
        self.audit = audit
        self.policy = policy
        self.name = name

    @cached_property
    def client(self):
        """The MLflow client, built on first use: importing mlflow costs seconds a listing does not need."""
        from mlflow import MlflowClient

        return TracedClient(MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri), "mlflow")

    # ------------------------------------------------------------------ reading

    def version(self, version: int | str):
        try:
            return self.client.get_model_version(self.name, str(version))
        except _mlflow_error():
            raise RegistryError(f"model {self.name} has no version {version}") from None

    def alias_version(self, alias: str) -> int | None:
        try:
            return int(self.client.get_model_version_by_alias(self.name, alias).version)
        except _mlflow_error():
            return None

    def gates(self, version: int | str) -> dict[str, str]:
        tags = self.version(version).tags
        return {g: tags.get(f"gate.{g}", PENDING) for g in self.policy.required_gates}

    def list_versions(self) -> list[VersionSummary]:
        """Every version with aliases, trainer, gate verdicts and approval, oldest first.

        Read straight from the server's REST API or the SQL store when the URI is one of those
        (a listing in well under a second), else through the MLflow client.
        """
        scheme = urllib.parse.urlparse(self.tracking_uri).scheme
        if scheme in ("http", "https"):
            versions, aliases = self._read_rest()
        elif scheme.startswith(("sqlite", "postgresql", "mysql", "mssql")):
            versions, aliases = self._read_sql()
        else:
            versions, aliases = self._read_client()
        by_version: dict[int, list[str]] = {}
        for alias, v in aliases.items():
            by_version.setdefault(int(v), []).append(alias)
        out = []
        for v in sorted(versions, key=lambda x: int(x["version"])):
            tags, number = v["tags"], int(v["version"])
            out.append(
                VersionSummary(
                    version=number,
                    aliases=sorted(by_version.get(number, [])),
                    run_id=v["run_id"],
                    created=datetime.fromtimestamp(int(v["created_ms"]) / 1000, UTC).isoformat(timespec="seconds"),
                    trained_by=tags.get("trained_by"),
                    gates={g: tags.get(f"gate.{g}", PENDING) for g in self.policy.required_gates},
                    approval={k.removeprefix("approval."): x for k, x in tags.items() if k.startswith("approval.")},
                    gate_details={g: _detail(tags.get(f"gate.{g}.detail")) for g in self.policy.required_gates},
                )
            )
        return out

    def _read_client(self) -> tuple[list[dict], dict[str, str]]:
        try:
            found = self.client.search_model_versions(f"name = '{self.name}'")
            # Search results leave aliases out; the registered model holds the alias -> version map.
            aliases = dict(self.client.get_registered_model(self.name).aliases)
        except _mlflow_error():
            return [], {}
        return [{"version": mv.version, "run_id": mv.run_id, "created_ms": mv.creation_timestamp,
                 "tags": dict(mv.tags)} for mv in found], aliases

    def _read_rest(self) -> tuple[list[dict], dict[str, str]]:
        def get(path: str, **params) -> dict | None:
            url = f"{self.tracking_uri.rstrip('/')}/api/2.0/mlflow/{path}?{urllib.parse.urlencode(params)}"
            try:
                with urllib.request.urlopen(url, timeout=30) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as err:
                if err.code == 404:  # no such registered model yet
                    return None
                raise RegistryError(f"the MLflow registry answered {err.code} for {path}") from None

        model = get("registered-models/get", name=self.name)
        if model is None:
            return [], {}
        aliases = {a["alias"]: a["version"] for a in model["registered_model"].get("aliases", [])}
        versions, token = [], None
        while True:
            params = {"filter": f"name = '{self.name}'", "max_results": 1000}
            page = get("model-versions/search", **params, **({"page_token": token} if token else {}))
            for mv in (page or {}).get("model_versions", []):
                versions.append({"version": mv["version"], "run_id": mv.get("run_id"),
                                 "created_ms": mv.get("creation_timestamp", 0),
                                 "tags": {t["key"]: t.get("value", "") for t in mv.get("tags", [])}})
            token = (page or {}).get("next_page_token")
            if not token:
                return versions, aliases

    def _read_sql(self) -> tuple[list[dict], dict[str, str]]:
        import sqlalchemy as sa

        engine = sa.create_engine(self.tracking_uri)
        try:
            with engine.connect() as con:
                rows = con.execute(sa.text(
                    "select version, run_id, creation_time from model_versions "
                    "where name = :n and current_stage != 'Deleted_Internal'"), {"n": self.name}).all()
                tags: dict[int, dict[str, str]] = {}
                for version, key, value in con.execute(sa.text(
                        "select version, key, value from model_version_tags where name = :n"), {"n": self.name}):
                    tags.setdefault(int(version), {})[key] = value
                aliases = dict(con.execute(sa.text(
                    "select alias, version from registered_model_aliases where name = :n"), {"n": self.name}).all())
        except sa.exc.OperationalError:  # no registry tables yet
            return [], {}
        finally:
            engine.dispose()
        return [{"version": v, "run_id": r, "created_ms": c, "tags": tags.get(int(v), {})} for v, r, c in rows], aliases

    def find_trained(self, key: str) -> int | None:
        """The registered version trained from the same data, code and parameters (`training_key`), if any."""
        try:
            versions = self.client.search_model_versions(f"name = '{self.name}'")
        except _mlflow_error():
            return None
        same = [int(v.version) for v in versions if v.tags.get(TRAINING_KEY_TAG) == key]
        return min(same) if same else None

    def mark_trained(self, version: int | str, key: str) -> None:
        """Tag `version` with its training key so an identical retraining finds it instead of registering anew."""
        self.client.set_model_version_tag(self.name, str(version), TRAINING_KEY_TAG, key)

    def champion_history(self) -> list[dict]:
        return [e.payload | {"at": e.at, "by": e.actor} for e in self.audit.entries(action="model.champion_moved")]

    # ------------------------------------------------------------------ gates

    def record_gate(self, version: int | str, gate: str, passed: bool, detail: dict) -> None:
        """Store a gate verdict on the version (and its evidence, truncated to what a tag holds)."""
        self.version(version)
        self.client.set_model_version_tag(self.name, str(version), f"gate.{gate}", PASSED if passed else FAILED)
        body = json.dumps(detail, sort_keys=True, default=str)[:4900]
        self.client.set_model_version_tag(self.name, str(version), f"gate.{gate}.detail", body)
        # What the MLflow UI shows a person: the verdict in words, beside the evidence as JSON.
        words = f"{PASSED if passed else FAILED}: {detail.get('reason') or 'no reason recorded'}"
        self.client.set_model_version_tag(self.name, str(version), f"gate.{gate}.verdict", words[:4900])

    # ------------------------------------------------------------------ approval

    def approve(self, version: int | str, approver: str, reason: str) -> None:
        self._decide(version, approver, reason, APPROVED)

    def reject(self, version: int | str, approver: str, reason: str) -> None:
        self._decide(version, approver, reason, REJECTED)

    def _decide(self, version: int | str, approver: str, reason: str, decision: str) -> None:
        approver, reason = approver.strip(), reason.strip()
        if not reason:
            raise RegistryError("a reason is required")
        if approver not in self.policy.approvers:
            allowed = ", ".join(self.policy.approvers) or "nobody (set CLAIMFLOW_APPROVERS)"
            raise RegistryError(f"{approver!r} is not an approver; allowed: {allowed}")
        mv = self.version(version)
        if mv.tags.get("trained_by") == approver:
            raise RegistryError(f"{approver!r} trained version {version} and cannot also approve it (four eyes)")
        v = str(version)
        for key, value in (("status", decision), ("by", approver), ("reason", reason), ("at", _now())):
            self.client.set_model_version_tag(self.name, v, f"approval.{key}", value)
        self.audit.append(
            actor=approver,
            action=f"model.{decision}",
            subject=f"{self.name}/{v}",
            payload={"model": self.name, "version": int(v), "reason": reason, "gates": self.gates(v)},
        )

    # ------------------------------------------------------------------ promotion

    def promotion_blockers(self, version: int | str) -> list[str]:
        """Why `version` may not become champion (empty when it may)."""
        mv = self.version(version)
        blockers = [
            f"gate {g} is {state}" for g, state in self.gates(version).items() if state != PASSED
        ]
        status = mv.tags.get("approval.status")
        if status != APPROVED:
            blockers.append("no approval stands" if status is None else f"the version was {status}")
        if CHAMPION in mv.aliases:
            blockers.append(f"version {version} is already the champion")
        return blockers

    def promote(self, version: int | str, actor: str, reason: str) -> dict:
        """Move `champion` to `version` if every gate passed and an approval stands."""
        blockers = self.promotion_blockers(version)
        if blockers:
            raise RegistryError(f"cannot promote version {version}: " + "; ".join(blockers))
        return self._move_champion(int(version), actor, reason, kind="promote")

    def rollback_blockers(self, version: int | str) -> list[str]:
        """Why `version` may not be rolled back to: only an approved version, never rejected or retired."""
        tags = self.version(version).tags
        blockers = []
        status = tags.get("approval.status")
        if status != APPROVED:
            blockers.append("it has no standing approval" if status is None else f"it was {status}")
        if tags.get(RETIRED_TAG):
            blockers.append(f"it was retired ({tags[RETIRED_TAG]})")
        return blockers

    def rollback(self, actor: str, reason: str) -> dict:
        """Give `champion` back to the latest earlier champion that is approved and neither rejected nor retired.

        Regression: rolling back twice used to swap the two last champions, re-instating a version
        rejected in between.
        """
        current = self.alias_version(CHAMPION)
        earlier = [self.alias_version(PREVIOUS)] + [m.get("from") for m in reversed(self.champion_history())]
        refused = []
        for candidate in dict.fromkeys(v for v in earlier if v is not None and v != current):
            blockers = self.rollback_blockers(candidate)
            if not blockers:
                return self._move_champion(int(candidate), actor, reason, kind="rollback")
            refused.append(f"version {candidate}: {'; '.join(blockers)}")
        if not refused:
            raise RegistryError("there is no previous champion to roll back to")
        raise RegistryError("no earlier champion may be rolled back to (" + ", ".join(refused) + ")")

    def retire(self, version: int | str, actor: str, reason: str) -> None:
        """Take `version` out of the rollback path for good (a known defect); the champion cannot be retired."""
        if not reason.strip():
            raise RegistryError("a reason is required")
        if self.alias_version(CHAMPION) == int(version):
            raise RegistryError(f"version {version} is the champion: promote or roll back first")
        self.version(version)
        self.client.set_model_version_tag(self.name, str(version), RETIRED_TAG, f"{_now()} by {actor}: {reason}")
        self.audit.append(actor=actor, action="model.retired", subject=f"{self.name}/{version}",
                          payload={"model": self.name, "version": int(version), "reason": reason})

    def _move_champion(self, to_version: int, actor: str, reason: str, kind: str) -> dict:
        from_version = self.alias_version(CHAMPION)
        self.client.set_registered_model_alias(self.name, CHAMPION, str(to_version))
        if from_version is not None:
            self.client.set_registered_model_alias(self.name, PREVIOUS, str(from_version))
        elif kind == "rollback":
            self.client.delete_registered_model_alias(self.name, PREVIOUS)
        if self.alias_version(CHALLENGER) == to_version:
            self.client.delete_registered_model_alias(self.name, CHALLENGER)
        move = {"kind": kind, "model": self.name, "from": from_version, "to": to_version, "reason": reason}
        entry = self.audit.append(actor=actor, action="model.champion_moved", subject=self.name, payload=move)
        self.client.set_model_version_tag(self.name, str(to_version), "promoted.at", entry.at)
        history = self.champion_history()[-HISTORY_KEEP:]
        self.client.set_registered_model_tag(self.name, HISTORY_TAG, json.dumps(history)[:4900])
        return move | {"at": entry.at, "by": actor, "audit_seq": entry.seq}

    def pending_promotions(self) -> list[int]:
        """Approved versions with every gate passed that never held `champion`: what the sensor promotes."""
        out = []
        for s in self.list_versions():
            mv = self.version(s.version)
            if "promoted.at" in mv.tags:
                continue
            if not self.promotion_blockers(s.version):
                out.append(s.version)
        return out
