"""Real servers for the scale-out tests, one of each per session: PostgreSQL and an S3 store (moto).

Both run as child processes on free loopback ports and are stopped by PID at the end of the
session, also when a test fails. Each test takes its own database (`postgres_db`) or bucket.
"""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(scope="session")
def postgres_server():
    """A fresh PostgreSQL cluster (Debian's `postgresql`, installed by `.ci/run`)."""
    from fakes.postgres import start_postgres

    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture
def postgres_db(postgres_server) -> str:
    """A new empty database on the session's server; its SQLAlchemy URL."""
    return postgres_server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server."""
    from fakes.s3 import start_s3

    server = start_s3()
    yield server
    server.stop()
