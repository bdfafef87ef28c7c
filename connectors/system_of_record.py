"""The insurer's system of record, reached through SQLAlchemy (SQLite file by default, Postgres by URL).

Today it holds the policy register that intake joins claims against.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import pandas as pd
import sqlalchemy as sa

metadata = sa.MetaData()

policies_table = sa.Table(
    "policies",
    metadata,
    sa.Column("policy_number", sa.String(16), primary_key=True),
    sa.Column("holder_name", sa.String(200), nullable=False),
    sa.Column("holder_email", sa.String(200)),
    sa.Column("holder_phone", sa.String(32)),
    sa.Column("holder_address", sa.String(300)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date, nullable=False),
    sa.Column("lapsed_on", sa.Date),
    sa.Column("covered_loss_types", sa.String(300), nullable=False),
    sa.Column("area", sa.String(4)),
    sa.Column("bonus_malus", sa.Integer),
    sa.Column("driver_age", sa.Integer),
    sa.Column("vehicle_age", sa.Integer),
    sa.Column("vehicle_brand", sa.String(16)),
    sa.Column("vehicle_power", sa.Integer),
    sa.Column("past_claims", sa.Integer),
    sa.Column("exposure", sa.Float),
)
POLICY_COLUMNS = [c.name for c in policies_table.columns]


class PolicySystem(ABC):
    """Where policies are looked up."""

    @abstractmethod
    def fetch_policies(self) -> pd.DataFrame:
        """Every policy, one row each, columns as `POLICY_COLUMNS`."""


class SqlPolicySystem(PolicySystem):
    """The policy register in a relational database."""

    def __init__(self, url: str):
        self.url = url
        self._engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = sa.create_engine(self.url)
        return self._engine

    def ensure_schema(self) -> None:
        metadata.create_all(self.engine, tables=[policies_table])

    def policy_count(self) -> int:
        self.ensure_schema()
        with self.engine.connect() as con:
            return con.execute(sa.select(sa.func.count()).select_from(policies_table)).scalar_one()

    def load_policies(self, frame: pd.DataFrame) -> int:
        """Replace the register with `frame` in one transaction (used to seed the embedded default)."""
        self.ensure_schema()
        rows = frame[POLICY_COLUMNS].astype(object).where(frame[POLICY_COLUMNS].notna(), None)
        records = rows.to_dict("records")
        with self.engine.begin() as con:
            con.execute(policies_table.delete())
            con.execute(policies_table.insert(), records)
        return len(records)

    def fetch_policies(self) -> pd.DataFrame:
        self.ensure_schema()
        with self.engine.connect() as con:
            frame = pd.read_sql(sa.select(policies_table), con)
        for col in ("start_date", "end_date", "lapsed_on"):
            frame[col] = pd.to_datetime(frame[col]).dt.date
        return frame


class InMemoryPolicySystem(PolicySystem):
    """A fixed frame of policies: for tests."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def fetch_policies(self) -> pd.DataFrame:
        return self.frame[POLICY_COLUMNS].copy()
