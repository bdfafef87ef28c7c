"""The analytical warehouse: a DuckDB file by default.

Python assets land raw tables in schema `raw` (declared in `connectors/schema.py`); dbt builds
everything after that. Writes are keyed upserts, so re-running a batch never doubles a row.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from connectors.schema import RAW_SCHEMA, TABLES, Table

__all__ = ["RAW_SCHEMA", "Warehouse", "records"]

# Files whose schema this process has created, by (path, device, inode): a file deleted and
# made again (a fresh $CLAIMFLOW_HOME in a test) is created again.
_ENSURED: set[tuple[str, int, int]] = set()
_ENSURE_LOCK = threading.Lock()


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows of `frame` as dicts, with None (not NaN/NaT/pd.NA) where a value is missing.

    Column by column (Python scalars, Timestamps for datetimes), then zipped: the values and
    types `frame.astype(object).where(frame.notna(), None).to_dict("records")` gives, at a
    third of its cost (100k triage rows: it boxed every value through pandas one by one).
    """
    names = list(frame.columns)
    if len(set(names)) != len(names) or not len(frame):
        return frame.astype(object).where(frame.notna(), None).to_dict("records")
    columns = [_column_values(frame.iloc[:, i]) for i in range(frame.shape[1])]
    return [dict(zip(names, row)) for row in zip(*columns)]


def _column_values(column: pd.Series) -> list:
    """One column as Python values, missing ones as None."""
    kind = column.dtype.kind
    if kind in "iub" and not isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        return column.to_numpy().tolist()  # numpy ints and bools: never missing, tolist gives Python scalars
    if kind == "f" and not isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        values = column.to_numpy()
        out = values.tolist()
        missing = np.flatnonzero(np.isnan(values))
        for i in missing.tolist():
            out[i] = None
        return out
    out = column.astype(object).tolist()
    for i in np.flatnonzero(column.isna().to_numpy()).tolist():
        out[i] = None
    # numpy scalars inside objects (a nullable dtype's values, a mixed column) as Python ones, as to_dict does
    return [v.item() if isinstance(v, _NUMPY_SCALARS) else v for v in out]


_NUMPY_SCALARS = (np.integer, np.floating, np.bool_)


def _key(table: Table | str, key: Sequence[str] | None) -> Sequence[str]:
    if key is not None:
        return key
    if isinstance(table, Table) and table.key:
        return table.key
    raise ValueError(f"{table}: no key given and none declared")


@contextmanager
def _incoming(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> Iterator[str]:
    """`frame` visible to SQL as `_incoming` for the duration; yields its quoted column list."""
    con.register("_incoming", frame)
    try:
        yield ", ".join(f'"{c}"' for c in frame.columns)
    finally:
        # After a failed statement the transaction is aborted and unregister would raise too,
        # hiding the error that matters; the connection is discarded by the caller anyway.
        with contextlib.suppress(duckdb.Error):
            con.unregister("_incoming")


class Warehouse:
    """A DuckDB database file with keyed, transactional writes of pandas frames."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise FileNotFoundError(f"no warehouse at {self.path}: run the intake first")
        con = duckdb.connect(str(self.path), read_only=read_only)
        try:
            yield con
        finally:
            con.close()

    def _identity(self) -> tuple[str, int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (str(self.path.resolve()), st.st_dev, st.st_ino)

    def ensure_schema(self, tables: Iterable[Table] | None = None, *, force: bool = False) -> None:
        """Create every declared raw table that is not there yet: once per process and file."""
        with _ENSURE_LOCK:
            if not force and tables is None and self._identity() in _ENSURED:
                return
            with self.connect() as con:
                con.execute(f"create schema if not exists {RAW_SCHEMA}")
                for declared in TABLES.values() if tables is None else tables:
                    con.execute(declared.ddl())
            if tables is None:
                _ENSURED.add(self._identity())

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: committed on success, rolled back on any error."""
        with self.connect() as con:
            con.execute("begin")
            try:
                yield con
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.execute("rollback")
                raise
            con.execute("commit")

    def replace(self, con: duckdb.DuckDBPyConnection, table: Table | str, frame: pd.DataFrame) -> int:
        """Replace every row of `table` by `frame` (columns matched by name). Returns rows written."""
        con.execute(f"delete from {table}").fetchall()
        return self.append(con, table, frame)

    def append(self, con: duckdb.DuckDBPyConnection, table: Table | str, frame: pd.DataFrame) -> int:
        """Append the rows of `frame` to `table` (columns matched by name). Returns rows written."""
        if frame.empty:
            return 0
        with _incoming(con, frame):
            con.execute(f"insert into {table} by name select * from _incoming").fetchall()
        return len(frame)

    def upsert(
        self, con: duckdb.DuckDBPyConnection, table: Table | str, frame: pd.DataFrame, key: Sequence[str] | None = None
    ) -> int:
        """Insert rows of `frame` into `table`, replacing rows with the same key (default: the declared key).
        Returns rows written."""
        key = _key(table, key)
        if frame.empty:
            return 0
        match = " and ".join(f't."{k}" = s."{k}"' for k in key)
        with _incoming(con, frame) as cols:
            con.execute(f"delete from {table} t where exists (select 1 from _incoming s where {match})").fetchall()
            con.execute(f"insert into {table} ({cols}) select {cols} from _incoming").fetchall()
        return len(frame)

    def insert_new(
        self, con: duckdb.DuckDBPyConnection, table: Table | str, frame: pd.DataFrame, key: Sequence[str] | None = None
    ) -> int:
        """Insert only rows whose key (default: the declared key) is not there yet (first writer wins).
        Returns rows inserted."""
        key = _key(table, key)
        if frame.empty:
            return 0
        match = " and ".join(f't."{k}" = s."{k}"' for k in key)
        with _incoming(con, frame) as cols:
            before = con.execute(f"select count(*) from {table}").fetchall()[0][0]
            con.execute(
                f"insert into {table} ({cols}) select {cols} from _incoming s "
                f"where not exists (select 1 from {table} t where {match})"
            ).fetchall()
            after = con.execute(f"select count(*) from {table}").fetchall()[0][0]
        return after - before

    def read(self, sql: str, params: Sequence | None = None) -> pd.DataFrame:
        """The result of one query, on a read-only connection."""
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).df()

    def pending(
        self,
        source: Table | str,
        *,
        done: Table | str | Sequence[Table | str],
        on: Sequence[str],
        where: str = "",
        params: Sequence | None = None,
        order_by: str = "",
        limit: int | None = None,
        con: duckdb.DuckDBPyConnection | None = None,
    ) -> pd.DataFrame:
        """Rows of `source` with no row matching on `on` in any of the `done` tables: the work left.

        `where` filters the `done` side too (it may refer to `d.` columns, e.g. `d.model_version = ?`),
        so "not scored by this version yet" is one call.
        """
        done = [done] if isinstance(done, (Table, str)) else list(done)
        match = " and ".join(f'd."{c}" = s."{c}"' for c in on)
        extra = f" and ({where})" if where else ""
        sql = f"select s.* from {source} s where " + " and ".join(
            f"not exists (select 1 from {t} d where {match}{extra})" for t in done
        )
        if order_by:
            sql += f" order by {order_by}"
        if limit:
            sql += f" limit {int(limit)}"
        args = list(params or []) * len(done)
        if con is not None:
            return con.execute(sql, args).df()
        return self.read(sql, args)


# --- PROD: the same warehouse on PostgreSQL ---------------------------------------------------------------
#
# In production the raw tables live in a schema `raw` of the PostgreSQL database the dbt `prod` target builds
# in (dbt/profiles.yml), so every run pod, dbt and the marts share one transactional store and several runs
# may write at once. The connection it hands out speaks the small part of DuckDB's Python API the assets use
# (`execute(sql, params)` with `?` placeholders, then `fetchall`/`fetchone`/`df`/`fetchnumpy`; `begin` and
# `commit` as statements), so the asset code is the same on both; their SQL is kept portable.

POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg2://", "postgres://")

# DuckDB column types as PostgreSQL spells them (the others are spelt the same in both).
_PG_TYPES = {"DOUBLE": "double precision", "FLOAT": "real", "BLOB": "bytea", "HUGEINT": "numeric(38, 0)"}


def is_postgres(location: object) -> bool:
    """Whether a warehouse location is a PostgreSQL URL rather than a DuckDB file."""
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


# The few DuckDB functions the assets' SQL uses that PostgreSQL spells otherwise or lacks. Renamed ones are
# rewritten per statement; missing ones are created once in the warehouse's own schema (no superuser needed).
_PG_RENAMED = (("json_object(", "json_build_object("),)
_PG_COMPAT = (
    f"""create or replace function {RAW_SCHEMA}.round(double precision, integer) returns double precision
        language sql immutable as 'select pg_catalog.round($1::numeric, $2)::double precision'""",
    f"""do $$ begin
          create type {RAW_SCHEMA}.max_by_state as (v text, k timestamp);
        exception when duplicate_object then null; end $$""",
    f"""create or replace function {RAW_SCHEMA}.max_by_step({RAW_SCHEMA}.max_by_state, text, timestamp)
        returns {RAW_SCHEMA}.max_by_state language sql immutable as
        'select case when $3 is not null and ($1 is null or ($1).k is null or $3 > ($1).k)
                     then row($2, $3)::{RAW_SCHEMA}.max_by_state else $1 end'""",
    f"""create or replace function {RAW_SCHEMA}.max_by_final({RAW_SCHEMA}.max_by_state) returns text
        language sql immutable as 'select ($1).v'""",
    f"""create or replace aggregate {RAW_SCHEMA}.max_by(text, timestamp) (
        sfunc = {RAW_SCHEMA}.max_by_step, stype = {RAW_SCHEMA}.max_by_state, finalfunc = {RAW_SCHEMA}.max_by_final)""",
)


def _pg_sql(sql: str, with_params: bool) -> str:
    """DuckDB's `?` placeholders as psycopg2's `%s` (outside quoted text); `%` doubled when parameters follow."""
    for duck, pg in _PG_RENAMED:
        sql = sql.replace(duck, pg)
    if not with_params:
        return sql
    out, quote, i = [], None, 0
    while i < len(sql):
        ch = sql[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif sql.startswith("--", i):  # a comment runs to the end of its line; its quotes and `?` are prose
            end = sql.find("\n", i)
            end = len(sql) if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
            continue
        elif ch == "?":
            out.append("%s")
            i += 1
            continue
        out.append("%%" if ch == "%" else ch)
        i += 1
    return "".join(out)


def _pg_value(value):
    """A Python value psycopg2 adapts: numpy scalars unwrapped, pandas' missing values as None."""
    import numpy as np

    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.ndarray):
        return [_pg_value(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        if not value:  # `unnest('{}')` cannot pick a type; the lists bound are of keys, i.e. text
            from psycopg2.extensions import AsIs

            return AsIs("array[]::text[]")
        return [_pg_value(v) for v in value]
    return value


# PostgreSQL type OIDs, for frames typed as DuckDB's `.df()` types them.
_PG_INT, _PG_FLOAT, _PG_NUMERIC, _PG_BOOL = {20, 21, 23}, {700, 701}, {1700}, {16}
_PG_DATETIME = {1082, 1114, 1184}


class PostgresCursor:
    """The result of one statement, read the ways the assets read DuckDB results."""

    def __init__(self, cursor):
        self._cursor = cursor

    @property
    def description(self):
        return self._cursor.description

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall() if self._cursor.description else []

    def fetchone(self):
        return self._cursor.fetchone() if self._cursor.description else None

    def df(self) -> pd.DataFrame:
        """The rows as a frame typed like DuckDB's: dates and timestamps as datetime64, numerics as floats,
        integers and booleans nullable where a value is missing."""
        if not self._cursor.description:
            return pd.DataFrame()
        names = [d.name for d in self._cursor.description]
        frame = pd.DataFrame.from_records(self._cursor.fetchall(), columns=names)
        for name, desc in zip(names, self._cursor.description, strict=True):
            col = frame[name]
            if desc.type_code in _PG_DATETIME:
                frame[name] = pd.to_datetime(col, utc=desc.type_code == 1184)
            elif desc.type_code in _PG_NUMERIC | _PG_FLOAT:
                frame[name] = pd.to_numeric(col, errors="coerce").astype("float64")
            elif desc.type_code in _PG_INT:
                frame[name] = col.astype("Int64") if col.isna().any() else col.astype("int64")
            elif desc.type_code in _PG_BOOL:
                frame[name] = col.astype("boolean") if col.isna().any() else col.astype(bool)
        return frame

    def fetchnumpy(self) -> dict:
        frame = self.df()
        return {c: frame[c].to_numpy() for c in frame.columns}


class PostgresConnection:
    """A psycopg2 connection in autocommit mode: like DuckDB's, a statement commits unless `begin` came first."""

    def __init__(self, raw):
        self.raw = raw

    def execute(self, sql: str, params: Sequence | None = None) -> PostgresCursor:
        cursor = self.raw.cursor()
        args = [_pg_value(p) for p in params] if params else None
        cursor.execute(_pg_sql(sql, args is not None), args)
        return PostgresCursor(cursor)

    def close(self) -> None:
        self.raw.close()


class PostgresWarehouse(Warehouse):
    """The warehouse's raw tables in schema `raw` of a PostgreSQL database (PROD), same methods as on DuckDB."""

    def __init__(self, url: str):
        self.url = url
        self.path = url  # what callers pass on (dbt vars, secrets lookup) when they ask where the warehouse is

    def _dsn(self) -> dict:
        from sqlalchemy.engine import make_url

        parts = make_url(self.url)
        dsn = {"host": parts.host, "port": parts.port or 5432, "user": parts.username, "dbname": parts.database}
        if parts.password:
            dsn["password"] = parts.password
        return {k: v for k, v in dsn.items() if v is not None}

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[PostgresConnection]:
        import psycopg2
        from psycopg2.extras import register_default_json, register_default_jsonb

        # The warehouse's schema is on the path for its compatibility functions (an exact match of argument
        # types wins over pg_catalog's, whatever the order); JSON comes back as text, as from DuckDB.
        raw = psycopg2.connect(application_name="claimflow-warehouse", options=f"-c search_path=public,{RAW_SCHEMA}",
                               **self._dsn())
        raw.autocommit = True
        register_default_json(raw, loads=lambda text: text)
        register_default_jsonb(raw, loads=lambda text: text)
        if read_only:
            raw.cursor().execute("set session characteristics as transaction read only")
        con = PostgresConnection(raw)
        try:
            yield con
        finally:
            con.close()

    def _identity(self) -> tuple[str, int, int] | None:
        return (self.url, 0, 0)

    def ensure_schema(self, tables: Iterable[Table] | None = None, *, force: bool = False) -> None:
        """Create every declared raw table that is not there yet (once per process and database)."""
        with _ENSURE_LOCK:
            if not force and tables is None and self._identity() in _ENSURED:
                return
            with self.connect() as con:
                con.execute("select pg_advisory_lock(hashtext('claimflow.warehouse.ddl'))")
                try:
                    con.execute(f"create schema if not exists {RAW_SCHEMA}")
                    for declared in TABLES.values() if tables is None else tables:
                        con.execute(_pg_ddl(declared))
                    for statement in _PG_COMPAT:
                        con.execute(statement)
                finally:
                    con.execute("select pg_advisory_unlock(hashtext('claimflow.warehouse.ddl'))")
            if tables is None:
                _ENSURED.add(self._identity())

    @contextmanager
    def transaction(self) -> Iterator[PostgresConnection]:
        with self.connect() as con:
            con.execute("begin")
            try:
                yield con
            except BaseException:
                with contextlib.suppress(Exception):
                    con.execute("rollback")
                raise
            con.execute("commit")

    @contextmanager
    def _incoming(self, con: PostgresConnection, table: Table | str, frame: pd.DataFrame) -> Iterator[str]:
        """`frame` as the temporary table `_incoming`, typed like `table`'s columns; yields the column list."""
        from psycopg2.extras import execute_values

        cols = ", ".join(f'"{c}"' for c in frame.columns)
        con.execute("drop table if exists pg_temp._incoming")
        con.execute(f"create temporary table _incoming as select {cols} from {table} limit 0")
        rows = [tuple(_pg_value(v) for v in row) for row in frame.astype(object).itertuples(index=False, name=None)]
        execute_values(con.raw.cursor(), f"insert into pg_temp._incoming ({cols}) values %s", rows, page_size=1000)
        try:
            yield cols
        finally:
            with contextlib.suppress(Exception):
                con.execute("drop table if exists pg_temp._incoming")

    def append(self, con: PostgresConnection, table: Table | str, frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        with self._incoming(con, table, frame) as cols:
            con.execute(f"insert into {table} ({cols}) select {cols} from pg_temp._incoming")
        return len(frame)

    def upsert(
        self, con: PostgresConnection, table: Table | str, frame: pd.DataFrame, key: Sequence[str] | None = None
    ) -> int:
        key = _key(table, key)
        if frame.empty:
            return 0
        match = " and ".join(f't."{k}" = s."{k}"' for k in key)
        with self._incoming(con, table, frame) as cols:
            con.execute(f"delete from {table} t where exists (select 1 from pg_temp._incoming s where {match})")
            con.execute(f"insert into {table} ({cols}) select {cols} from pg_temp._incoming")
        return len(frame)

    def insert_new(
        self, con: PostgresConnection, table: Table | str, frame: pd.DataFrame, key: Sequence[str] | None = None
    ) -> int:
        key = _key(table, key)
        if frame.empty:
            return 0
        match = " and ".join(f't."{k}" = s."{k}"' for k in key)
        with self._incoming(con, table, frame) as cols:
            # Concurrent writers of one key: the loser's row is skipped (as a duplicate), never an error.
            conflict = " on conflict do nothing" if isinstance(table, Table) and tuple(key) == table.key else ""
            cur = con.execute(
                f"insert into {table} ({cols}) select {cols} from pg_temp._incoming s "
                f"where not exists (select 1 from {table} t where {match}){conflict}"
            )
        return max(cur._cursor.rowcount, 0)

    def read(self, sql: str, params: Sequence | None = None) -> pd.DataFrame:
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).df()


def _pg_ddl(table: Table) -> str:
    cols = [f'"{c}" {_PG_TYPES.get(t.upper(), t)}' for c, t in table.columns]
    if table.key:
        cols.append("primary key (" + ", ".join(f'"{k}"' for k in table.key) + ")")
    return f"create table if not exists {table.qualified} (\n    " + ",\n    ".join(cols) + "\n)"


def open_warehouse(location: Path | str) -> Warehouse:
    """The warehouse at `location`: a PostgreSQL URL (PROD) or a DuckDB file (the embedded default)."""
    return PostgresWarehouse(str(location)) if is_postgres(location) else Warehouse(location)
