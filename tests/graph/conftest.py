"""PostgreSQL for the graph tests: the server at ``RXCHRONOS_POSTGRES_DSN`` (default: the local
one, user postgres, database test), a schema of its own per test, dropped afterwards.

Without a reachable server the tests that need it skip, unless ``RXCHRONOS_REQUIRE_POSTGRES=1``
(CI), which makes that a failure.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from collections.abc import Iterator
from itertools import count

import pytest

from rxchronos.graph import PostgresStore

from ..conftest import skip_or_fail

DSN = os.environ.get("RXCHRONOS_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
RUN = f"rxc_test_{os.getpid()}_{os.urandom(3).hex()}"
"""This test run's schema prefix: its tests touch only schemas that start with it."""
_numbers = count(1)


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """The DSN of a reachable PostgreSQL server (or a skip / a failure in CI)."""
    try:
        import psycopg
    except ImportError:
        skip_or_fail(
            "psycopg is not installed (pip install 'rxchronos[postgres]')",
            require_env="RXCHRONOS_REQUIRE_POSTGRES",
        )
        raise
    try:
        psycopg.connect(DSN, connect_timeout=5).close()
    except psycopg.Error as exc:
        skip_or_fail(
            f"no PostgreSQL server at {DSN!r} ({exc}); set RXCHRONOS_POSTGRES_DSN",
            require_env="RXCHRONOS_REQUIRE_POSTGRES",
        )
    return DSN


def drop_schema(dsn: str, schema: str) -> None:
    """Drop one of this run's schemas (never anything else)."""
    import psycopg

    assert schema.startswith(RUN), schema
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_schema(postgres_dsn: str) -> Iterator[str]:
    """A fresh schema name for this test; dropped when the test ends."""
    schema = f"{RUN}_{next(_numbers)}"
    yield schema
    drop_schema(postgres_dsn, schema)


@pytest.fixture
async def pg_store(postgres_dsn: str, pg_schema: str) -> AsyncIterator[PostgresStore]:
    """An open ``PostgresStore`` in this test's own schema."""
    async with PostgresStore(postgres_dsn, schema=pg_schema, timeout=10) as store:
        yield store
