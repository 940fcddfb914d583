"""PostgresStore's own details: migrating an older schema, connection errors without the password,
opening on first use, its arguments. (The contract every store shares is in
test_store_conformance.py.)"""

from __future__ import annotations

import pytest

from rxchronos import ArgumentTypeError
from rxchronos import InvalidArgumentError
from rxchronos.graph import CheckpointStoreError
from rxchronos.graph import PostgresStore
from rxchronos.graph import Runner
from rxchronos.graph._postgres import _MIGRATIONS
from rxchronos.graph._postgres import SCHEMA_VERSION

from .helpers import approval_graph

SECRET = "s3cret-Pa55word"


async def test_an_older_schema_is_migrated_and_its_rows_kept(
    postgres_dsn: str, pg_schema: str
) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as raw:
        await raw.execute(f'CREATE SCHEMA "{pg_schema}"')
        await raw.execute(f'CREATE TABLE "{pg_schema}".schema_version (version INTEGER)')
        for statement in _MIGRATIONS[1]:
            await raw.execute(statement.replace("{schema}", f'"{pg_schema}"'))  # type: ignore[arg-type]
        await raw.execute(f'INSERT INTO "{pg_schema}".schema_version VALUES (1)')
        await raw.execute(
            f'INSERT INTO "{pg_schema}".checkpoints (checkpoint_id, session_id, run_id, step, '
            "state, next_node, paused, parent_id, created_at) "
            "VALUES ('c1', 's', 'r', 1, '{\"text\": \"hello\"}', 'review', true, NULL, 1.0)"
        )
    async with PostgresStore(postgres_dsn, schema=pg_schema) as store:
        latest = await store.latest("s")
        assert latest is not None and latest.state == {"text": "hello"} and latest.paused
        assert (await store.acquire_lease("s", "me", 30)).owner == "me"  # the new table
        await store.release_lease("s", "me")
        result = await Runner(approval_graph().compile(), store).resume("s")
        assert result.state["published"] is False
    async with await psycopg.AsyncConnection.connect(postgres_dsn, autocommit=True) as raw:
        cursor = await raw.execute(
            f'SELECT version FROM "{pg_schema}".schema_version ORDER BY version'
        )
        assert [row[0] for row in await cursor.fetchall()] == list(range(1, SCHEMA_VERSION + 1))


async def test_two_stores_opening_one_new_schema_at_once_both_work(
    postgres_dsn: str, pg_schema: str
) -> None:
    import asyncio

    stores = [PostgresStore(postgres_dsn, schema=pg_schema) for _ in range(4)]
    try:
        await asyncio.gather(*(store.open() for store in stores))  # one migrates, under a lock
        assert [await store.latest("s") for store in stores] == [None] * 4
    finally:
        await asyncio.gather(*(store.aclose() for store in stores))


@pytest.mark.parametrize(
    ("dsn", "reason"),
    [
        (f"postgresql://postgres:{SECRET}@127.0.0.1:1/test", "Connection refused"),
        (f"host=127.0.0.1 port=1 user=postgres password={SECRET} dbname=test", "refused"),
    ],
)
async def test_an_unreachable_server_is_a_store_error_without_the_password(
    dsn: str, reason: str
) -> None:
    store = PostgresStore(dsn, timeout=2)
    assert SECRET not in repr(store)
    with pytest.raises(CheckpointStoreError, match=reason) as info:
        await Runner(approval_graph().compile(), store).run("s", {})
    assert SECRET not in str(info.value) and "127.0.0.1" in str(info.value)
    assert info.value.__cause__ is None or SECRET not in str(info.value.__cause__)
    await store.aclose()


async def test_a_missing_database_is_named_without_the_password(postgres_dsn: str) -> None:
    import psycopg.conninfo

    parts = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    parts.update(dbname="rxchronos_no_such_database", password=SECRET)
    store = PostgresStore(psycopg.conninfo.make_conninfo("", **parts))
    with pytest.raises(CheckpointStoreError, match="rxchronos_no_such_database") as info:
        await store.open()
    assert SECRET not in str(info.value)
    await store.aclose()


async def test_the_store_opens_on_first_use_and_closes(postgres_dsn: str, pg_schema: str) -> None:
    store = PostgresStore(postgres_dsn, schema=pg_schema)
    runner = Runner(approval_graph().compile(), store)
    assert (await runner.run("s", {})).status == "paused"
    await store.aclose()
    with pytest.raises(CheckpointStoreError, match="is closed"):
        await store.latest("s")


def test_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="dsn"):
        PostgresStore("")
    with pytest.raises(ValueError, match="schema"):
        PostgresStore("host=x", schema="x" * 64)
    with pytest.raises(ValueError, match="min_size"):
        PostgresStore("host=x", min_size=3, max_size=2)
    with pytest.raises(ValueError, match="timeout"):
        PostgresStore("host=x", timeout=0)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"min_size": "a"}, ArgumentTypeError, "min_size must be an int .* got str 'a'"),
        ({"min_size": 1.5}, ArgumentTypeError, "min_size must be an int .* got float 1.5"),
        ({"max_size": None}, ArgumentTypeError, "max_size must be an int .* got NoneType None"),
        ({"max_size": True}, ArgumentTypeError, "max_size must be an int .* got bool True"),
        ({"timeout": "x"}, ArgumentTypeError, "timeout must be a number of seconds, got str"),
        ({"timeout": None}, ArgumentTypeError, "timeout must be a number of seconds, got None"),
        ({"timeout": float("nan")}, InvalidArgumentError, "timeout must be positive and finite"),
        ({"timeout": float("inf")}, InvalidArgumentError, "timeout must be positive and finite"),
    ],
)
def test_pool_arguments_of_the_wrong_type_are_named(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        PostgresStore("host=x", **options)  # type: ignore[arg-type]
