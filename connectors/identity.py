"""People: users with roles, argon2 password hashes and personal API tokens, in the system of record.

Identities come from authentication, never from a typed name: the web workspace signs people
in with a password (or the insurer's OIDC provider) and the CLI acts as the owner of the
personal API token in `CLAIMFLOW_API_TOKEN`. Only hashes are stored: argon2id for passwords,
sha256 for tokens (a token is 256 random bits, so a slow hash adds nothing but latency).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from connectors.roles import ADMIN, HANDLER, REVIEWER, RISK_OFFICER, ROLES

# What each permission needs; one table, read by the CLI and the web workspace alike.
PERMISSIONS: dict[str, frozenset[str]] = {
    "review.read": frozenset({HANDLER, REVIEWER, RISK_OFFICER, ADMIN}),
    "review.decide": frozenset({HANDLER, REVIEWER}),
    "models.read": frozenset({RISK_OFFICER, ADMIN, REVIEWER}),
    "models.approve": frozenset({RISK_OFFICER}),
    "models.promote": frozenset({RISK_OFFICER, ADMIN}),
    "monitoring.read": frozenset({RISK_OFFICER, ADMIN}),
    "audit.read": frozenset({RISK_OFFICER, REVIEWER, ADMIN}),
    "users.manage": frozenset({ADMIN}),
}
PERMISSION_TEXT: dict[str, str] = {
    "review.read": "see the review queue", "review.decide": "claim and decide review items",
    "models.read": "see model versions", "models.approve": "approve or reject models",
    "models.promote": "promote or roll back models", "monitoring.read": "see monitoring",
    "audit.read": "read the audit log", "users.manage": "manage users",
}
TOKEN_ENV = "CLAIMFLOW_API_TOKEN"
TOKEN_PREFIX = "cfu_"
MIN_PASSWORD_LENGTH = 12
# OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): ~50 ms a sign-in here, costly for a guesser.
ARGON2_PARAMETERS = {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")

_metadata = sa.MetaData()
users_table = sa.Table(
    "users",
    _metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("roles", sa.String(200), nullable=False),
    sa.Column("password_hash", sa.String(200)),  # None: signs in through OIDC only
    sa.Column("oidc_subject", sa.String(300), unique=True),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
api_tokens_table = sa.Table(
    "api_tokens",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("username", sa.String(64), nullable=False, index=True),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_used_at", sa.DateTime),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)


class AuthError(Exception):
    """Authentication failed or a permission is missing; the message is one line, safe to show."""


@dataclass(frozen=True)
class User:
    """An authenticated person: who, shown as what, with which roles, still allowed in."""

    username: str
    display_name: str
    roles: tuple[str, ...]
    active: bool = True

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def may(self, permission: str) -> bool:
        """Whether any of the user's roles grants `permission` (see `PERMISSIONS`)."""
        return self.active and bool(PERMISSIONS[permission].intersection(self.roles))

    def require(self, permission: str) -> User:
        """The user, or `AuthError` naming what is missing."""
        if not self.may(permission):
            needed = " or ".join(sorted(PERMISSIONS[permission]))
            raise AuthError(f"{self.username} may not {PERMISSION_TEXT[permission]} (needs role {needed})")
        return self


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_roles(roles) -> tuple[str, ...]:
    """Roles as a sorted tuple; unknown ones are refused."""
    out = sorted({r.strip() for r in roles if r and r.strip()})
    if not out:
        raise AuthError(f"a user needs at least one role ({', '.join(ROLES)})")
    unknown = [r for r in out if r not in ROLES]
    if unknown:
        raise AuthError(f"unknown role {unknown[0]!r} (expected one of {', '.join(ROLES)})")
    return tuple(out)


class IdentityStore:
    """Users and API tokens in the system-of-record database (any SQLAlchemy URL)."""

    def __init__(self, url: str, hasher: PasswordHasher | None = None):
        self.url = url
        kwargs = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
        self.engine = sa.create_engine(url, **kwargs)
        _metadata.create_all(self.engine)
        self.hasher = hasher or PasswordHasher(**ARGON2_PARAMETERS)
        self._dummy_hash: str | None = None

    def dispose(self) -> None:
        self.engine.dispose()

    # -------------------------------------------------------------- users

    def add_user(
        self,
        username: str,
        display_name: str,
        roles,
        password: str | None = None,
        *,
        oidc_subject: str | None = None,
    ) -> User:
        """Create a user; a password (at least 12 characters) or an OIDC subject is required."""
        username = (username or "").strip().lower()
        if not _USERNAME.match(username):
            raise AuthError(f"{username!r} is not a valid username (lowercase letters, digits, . _ -; 2-63 long)")
        roles = check_roles(roles)
        if password is None and not oidc_subject:
            raise AuthError("a user needs a password or an OIDC subject")
        if password is not None and len(password) < MIN_PASSWORD_LENGTH:
            raise AuthError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        now = _now()
        values = {
            "username": username, "display_name": (display_name or username).strip() or username,
            "roles": ",".join(roles), "password_hash": self.hasher.hash(password) if password is not None else None,
            "oidc_subject": oidc_subject, "active": True, "created_at": now, "updated_at": now,
        }
        try:
            with self.engine.begin() as con:
                con.execute(users_table.insert().values(**values))
        except sa.exc.IntegrityError:
            raise AuthError(f"user {username} already exists") from None
        return User(username, values["display_name"], roles, True)

    def get(self, username: str) -> User | None:
        with self.engine.connect() as con:
            row = con.execute(sa.select(users_table).where(users_table.c.username == username)).first()
        return _user(row) if row else None

    def list_users(self) -> list[User]:
        with self.engine.connect() as con:
            rows = con.execute(sa.select(users_table).order_by(users_table.c.username)).all()
        return [_user(r) for r in rows]

    def count(self, *, role: str | None = None, active_only: bool = True) -> int:
        return sum(1 for u in self.list_users() if (u.active or not active_only) and (role is None or u.has_role(role)))

    def set_roles(self, username: str, roles) -> User:
        roles = check_roles(roles)
        self._update(username, roles=",".join(roles))
        return self.get(username)

    def set_password(self, username: str, password: str) -> None:
        if len(password or "") < MIN_PASSWORD_LENGTH:
            raise AuthError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
        self._update(username, password_hash=self.hasher.hash(password))

    def disable(self, username: str) -> User:
        """Refuse the user's sign-ins and revoke every token they hold; history keeps their name."""
        self._update(username, active=False)
        with self.engine.begin() as con:
            con.execute(api_tokens_table.update().where(api_tokens_table.c.username == username).values(revoked=True))
        return self.get(username)

    def _update(self, username: str, **values) -> None:
        with self.engine.begin() as con:
            done = con.execute(
                users_table.update().where(users_table.c.username == username).values(updated_at=_now(), **values)
            ).rowcount
        if not done:
            raise AuthError(f"no user {username}")

    # -------------------------------------------------------------- authentication

    def authenticate(self, username: str, password: str) -> User:
        """The user whose password this is; `AuthError` (one message for every failure) otherwise."""
        username = (username or "").strip().lower()
        with self.engine.connect() as con:
            row = con.execute(sa.select(users_table).where(users_table.c.username == username)).first()
        if row is None or not row.password_hash:
            # Verify against a throwaway hash anyway, so timing does not tell which usernames exist.
            self._dummy_hash = self._dummy_hash or self.hasher.hash(secrets.token_hex(16))
        stored = row.password_hash if row is not None and row.password_hash else self._dummy_hash
        try:
            self.hasher.verify(stored, password or "")
            ok = row is not None and row.password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or not row.active:
            raise AuthError("unknown user or wrong password")
        if self.hasher.check_needs_rehash(row.password_hash):
            self._update(username, password_hash=self.hasher.hash(password))
        return _user(row)

    def user_for_oidc(self, subject: str, username: str) -> User:
        """The active local user linked to an OIDC subject (linked on first sign-in by username)."""
        with self.engine.connect() as con:
            row = con.execute(sa.select(users_table).where(users_table.c.oidc_subject == subject)).first()
            if row is None:
                row = con.execute(sa.select(users_table).where(users_table.c.username == (username or "").lower())).first()
                if row is not None and row.oidc_subject not in (None, subject):
                    row = None
        if row is None or not row.active:
            raise AuthError("this identity has no active Claimflow user (an admin adds it with `claimflow users add`)")
        if row.oidc_subject is None:
            self._update(row.username, oidc_subject=subject)
        return _user(row)

    # -------------------------------------------------------------- API tokens

    def create_token(self, username: str, label: str) -> str:
        """A new personal API token for an active user; shown once, only its hash is stored."""
        label = (label or "").strip()
        if not label:
            raise AuthError("a token needs a label (what it is for)")
        user = self.get(username)
        if user is None or not user.active:
            raise AuthError(f"no active user {username}")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as con:
            con.execute(api_tokens_table.insert().values(
                token_hash=token_digest(token), username=user.username, label=label, created_at=_now(), revoked=False,
            ))
        return token

    def tokens(self, username: str) -> list[dict]:
        """The user's tokens (label, created, last used, revoked), never the token itself."""
        t = api_tokens_table.c
        with self.engine.connect() as con:
            rows = con.execute(
                sa.select(t.id, t.label, t.created_at, t.last_used_at, t.revoked).where(t.username == username)
                .order_by(t.id)
            ).all()
        return [dict(r._mapping) for r in rows]

    def revoke_token(self, username: str, token_id: int) -> None:
        t = api_tokens_table.c
        with self.engine.begin() as con:
            done = con.execute(
                api_tokens_table.update().where(t.id == token_id, t.username == username).values(revoked=True)
            ).rowcount
        if not done:
            raise AuthError(f"{username} has no token {token_id}")

    def user_for_token(self, token: str) -> User:
        """The active owner of a valid, unrevoked token; `AuthError` otherwise."""
        token = (token or "").strip()
        if not token.startswith(TOKEN_PREFIX):
            raise AuthError(f"{TOKEN_ENV} does not hold a Claimflow API token")
        digest = token_digest(token)
        t, u = api_tokens_table.c, users_table.c
        with self.engine.connect() as con:
            row = con.execute(
                sa.select(users_table, t.token_hash, t.revoked, t.id.label("token_id"))
                .join(api_tokens_table, t.username == u.username).where(t.token_hash == digest)
            ).first()
        if row is None or not hmac.compare_digest(row.token_hash, digest) or row.revoked:
            raise AuthError(f"the API token in {TOKEN_ENV} is unknown or revoked")
        if not row.active:
            raise AuthError(f"user {row.username} is disabled")
        with self.engine.begin() as con:
            con.execute(api_tokens_table.update().where(t.id == row.token_id).values(last_used_at=_now()))
        return _user(row)


def _user(row) -> User:
    return User(row.username, row.display_name, tuple(r for r in row.roles.split(",") if r), bool(row.active))


def user_from_environment(store: IdentityStore, environ=None) -> User:
    """The CLI's user: the owner of the token in `CLAIMFLOW_API_TOKEN`; never a name typed on the line."""
    token = (environ if environ is not None else os.environ).get(TOKEN_ENV, "").strip()
    if not token:
        raise AuthError(f"set {TOKEN_ENV} to your personal API token (an admin creates one: claimflow users token)")
    return store.user_for_token(token)


def username_for_token(url: str, token: str) -> str | None:
    """The active owner of `token`, read without creating tables (for naming who launched a run); None if unknown."""
    if not (token or "").startswith(TOKEN_PREFIX):
        return None
    engine = sa.create_engine(url)
    t, u = api_tokens_table.c, users_table.c
    try:
        with engine.connect() as con:
            return con.execute(
                sa.select(u.username).join(api_tokens_table, t.username == u.username)
                .where(t.token_hash == token_digest(token), t.revoked.is_(False), u.active.is_(True))
            ).scalar_one_or_none()
    except sa.exc.OperationalError:  # no identity tables yet
        return None
    finally:
        engine.dispose()
