"""A real PostgreSQL server for tests and benchmarks: a throw-away cluster on a free loopback port.

Debian's `postgresql` package (installed by `.ci/run`) rather than the `pgserver` wheel: both start the
same `postgres` binary, but the Debian one starts a fresh cluster in about half the time here (see
deploy/README.md for the measured figures), the binaries are the same major version a cluster runs,
and it needs no per-process helper that keeps servers alive across tests. `start_postgres` falls
back to the binaries inside `pgserver` when Debian's are absent.

The cluster is initialised with `--auth=trust` on loopback only, fsync off: it exists for one
session and holds only test data. The server is our child process, stopped by PID.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DEBIAN_BIN = Path("/usr/lib/postgresql")
SUPERUSER = "claimflow"
DEFAULT_DB = "claimflow"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries on this machine."""


def postgres_bin_dir() -> Path:
    """The newest Debian cluster binaries, else those shipped by the `pgserver` wheel."""
    if DEBIAN_BIN.is_dir():
        versions = sorted((p for p in DEBIAN_BIN.iterdir() if (p / "bin" / "postgres").exists()), key=_version)
        if versions:
            return versions[-1] / "bin"
    with contextlib.suppress(ImportError):
        import pgserver

        candidate = Path(pgserver.__file__).parent / "pginstall" / "bin"
        if (candidate / "postgres").exists():
            return candidate
    raise PostgresUnavailable("no PostgreSQL server binaries: install Debian `postgresql` (.ci/run does)")


def _version(path: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in path.name.split(".") if p.isdigit())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    """A running cluster: `url(db)` for SQLAlchemy, `dsn(db)` for libpq, `stop()` when done."""

    root: Path
    port: int
    proc: subprocess.Popen | None
    bin_dir: Path
    startup_seconds: float
    host: str = "127.0.0.1"
    user: str = SUPERUSER
    databases: list[str] = field(default_factory=list)

    def url(self, db: str = DEFAULT_DB, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{self.user}@{self.host}:{self.port}/{db}"

    def dsn(self, db: str = DEFAULT_DB) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={db}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def create_database(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg2

        con = psycopg2.connect(self.dsn("postgres"))
        con.autocommit = True
        try:
            with con.cursor() as cur:
                cur.execute(f'create database "{name}"')
        finally:
            con.close()
        self.databases.append(name)
        return self.url(name)

    def connection_count(self) -> int:
        """Client backends connected right now (all databases, this query's own excluded)."""
        import psycopg2

        con = psycopg2.connect(self.dsn("postgres"))
        try:
            with con.cursor() as cur:
                cur.execute(
                    "select count(*) from pg_stat_activity where backend_type = 'client backend' "
                    "and pid <> pg_backend_pid()"
                )
                return int(cur.fetchone()[0])
        finally:
            con.close()

    def stop(self) -> None:
        """Fast shutdown (SIGINT: roll back, disconnect, exit), then SIGKILL the group if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def _run_as() -> tuple[int, int] | None:
    """PostgreSQL refuses to run as root: under root (CI containers) use the `postgres` account."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    raise PostgresUnavailable("running as root and no unprivileged account to run postgres as")


def start_postgres(
    *, port: int | None = None, timeout: float = 60, max_connections: int = 100, bin_dir: Path | None = None
) -> PostgresServer:
    """initdb a fresh cluster in a temp dir, start `postgres` on 127.0.0.1, wait until it accepts queries.

    `startup_seconds` covers initdb through the first successful connection (what a test waits for).
    """
    import psycopg2

    bin_dir = bin_dir or postgres_bin_dir()
    started = time.monotonic()
    # Under /tmp, not pytest's tmp_path: that one is 0700 root-only and the server may run as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="claimflow-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    owner = _run_as()
    if owner:
        for path in (root, sockets):
            os.chown(path, *owner)
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "TZ": "UTC"}
    kwargs = {"user": owner[0], "group": owner[1], "extra_groups": []} if owner else {}
    init = subprocess.run(  # noqa: PLW1510 - the return code is asserted
        [str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
         "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
        capture_output=True, text=True, env=env, cwd=root, **kwargs,
    )  # fmt: skip
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
    port = port or free_port()
    log = open(root / "postgres.log", "ab")  # noqa: SIM115 - the server writes it for its whole life
    if owner:
        os.chown(root / "postgres.log", *owner)
    proc = subprocess.Popen(
        [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(sockets),
         "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
         "-c", f"max_connections={max_connections}", "-c", "log_min_messages=warning"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True, **kwargs,
    )  # fmt: skip
    log.close()
    server = PostgresServer(root=root, port=port, proc=proc, bin_dir=bin_dir, startup_seconds=0.0)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            text = (root / "postgres.log").read_text(errors="replace")[-2000:]
            server.stop()
            raise RuntimeError(f"postgres exited with {proc.returncode}: {text}")
        try:
            psycopg2.connect(server.dsn("postgres"), connect_timeout=2).close()
            break
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"postgres not accepting connections after {timeout:.0f} s") from None
            time.sleep(0.05)
    server.create_database(DEFAULT_DB)
    server.startup_seconds = time.monotonic() - started
    return server


# DuckDB column types as PostgreSQL spells them (the rest, DATE, TIMESTAMP, INTEGER, BOOLEAN, DECIMAL(p,s),
# BIGINT, are spelt the same).
_PG_TYPES = {"VARCHAR": "text", "DOUBLE": "double precision", "FLOAT": "real", "BLOB": "bytea",
             "TIMESTAMP WITH TIME ZONE": "timestamptz", "HUGEINT": "numeric(38, 0)", "UBIGINT": "numeric(20, 0)"}  # fmt: skip


def copy_duckdb_schema(duckdb_path, url: str, schema: str = "raw") -> dict[str, int]:
    """Copy every table of `schema` from a DuckDB file into Postgres (same names and types); rows per table."""
    import duckdb
    import psycopg2
    from psycopg2.extras import execute_values
    from sqlalchemy.engine import make_url

    parts = make_url(url)
    copied = {}
    with duckdb.connect(str(duckdb_path), read_only=True) as src:
        tables = [r[0] for r in src.execute(
            "select table_name from information_schema.tables where table_schema = ?", [schema]).fetchall()]  # fmt: skip
        dst = psycopg2.connect(host=parts.host, port=parts.port, user=parts.username, dbname=parts.database)
        try:
            with dst, dst.cursor() as cur:
                cur.execute(f'create schema if not exists "{schema}"')
                for table in tables:
                    columns = src.execute(f'describe "{schema}"."{table}"').fetchall()
                    spec = ", ".join(f'"{c[0]}" {_PG_TYPES.get(c[1], c[1])}' for c in columns)
                    cur.execute(f'drop table if exists "{schema}"."{table}"')
                    cur.execute(f'create table "{schema}"."{table}" ({spec})')
                    rows = src.execute(f'select * from "{schema}"."{table}"').fetchall()
                    if rows:
                        execute_values(cur, f'insert into "{schema}"."{table}" values %s', rows)
                    copied[table] = len(rows)
        finally:
            dst.close()
    return copied
