"""The analytical warehouse: a DuckDB file by default.

Python assets land raw tables in schema `raw`; dbt builds everything after that.
Writes are keyed upserts, so re-running a batch never doubles a row.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

RAW_SCHEMA = "raw"


def _unregister(con: duckdb.DuckDBPyConnection) -> None:
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

    def execute_ddl(self, statements: Sequence[str]) -> None:
        with self.connect() as con:
            con.execute(f"create schema if not exists {RAW_SCHEMA}")
            for stmt in statements:
                con.execute(stmt)

    def upsert(self, con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, key: Sequence[str]) -> int:
        """Insert rows of `frame` into `table`, replacing rows with the same key. Returns rows written."""
        if frame.empty:
            return 0
        con.register("_incoming", frame)
        try:
            cols = ", ".join(f'"{c}"' for c in frame.columns)
            match = " and ".join(f't."{k}" = s."{k}"' for k in key)
            con.execute(f"delete from {table} t where exists (select 1 from _incoming s where {match})").fetchall()
            con.execute(f"insert into {table} ({cols}) select {cols} from _incoming").fetchall()
        finally:
            _unregister(con)
        return len(frame)

    def insert_new(self, con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, key: Sequence[str]) -> int:
        """Insert only rows whose key is not there yet (first writer wins). Returns rows inserted."""
        if frame.empty:
            return 0
        con.register("_incoming", frame)
        try:
            cols = ", ".join(f'"{c}"' for c in frame.columns)
            match = " and ".join(f't."{k}" = s."{k}"' for k in key)
            before = con.execute(f"select count(*) from {table}").fetchall()[0][0]
            con.execute(
                f"insert into {table} ({cols}) select {cols} from _incoming s "
                f"where not exists (select 1 from {table} t where {match})"
            ).fetchall()
            after = con.execute(f"select count(*) from {table}").fetchall()[0][0]
        finally:
            _unregister(con)
        return after - before

    def read(self, sql: str, params: Sequence | None = None) -> pd.DataFrame:
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).df()
