"""`claimflow models`: versions and their gates, approval, promotion and rollback of the risk model.

Every command acts as the owner of the personal API token in `CLAIMFLOW_API_TOKEN`. Approvers
are the active users with the `risk_officer` role in the identity store (not a list in the
caller's environment), and nobody approves a version they trained (four eyes).
"""

from __future__ import annotations

import json
import os

from orchestration.commands import CliError, Parser


def registry_uri() -> str:
    """The registry to govern: the MLflow server, else (embedded default) its SQLite store directly."""
    from assets.project import mlflow_dir
    from models.tracking import is_healthy
    from orchestration.settings import settings

    uri = settings().mlflow_tracking_uri
    if is_healthy(uri, timeout=0.5):
        return uri
    # Governance only touches the registry's tables, which the local store holds directly.
    store = mlflow_dir() / "mlflow.db"
    if os.environ.get("MLFLOW_TRACKING_URI") or not store.exists():
        raise CliError(f"MLflow is not reachable at {uri} (start it with `make ui`)")
    return f"sqlite:///{store}"


def governance_policy(store=None):
    """Who may approve: the active risk officers of the identity store."""
    from connectors.identity import RISK_OFFICER
    from models.registry import GovernancePolicy
    from orchestration.commands.users import identity_store

    store = store or identity_store()
    return GovernancePolicy(approvers=tuple(u.username for u in store.list_users() if u.active
                                            and u.has_role(RISK_OFFICER)))


def open_registry(store=None, uri: str | None = None):
    """The model registry with the audit log of the system of record and the identity store's approvers."""
    from connectors.audit import AuditLog
    from models.registry import ModelRegistry
    from orchestration.commands.review import sor_url

    return ModelRegistry(uri or registry_uri(), AuditLog(sor_url()), governance_policy(store))


def _governed(fn):
    """Run a registry action; a refused rule is bad input (exit 2, one line)."""
    from models.registry import RegistryError

    try:
        return fn()
    except RegistryError as err:
        raise CliError(str(err)) from None


def _reason(text: str) -> str:
    reason = (text or "").strip()
    if not reason:
        raise CliError("a reason is required")
    return reason


def cmd_models_list(args) -> int:
    from orchestration.commands.users import authenticated, identity_store

    store = identity_store()
    authenticated("models.read", store)
    registry = open_registry(store)
    rows = registry.list_versions()
    if not rows:
        print(f"no versions of {registry.name} yet (run the demo or the model_training job)")
        return 0
    history = registry.champion_history()
    if args.json:
        from dataclasses import asdict

        print(json.dumps({"versions": [asdict(r) for r in rows], "history": history}, indent=2))
        return 0
    gates = registry.policy.required_gates
    print(f"{'version':<8}{'aliases':<28}{'trained by':<14}" + "".join(f"{g:<11}" for g in gates) + "approval")
    for r in rows:
        approval = (
            f"{r.approval.get('status')} by {r.approval.get('by')} ({r.approval.get('reason')})" if r.approval else "-"
        )
        print(
            f"{r.version:<8}{','.join(r.aliases) or '-':<28}{(r.trained_by or '-')[:13]:<14}"
            + "".join(f"{r.gates[g]:<11}" for g in gates)
            + approval
        )
    if history:
        print("\nchampion moves:")
        for h in history:
            print(f"  {h['at']}  {h['kind']:<9} {h['from']} -> {h['to']}  by {h['by']}: {h['reason']}")
    return 0


def cmd_models_decide(args) -> int:
    from orchestration.commands.users import authenticated, identity_store

    store = identity_store()
    user = authenticated("models.approve", store)
    reason = _reason(args.reason)
    registry = open_registry(store)
    fn = registry.approve if args.models_command == "approve" else registry.reject
    _governed(lambda: fn(args.version, user.username, reason))
    print(f"version {args.version} {args.models_command}d by {user.username}")
    return 0


def cmd_models_promote(args) -> int:
    from orchestration.commands.users import authenticated, identity_store

    store = identity_store()
    user = authenticated("models.promote", store)
    reason = _reason(args.reason)
    registry = open_registry(store)
    move = _governed(lambda: registry.promote(args.version, user.username, reason))
    print(f"champion moved from {move['from']} to {move['to']} (audit entry {move['audit_seq']})")
    return 0


def cmd_models_rollback(args) -> int:
    from orchestration.commands.users import authenticated, identity_store

    store = identity_store()
    user = authenticated("models.promote", store)
    reason = _reason(args.reason)
    registry = open_registry(store)
    move = _governed(lambda: registry.rollback(user.username, reason))
    print(f"champion rolled back from {move['from']} to {move['to']} (audit entry {move['audit_seq']})")
    return 0


def register(sub) -> None:
    """Add `models list|approve|reject|promote|rollback` to the top-level sub-parsers."""
    models = sub.add_parser("models", help="the risk model registry: gates, approvals, promotion").add_subparsers(
        dest="models_command", required=True, parser_class=Parser
    )
    ml = models.add_parser("list", help="versions, aliases, gate results, approvals, champion moves")
    ml.add_argument("--json", action="store_true")
    ml.set_defaults(func=cmd_models_list)
    for verb in ("approve", "reject"):
        m = models.add_parser(verb, help=f"{verb} a version as yourself (risk officers; never your own model)")
        m.add_argument("--version", type=int, required=True)
        m.add_argument("--reason", required=True)
        m.set_defaults(func=cmd_models_decide)
    mp = models.add_parser("promote", help="make a version champion: every gate passed and an approval stands")
    mp.add_argument("--version", type=int, required=True)
    mp.add_argument("--reason", required=True)
    mp.set_defaults(func=cmd_models_promote)
    mr = models.add_parser("rollback", help="give champion back to the previous champion")
    mr.add_argument("--reason", required=True)
    mr.set_defaults(func=cmd_models_rollback)
