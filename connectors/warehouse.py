"""The analytical warehouse: a DuckDB file by default.

Python assets land raw tables in schema `raw` (declared in `connectors/schema.py`); dbt builds
everything after that. Writes are keyed upserts, so re-running a batch never doubles a row.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from connectors.schema import RAW_SCHEMA, TABLES, Table

__all__ = ["RAW_SCHEMA", "Warehouse", "records"]

# Files whose schema this process has created, by (path, device, inode): a file deleted and
# made again (a fresh $CLAIMFLOW_HOME in a test) is created again.
_ENSURED: set[tuple[str, int, int]] = set()
_ENSURE_LOCK = threading.Lock()


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows of `frame` as dicts, with None (not NaN/NaT) where a value is missing."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


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
