"""`claimflow users`: add, list, disable people and give them personal API tokens (admins only).

Every command acts as the owner of the token in `CLAIMFLOW_API_TOKEN`. The one exception is
the bootstrap: while the system of record holds no user at all, `users add NAME --role admin`
creates the first admin without a token (then `users token NAME` prints that admin's token).
Passwords are never arguments (they would land in shell history and `ps`): they are read from
a prompt, or from stdin with `--password-stdin`.
"""

from __future__ import annotations

import getpass
import sys

from orchestration.commands import CliError, Parser
from orchestration.commands.review import sor_url


def identity_store():
    """The identity store in the system of record the other commands use."""
    from connectors.identity import IdentityStore

    return IdentityStore(sor_url())


def authenticated(permission: str, store=None):
    """The CLI's user (from `CLAIMFLOW_API_TOKEN`) holding `permission`; exit 2 with one line otherwise."""
    from connectors.identity import AuthError, user_from_environment

    store = store or identity_store()
    try:
        return user_from_environment(store).require(permission)
    except AuthError as err:
        raise CliError(str(err)) from None


def _audit(actor: str, action: str, subject: str, payload: dict) -> None:
    from connectors.audit import AuditLog

    AuditLog(sor_url()).append(actor=actor, action=action, subject=subject, payload=payload)


def _read_password(args) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            raise CliError("the two passwords differ")
    else:
        raise CliError("no terminal to ask for the password: pipe it with --password-stdin")
    return password


def cmd_users_add(args) -> int:
    from connectors.identity import ADMIN, AuthError

    store = identity_store()
    if store.count(active_only=False) == 0:
        if ADMIN not in args.role:
            raise CliError("the first user must be an admin (--role admin): no one could manage users otherwise")
        actor = "bootstrap"
    else:
        actor = authenticated("users.manage", store).username
    try:
        user = store.add_user(args.username, args.display_name or args.username, args.role, _read_password(args))
    except AuthError as err:
        raise CliError(str(err)) from None
    _audit(actor, "user.add", user.username, {"roles": list(user.roles)})
    print(f"added {user.username} ({', '.join(user.roles)})")
    return 0


def cmd_users_list(args) -> int:
    store = identity_store()
    authenticated("users.manage", store)
    users = store.list_users()
    if not users:
        print("no users yet (bootstrap: claimflow users add NAME --role admin)")
        return 0
    print(f"{'username':<22}{'name':<28}{'roles':<32}state")
    for u in users:
        print(f"{u.username:<22}{u.display_name[:27]:<28}{','.join(u.roles):<32}{'active' if u.active else 'disabled'}")
    return 0


def cmd_users_disable(args) -> int:
    from connectors.identity import ADMIN, AuthError

    store = identity_store()
    actor = authenticated("users.manage", store)
    target = store.get(args.username)
    if target is None:
        raise CliError(f"no user {args.username}")
    if target.has_role(ADMIN) and target.active and store.count(role=ADMIN) == 1:
        raise CliError(f"{args.username} is the last active admin; add another admin first")
    try:
        store.disable(args.username)
    except AuthError as err:
        raise CliError(str(err)) from None
    _audit(actor.username, "user.disable", args.username, {})
    print(f"disabled {args.username} and revoked their tokens")
    return 0


def cmd_users_token(args) -> int:
    from connectors.identity import AuthError

    store = identity_store()
    users = store.list_users()
    bootstrap = len(users) == 1 and users[0].username == args.username and not store.tokens(args.username)
    if bootstrap:  # the freshly bootstrapped admin's first token
        actor = args.username
    else:
        actor = authenticated("users.manage", store).username
    try:
        token = store.create_token(args.username, args.label)
    except AuthError as err:
        raise CliError(str(err)) from None
    _audit(actor, "user.token", args.username, {"label": args.label.strip()})
    print(token)
    print(f"(the API token of {args.username} for {args.label.strip()!r}: shown once; "
          f"export CLAIMFLOW_API_TOKEN=... to act as {args.username})", file=sys.stderr)
    return 0


def register(sub) -> None:
    """Add `users add|list|disable|token` to the top-level sub-parsers."""
    from connectors.roles import (
        ROLES,  # not connectors.identity: argon2 and sqlalchemy cost seconds at start-up
    )

    users = sub.add_parser("users", help="people, roles and personal API tokens (admins only)")
    cmds = users.add_subparsers(dest="users_command", required=True, parser_class=Parser)

    a = cmds.add_parser("add", help="add a user; the password is prompted (or read with --password-stdin)")
    a.add_argument("username")
    a.add_argument("--role", action="append", choices=ROLES, required=True, help="repeat for several roles")
    a.add_argument("--display-name")
    a.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    a.set_defaults(func=cmd_users_add)

    ls = cmds.add_parser("list", help="every user with roles and state")
    ls.set_defaults(func=cmd_users_list)

    d = cmds.add_parser("disable", help="refuse a user's sign-ins and revoke their tokens")
    d.add_argument("username")
    d.set_defaults(func=cmd_users_disable)

    t = cmds.add_parser("token", help="print a new personal API token for a user (shown once)")
    t.add_argument("username")
    t.add_argument("--label", default="command line")
    t.set_defaults(func=cmd_users_token)


# The demo's people, one per role; their passwords are generated once and kept beside the demo's data.
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("demo.handler", "Demo Handler", "handler"),
    ("demo.reviewer", "Demo Reviewer", "reviewer"),
    ("demo.risk", "Demo Risk Officer", "risk_officer"),
    ("demo.admin", "Demo Admin", "admin"),
)
DEMO_RISK_OFFICER = "demo.risk"


def ensure_demo_users() -> list[tuple[str, str, str]]:
    """Create the demo users if missing; (username, role, password) each, passwords kept in a 0600 file."""
    import json
    import os
    import secrets

    from assets.project import claimflow_home

    path = claimflow_home() / "demo_logins.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    store = identity_store()
    out = []
    for username, name, role in DEMO_USERS:
        if store.get(username) is None:
            saved[username] = secrets.token_urlsafe(12)
            store.add_user(username, name, [role], saved[username])
            _audit("demo", "user.add", username, {"roles": [role], "demo": True})
        out.append((username, role, saved.get(username, "(set before; see demo_logins.json)")))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(saved, fh, indent=1)
    store.dispose()
    return out
