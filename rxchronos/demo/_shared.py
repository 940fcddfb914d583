"""Where the demo keeps its runs: in the process, or in Redis and PostgreSQL for several workers.

A demo run is a session with a status (``running``, ``paused``, ``completed``, ``failed``,
``cancelled``), the event id just before its first event (where a page replays it from), and
the worker driving it. ``MemorySessions`` keeps them in one process (and forgets the oldest past
``max_runs``); ``RedisSessions`` keeps them in Redis, so that every worker of
``rxchronos demo --workers N`` answers for every run:

* ``<ns>:demo:run:<session>``, a hash (``status``, ``since``, ``worker``), and
  ``<ns>:demo:running``, the set of running sessions; both live ``ttl`` seconds.
* ``<ns>:demo:worker:<worker>``: a key each worker renews every second and that expires a few
  seconds after the worker dies. A running session whose worker's key is gone is an orphan;
  one surviving worker claims it (an atomic compare-and-set on ``worker``) and resumes it from
  its last checkpoint.
* A status change can be conditional (``expect=``), so of two workers asked to approve the same
  paused run at once, exactly one resumes it.

[SharedBackend][rxchronos.demo.SharedBackend] is what the workers share: a
[RedisBroker][rxchronos.stream.RedisBroker], a [PostgresStore][rxchronos.graph.PostgresStore]
and the Redis session records, opened and closed together.
"""

from __future__ import annotations

import os
import socket
from collections import OrderedDict
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import Protocol

from rxchronos.graph import PostgresStore
from rxchronos.graph._postgres import redact_dsn
from rxchronos.stream import BrokerUnavailableError

if TYPE_CHECKING:
    from rxchronos.stream import RedisBroker

__all__ = [
    "HEARTBEAT_INTERVAL",
    "MemorySessions",
    "RedisSessions",
    "SessionRecord",
    "Sessions",
    "SharedBackend",
    "worker_id",
]

HEARTBEAT_INTERVAL = 1.0
"""Seconds between a worker's heartbeats (and its looks for orphaned runs)."""
_WORKER_TTL_MS = 3000  # a worker is dead this long after its last heartbeat


def worker_id() -> str:
    """This process as a worker: ``<host>:<pid>``."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(slots=True)
class SessionRecord:
    """A demo run: its session, status, replay anchor and the worker driving it."""

    session_id: str
    status: str  # running, paused, completed, failed, cancelled
    since: str  # the event id just before the run's first event: the replay anchor
    worker: str = ""

    def describe(self) -> dict[str, str]:
        """The run as the API shows it."""
        return {
            "session_id": self.session_id,
            "status": self.status,
            "events_url": f"/runs/{self.session_id}/events?last_event_id={self.since}",
        }


class Sessions(Protocol):
    """The demo's run records, as the app uses them (in one process or shared)."""

    worker: str

    async def add(self, record: SessionRecord) -> None:
        """Record a new run."""
        ...

    async def get(self, session_id: str) -> SessionRecord | None:
        """The run of ``session_id``, or ``None`` (never started, or forgotten)."""
        ...

    async def set_status(self, session_id: str, status: str, *, expect: str | None = None) -> bool:
        """Set the run's status (``running``: driven by this worker); with ``expect``, only if
        the status is that; whether it was set."""
        ...

    async def heartbeat(self) -> list[str]:
        """Say this worker is alive; return the running sessions whose worker is dead and that
        this worker has just claimed (it must resume them)."""
        ...


class MemorySessions:
    """The runs of one process, at most ``max_runs``: the oldest idle ones are forgotten."""

    def __init__(self, max_runs: int, forget: Callable[[str], None]) -> None:
        self.worker = worker_id()
        self._max_runs = max_runs
        self._forget = forget
        self._records: OrderedDict[str, SessionRecord] = OrderedDict()

    async def add(self, record: SessionRecord) -> None:
        """Keep ``record``; forget the oldest runs that are not running past ``max_runs``."""
        record.worker = self.worker
        self._records[record.session_id] = record
        idle = (r for r in list(self._records.values()) if r.status != "running")
        while len(self._records) > self._max_runs:
            old = next(idle, None)
            if old is None:  # cannot happen while max_running <= max_runs
                break
            del self._records[old.session_id]
            self._forget(old.session_id)

    async def get(self, session_id: str) -> SessionRecord | None:
        """The run of ``session_id``, or ``None``."""
        return self._records.get(session_id)

    async def set_status(self, session_id: str, status: str, *, expect: str | None = None) -> bool:
        """Set the run's status (conditionally with ``expect``)."""
        record = self._records.get(session_id)
        if record is None or (expect is not None and record.status != expect):
            return False
        record.status = status
        return True

    async def heartbeat(self) -> list[str]:
        """One process has no other worker to outlive: nothing to claim."""
        return []


_SET_STATUS = """
local run, running = KEYS[1], KEYS[2]
local status, expect, worker, sid, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local current = redis.call('HGET', run, 'status')
if not current or (expect ~= '' and current ~= expect) then return 0 end
redis.call('HSET', run, 'status', status)
if status == 'running' then
  redis.call('HSET', run, 'worker', worker)
  redis.call('SADD', running, sid)
else
  redis.call('SREM', running, sid)
end
redis.call('PEXPIRE', run, ttl)
redis.call('PEXPIRE', running, ttl)
return 1
"""

_CLAIM_ORPHANS = """
local ns, me, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local claimed = {}
for _, sid in ipairs(redis.call('SMEMBERS', ns .. ':demo:running')) do
  local run = ns .. ':demo:run:' .. sid
  local fields = redis.call('HMGET', run, 'status', 'worker')
  if fields[1] ~= 'running' then
    redis.call('SREM', ns .. ':demo:running', sid)
  elseif fields[2] ~= me and redis.call('EXISTS', ns .. ':demo:worker:' .. fields[2]) == 0 then
    redis.call('HSET', run, 'worker', me)
    redis.call('PEXPIRE', run, ttl)
    claimed[#claimed + 1] = sid
  end
end
return claimed
"""


class RedisSessions:
    """The runs of every worker, in Redis under ``namespace`` (see the module docs).

    Args:
        url: the Redis URL.
        namespace: the key prefix (the broker's).
        ttl: seconds a run's record lives after its last change.
    """

    def __init__(self, url: str, *, namespace: str, ttl: float = 3600.0) -> None:
        import redis.asyncio as aioredis

        from rxchronos.stream._redis import shown_url

        self.worker = worker_id()
        self._namespace = namespace
        self._ttl_ms = int(ttl * 1000)
        self._client = aioredis.Redis.from_url(url, socket_connect_timeout=5.0)
        self._set_status = self._client.register_script(_SET_STATUS)
        self._claim = self._client.register_script(_CLAIM_ORPHANS)
        self._shown = shown_url(url)

    def _run_key(self, session_id: str) -> str:
        return f"{self._namespace}:demo:run:{session_id}"

    async def _call(self, what: str, work: Awaitable[Any]) -> Any:
        from redis.exceptions import RedisError

        try:
            return await work
        except (RedisError, OSError) as exc:
            raise BrokerUnavailableError(
                f"the demo's runs in Redis at {self._shown} could not be {what} "
                f"({type(exc).__name__}: {exc})"
            ) from None

    async def add(self, record: SessionRecord) -> None:
        """Record a new run, driven by this worker."""
        record.worker = self.worker
        key = self._run_key(record.session_id)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"status": record.status, "since": record.since})
            pipe.hset(key, "worker", record.worker)
            pipe.pexpire(key, self._ttl_ms)
            if record.status == "running":
                running = f"{self._namespace}:demo:running"
                pipe.sadd(running, record.session_id)
                pipe.pexpire(running, self._ttl_ms)
            await self._call("written", pipe.execute())

    async def get(self, session_id: str) -> SessionRecord | None:
        """The run of ``session_id`` as every worker sees it, or ``None``."""
        fields = await self._call("read", self._client.hgetall(self._run_key(session_id)))
        if b"status" not in fields:
            return None
        return SessionRecord(
            session_id,
            fields[b"status"].decode(),
            fields.get(b"since", b"").decode(),
            fields.get(b"worker", b"").decode(),
        )

    async def set_status(self, session_id: str, status: str, *, expect: str | None = None) -> bool:
        """Set the run's status atomically (only if it is ``expect``, when given)."""
        keys = [self._run_key(session_id), f"{self._namespace}:demo:running"]
        args: list[str | int] = [status, expect or "", self.worker, session_id, self._ttl_ms]
        done = await self._call("written", self._set_status(keys=keys, args=args))
        return bool(done)

    async def heartbeat(self) -> list[str]:
        """Renew this worker's key; claim the running sessions of dead workers."""
        await self._call(
            "written",
            self._client.set(
                f"{self._namespace}:demo:worker:{self.worker}", b"1", px=_WORKER_TTL_MS
            ),
        )
        claimed = await self._call(
            "read", self._claim(args=[self._namespace, self.worker, self._ttl_ms])
        )
        return [sid.decode() for sid in claimed]

    async def ping(self) -> None:
        """Fail with ``BrokerUnavailableError`` unless Redis answers."""
        await self._call("reached", self._client.ping())

    async def aclose(self) -> None:
        """Drop this worker's key (it is gone, not dead) and close the connections."""
        from redis.exceptions import RedisError

        try:
            await self._client.delete(f"{self._namespace}:demo:worker:{self.worker}")
        except (RedisError, OSError):
            pass  # Redis is away: the key expires by itself
        await self._client.aclose()


class SharedBackend:
    """What the workers of ``rxchronos demo --workers N`` share: Redis and PostgreSQL.

    Args:
        redis_url: the Redis URL (events, their history, the run records).
        postgres_dsn: the PostgreSQL DSN (checkpoints and session leases).
        namespace: the Redis key prefix.
        schema: the PostgreSQL schema.

    Example:
        >>> backend = SharedBackend("redis://127.0.0.1:6379/0", "postgresql://u:pw@db/app")
        >>> "pw" in backend.describe(), backend.broker.namespace, backend.store.schema
        (False, 'rxchronos-demo', 'rxchronos_demo')
    """

    def __init__(
        self,
        redis_url: str,
        postgres_dsn: str,
        *,
        namespace: str = "rxchronos-demo",
        schema: str = "rxchronos_demo",
    ) -> None:
        from rxchronos.stream import RedisBroker  # needs the optional redis-py

        self.broker: RedisBroker = RedisBroker(redis_url, namespace=namespace)
        self.store = PostgresStore(postgres_dsn, schema=schema, max_size=4)
        self.sessions = RedisSessions(redis_url, namespace=namespace)
        self._where = redact_dsn(postgres_dsn)

    def describe(self) -> str:
        """Where the runs live, without passwords."""
        return (
            f"Redis {self.broker.url} (namespace {self.broker.namespace}), "
            f"PostgreSQL {self._where} (schema {self.store.schema})"
        )

    async def open(self) -> None:
        """Connect to both (creating or migrating the store's schema).

        Raises:
            BrokerUnavailableError: Redis cannot be reached (the URL is named, no password).
            CheckpointStoreError: PostgreSQL cannot be reached (likewise).
        """
        try:
            await self.broker.start()
            await self.sessions.ping()
            await self.store.open()
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Close the broker (storing what it still holds), the records and the store."""
        try:
            await self.broker.aclose()
        finally:
            try:
                await self.sessions.aclose()
            finally:
                await self.store.aclose()
