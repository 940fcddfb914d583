"""[RedisBroker][rxchronos.stream.RedisBroker]: the broker of several worker processes, on Redis.

Every worker publishes into Redis and delivers what Redis says was published, so a browser that
reconnects to any worker resumes where it was. How, in Redis (``<ns>`` is the namespace):

* ``<ns>:meta:<topic>``, a hash: the topic's epoch ``e``, its last offset ``o``, and ``f`` while
  the topic is finished. ``<ns>:hist:<topic>``, a stream: the topic's recent events, entry id
  ``0-<offset>``, trimmed to about ``replay_size`` entries (``MAXLEN ~``). Both expire
  ``history_ttl`` seconds after the topic's last event.
* One Lua script stores a batch of events: per event it takes the next offset, adds the entry,
  sets or clears the finished flag and ``PUBLISH``\\ es the event on ``<ns>:live``, all at once.
  A topic whose hash is gone (expired, or Redis lost its data) starts a new epoch, so an id of
  the old one is recognised and answered with a ``reset`` event. Event ids are
  ``<epoch>-<offset>``, per topic.
* Publishing never waits for Redis: ``publish`` puts the event in a bounded, ordered outbox
  that one task flushes in batches (one script call per batch). When the outbox is full,
  ``publish`` raises [BrokerUnavailableError][rxchronos.stream.BrokerUnavailableError];
  ``flush()`` waits until everything published so far is stored.
* Live delivery: one pub/sub connection per process reads ``<ns>:live`` and feeds the local
  subscribers through the same bounded per-connection buffers as the in-process broker.
* Resuming a one-topic subscription: the subscriber is registered first (live events are held
  back), then the topic's hash and its history after the client's offset are read in one
  transaction; the history is replayed, then the held-back live events after it, each offset
  once, then live ones. An id of another epoch, or one older than the history reaches, gives one
  ``reset`` event. A subscription to several topics (or to all) is live only: resuming it gives a
  ``reset`` (reason ``several_topics``).
* Faults: Redis unreachable at start raises ``BrokerUnavailableError`` naming the URL (no
  password). When the live feed breaks, every subscription ends with ``BrokerUnavailableError``
  (an SSE connection just ends, and the browser reconnects and resumes), and the broker
  reconnects with backoff; events published meanwhile wait in the outbox. A message on
  ``<ns>:live`` or ``<ns>:ctl`` that no broker wrote (not the script's shape, not an event's
  JSON, an id that is not one) is skipped with a warning on the ``rxchronos.stream`` logger
  naming the channel and what was wrong (with at most 100 bytes of it); the feed goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from collections.abc import Iterable
from datetime import UTC
from datetime import datetime
from itertools import islice
from typing import Any

import reactivex
from reactivex import Observer
from reactivex import abc
from reactivex.disposable import Disposable
from yarl import URL

from rxchronos._errors import ArgumentTypeError
from rxchronos._errors import InvalidArgumentError
from rxchronos._errors import RxChronosError
from rxchronos._loop import Ending
from rxchronos._queue import Overflow
from rxchronos.aio import from_producer
from rxchronos.stream._broker import BaseBroker
from rxchronos.stream._broker import check_control
from rxchronos.stream._errors import BrokerClosedError
from rxchronos.stream._errors import BrokerError
from rxchronos.stream._errors import BrokerUnavailableError
from rxchronos.stream._event import Event
from rxchronos.stream._event import check_client
from rxchronos.stream._event import check_topic
from rxchronos.stream._event import event_from_payload
from rxchronos.stream._event import normalise_topics
from rxchronos.stream._event import stamp_event
from rxchronos.stream._protocol import BrokerStats
from rxchronos.stream._protocol import Control
from rxchronos.stream._replay import new_epoch
from rxchronos.stream._replay import parse_event_id
from rxchronos.stream._replay import reset_event

try:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError as exc:  # pragma: no cover - the extra is part of the dev install
    raise ImportError("RedisBroker needs redis-py: pip install 'rxchronos[redis]'") from exc

__all__ = ["RedisBroker", "shown_url"]

_STORE = """
local ns, maxlen, ttl, candidate = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local ids = {}
for i = 5, #ARGV, 4 do
  local topic, finish, stamp, payload = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local meta, hist = ns .. ':meta:' .. topic, ns .. ':hist:' .. topic
  local epoch = redis.call('HGET', meta, 'e')
  if not epoch then
    epoch = candidate
    redis.call('DEL', hist)
    redis.call('HSET', meta, 'e', epoch)
  end
  local offset = redis.call('HINCRBY', meta, 'o', 1)
  if finish == '1' then redis.call('HSET', meta, 'f', '1') else redis.call('HDEL', meta, 'f') end
  redis.call('XADD', hist, 'MAXLEN', '~', maxlen, '0-' .. offset, 's', stamp, 'p', payload)
  redis.call('PEXPIRE', meta, ttl)
  redis.call('PEXPIRE', hist, ttl)
  local head = epoch .. ' ' .. offset .. ' ' .. finish .. ' ' .. stamp .. ' ' .. #topic .. ' '
  redis.call('PUBLISH', ns .. ':live', head .. topic .. payload)
  ids[#ids + 1] = epoch .. '-' .. offset
end
return ids
"""

_POOL_SIZE = 32
"""Redis connections per broker besides the live feed: history reads, the outbox, controls."""
_FAULTS = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)
_NO_TOPIC = ""  # the key of events published without a topic (a real topic is never empty)
_SHOWN = 100  # bytes of a malformed message of the live feed that a warning shows
_log = logging.getLogger("rxchronos.stream")


def shown_url(url: str) -> str:
    """``url`` without its password (or user), for messages."""
    parsed = URL(url)
    return str(parsed.with_password(None) if parsed.password else parsed)


class _Live:
    """The position of the live event being delivered: read by every resuming subscriber."""

    __slots__ = ("epoch", "offset")

    def __init__(self) -> None:
        self.epoch = ""
        self.offset = 0


class _Gate(abc.ObserverBase[Event]):
    """A resuming subscriber's observer: holds live events back until the replay is out, then
    drops those the replay already had, until the first live one after it."""

    __slots__ = ("_end", "_held", "_live", "_until", "consumer")

    def __init__(self, consumer: abc.ObserverBase[Event], live: _Live) -> None:
        self.consumer = consumer
        self._live = live
        self._held: list[tuple[Event, str, int]] | None = []
        self._until: dict[str | None, tuple[str, int]] = {}
        self._end: Exception | bool = False  # an end that came while the replay was not out

    def on_next(self, value: Event) -> None:
        held = self._held
        if held is not None:
            held.append((value, self._live.epoch, self._live.offset))
            return
        if self._until:
            self._pass(value, self._live.epoch, self._live.offset)
            return
        self.consumer.on_next(value)

    def _pass(self, value: Event, epoch: str, offset: int) -> None:
        mark = self._until.get(value.topic)
        if mark is not None and mark[0] == epoch:
            if offset <= mark[1]:
                return  # the replay had it
            del self._until[value.topic]
            if offset != mark[1] + 1:
                self.consumer.on_error(
                    BrokerUnavailableError(f"events of topic {value.topic!r} were missed live")
                )
                return
        self.consumer.on_next(value)

    def open(self, replayed: Iterable[Event], until: dict[str | None, tuple[str, int]]) -> None:
        """Send the replay, then the live events held back that it did not have."""
        for event in replayed:
            self.consumer.on_next(event)
        self._until = until
        held, self._held = self._held or [], None
        for event, epoch, offset in held:
            self._pass(event, epoch, offset)
        end, self._end = self._end, False
        if isinstance(end, Exception):
            self.consumer.on_error(end)
        elif end:
            self.consumer.on_completed()

    def on_error(self, error: Exception) -> None:
        if self._held is not None:
            self._end = error
            return
        self.consumer.on_error(error)

    def on_completed(self) -> None:
        if self._held is not None:
            self._end = True
            return
        self.consumer.on_completed()


class RedisBroker(BaseBroker):
    """A broker shared by several worker processes through Redis (see the module docs).

    The same interface as [Broker][rxchronos.stream.Broker]
    ([BrokerProtocol][rxchronos.stream.BrokerProtocol]): ``subscribe``, ``publish``,
    ``finish_topic``, ``sse_handler``, ``add_sse_route``, ``stats()``, and a ``Runner`` takes it
    as ``broker=``. Start it with ``async with`` (or ``await broker.start()``). Differences:
    ``publish`` returns the event with its topic but without an id (Redis assigns it when the
    outbox is flushed; ``await broker.flush()`` waits for that), and resuming needs a subscription
    to one topic.

    Args:
        url: the Redis URL, e.g. ``"redis://127.0.0.1:6379/0"``.
        namespace: the prefix of every key and channel (one per application).
        replay_size: about how many events each topic's history keeps.
        history_ttl: seconds a topic's history (and its epoch) lives after its last event.
        buffer_size: each SSE connection's buffer, in events.
        overflow: what a full connection buffer does, as for ``Broker``.
        outbox_size: events that may wait for Redis; past it ``publish`` raises
            [BrokerUnavailableError][rxchronos.stream.BrokerUnavailableError].
        batch_size: the most events stored by one script call.
        close_timeout: seconds ``aclose()`` waits for the outbox to be stored.

    Example:
        >>> from rxchronos.stream import RedisBroker
        >>> broker = RedisBroker("redis://:secret@127.0.0.1:6379/0", namespace="myapp")
        >>> broker.url  # what messages show: never the password
        'redis://127.0.0.1:6379/0'

        In an application (see the broker guide for a whole one):

            async with RedisBroker("redis://127.0.0.1:6379/0", namespace="myapp") as broker:
                app.router.add_get("/runs/{topic}/events", ...)  # or broker.add_sse_route(...)
                broker.publish(Event(type="tick"), topic="run-1")
                await broker.flush()  # stored in Redis
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "rxchronos",
        replay_size: int = 4096,
        history_ttl: float = 3600.0,
        buffer_size: int = 1024,
        overflow: Overflow = "disconnect",
        outbox_size: int = 10_000,
        batch_size: int = 256,
        close_timeout: float = 5.0,
    ) -> None:
        if not isinstance(url, str):
            raise ArgumentTypeError(f"url must be a string, got {type(url).__name__}")
        if not isinstance(namespace, str) or not namespace or any(c in namespace for c in " :"):
            raise InvalidArgumentError(
                f"namespace must be a non-empty name without ' ' or ':', got {namespace!r}"
            )
        for name, value in (
            ("replay_size", replay_size),
            ("outbox_size", outbox_size),
            ("batch_size", batch_size),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgumentError(f"{name} must be an int >= 1, got {value!r}")
        if (
            isinstance(history_ttl, bool)
            or not isinstance(history_ttl, int | float)
            or not history_ttl > 0
        ):
            raise InvalidArgumentError(
                f"history_ttl must be a number of seconds > 0, got {history_ttl!r}"
            )
        super().__init__(buffer_size=buffer_size, overflow=overflow)
        self._url = url
        self.url = shown_url(url)
        self.namespace = namespace
        self._replay_size = replay_size
        self._ttl_ms = int(history_ttl * 1000)
        self._outbox_size = outbox_size
        self._batch_size = batch_size
        self._close_timeout = close_timeout
        self._live = _Live()
        self._outbox: deque[tuple[str, str, str, bytes]] = deque()
        self._published = 0
        self._stored = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._wake: asyncio.Event | None = None
        self._client: aioredis.Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._feed_up: asyncio.Event | None = None
        self._last_error: str = ""

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to Redis and start the live feed and the outbox (``async with`` calls it).

        Raises:
            BrokerUnavailableError: when Redis cannot be reached (the message names the URL,
                without its password).
        """
        if self._closed:
            raise BrokerClosedError("start() after close()")
        if self._client is not None:
            return
        self._affinity.bind()
        # No retries inside redis-py: a broken connection must surface here, so subscribers
        # learn that live events may have been missed (and the outbox retries by itself).
        # A bounded pool that makes a caller wait for a free connection: a storm of SSE clients
        # attaching at once (each reads its history) queues for the pool instead of failing with
        # "Too many connections" (redis-py's default pool has 100 and raises past them).
        pool = aioredis.BlockingConnectionPool.from_url(
            self._url,
            max_connections=_POOL_SIZE,
            timeout=10.0,
            socket_connect_timeout=5.0,
            retry=Retry(NoBackoff(), 0),
        )
        client = aioredis.Redis.from_pool(pool)
        try:
            await client.ping()
        except (*_FAULTS, RedisError) as exc:
            await client.aclose()
            raise BrokerUnavailableError(
                f"Redis at {self.url} is unreachable ({type(exc).__name__}: {exc})"
            ) from None
        self._client = client
        self._script = client.register_script(_STORE)
        self._wake = asyncio.Event()
        self._feed_up = asyncio.Event()
        if self._outbox:
            self._wake.set()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._feed(), name="rxchronos-redis-feed"),
            loop.create_task(self._flusher(), name="rxchronos-redis-outbox"),
        ]
        await self._feed_up.wait()

    async def __aenter__(self) -> RedisBroker:
        await self.start()
        return self

    async def aclose(self) -> None:
        """Close, store what the outbox holds (waiting up to ``close_timeout`` s), disconnect.

        Raises:
            BrokerUnavailableError: when events could not be stored in time (they are not
                silently dropped: the error says how many).
        """
        self.close()
        left = 0
        try:
            if self._client is not None and self._outbox:
                try:
                    await asyncio.wait_for(self._flush_all(), self._close_timeout)
                except (TimeoutError, BrokerUnavailableError):
                    left = len(self._outbox)
        finally:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                try:
                    await task
                except asyncio.CancelledError:
                    pass
            self._tasks = []
            if self._client is not None:
                await self._client.aclose()
                self._client = None
        if left:
            raise BrokerUnavailableError(
                f"{left} event(s) could not be stored in Redis at {self.url} before closing"
            )

    # -- publishing ----------------------------------------------------------------------------

    def publish(self, event: Any, *, topic: str | None = None) -> Event:
        """Put ``event`` in the outbox for Redis; it reaches subscribers once stored.

        Returns:
            The event with its topic; its id is assigned by Redis (``None`` here).

        Raises:
            BrokerClosedError: after ``close()``.
            BrokerUnavailableError: when the outbox is full (Redis is down or too slow).
            BrokerError: when called from another thread than the loop's.
            TypeError: when ``event`` has no type or does not serialise to JSON.
            ValueError: when its data holds a NaN or infinite float (JSON has none).
        """
        return self._enqueue(event, topic, finish=False)

    def finish_topic(self, topic: str, *, data: Any = None) -> Event:
        """End a topic on every worker: a ``done`` event, then its streams complete, and a
        reconnect gets 204. Publishing to it again reopens it."""
        check_topic(topic)
        done = Event(type="done", data={"topic": topic} if data is None else data)
        return self._enqueue(done, topic, finish=True)

    def _enqueue(self, event: Any, topic: str | None, *, finish: bool) -> Event:
        if self._closed:
            raise BrokerClosedError("publish() after close(): the broker takes no events")
        self._affinity.check()
        if topic is not None:
            check_topic(topic)
        stamped = stamp_event(event, id=None, topic=topic)
        if stamped.topic is not None:
            check_topic(stamped.topic)
        if len(self._outbox) >= self._outbox_size:
            raise BrokerUnavailableError(
                f"the outbox of events waiting for Redis at {self.url} is full "
                f"({self._outbox_size} events; {self._last_error or 'Redis is too slow'})"
            )
        stamp = str(int(stamped.timestamp.timestamp() * 1000))
        key = stamped.topic if stamped.topic is not None else _NO_TOPIC
        self._outbox.append((key, "1" if finish else "0", stamp, stamped._payload()))
        self._published += 1
        if self._wake is not None:
            self._wake.set()
        return stamped

    async def flush(self) -> None:
        """Return when every event published so far is stored in Redis.

        Raises:
            BrokerUnavailableError: when storing fails (the events stay in the outbox and are
                stored when Redis is back).
            BrokerClosedError: when the broker is not started, or closed by ``aclose()``.
        """
        if self._client is None:
            state = "closed" if self._closed else "not started"
            raise BrokerClosedError(f"flush() on a RedisBroker that is {state}")
        target = self._published
        if self._stored >= target:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        await future

    async def _flush_all(self) -> None:
        while self._outbox:
            await self.flush()

    async def _flusher(self) -> None:
        assert self._wake is not None
        outbox = self._outbox
        delay = 0.05
        failures = 0
        while True:
            if not outbox:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = list(islice(outbox, 0, self._batch_size))
            args: list[str | bytes | int] = [
                self.namespace,
                self._replay_size,
                self._ttl_ms,
                new_epoch(),
            ]
            for item in batch:
                args.extend(item)
            try:
                await self._script(keys=[], args=args)
            except (*_FAULTS, RedisError) as exc:
                failures += 1
                self._last_error = f"{type(exc).__name__}: {exc}"
                if failures == 1 and self._client is not None:
                    # pooled connections Redis closed (a restart): retry once on fresh ones
                    await self._client.connection_pool.disconnect()
                    continue
                self._fail_waiters(
                    BrokerUnavailableError(
                        f"events could not be stored in Redis at {self.url} ({self._last_error}); "
                        "they stay in the outbox until Redis is back"
                    )
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            failures = 0
            delay = 0.05
            self._last_error = ""
            for _ in batch:
                outbox.popleft()
            self._stored += len(batch)
            stored = self._stored
            still = []
            for target, future in self._waiters:
                if target <= stored:
                    if not future.done():
                        future.set_result(None)
                else:
                    still.append((target, future))
            self._waiters = still

    def _fail_waiters(self, error: BrokerUnavailableError) -> None:
        waiters, self._waiters = self._waiters, []
        for _, future in waiters:
            if not future.done():
                future.set_exception(error)

    # -- the live feed -------------------------------------------------------------------------

    async def _feed(self) -> None:
        assert self._client is not None and self._feed_up is not None
        channel = f"{self.namespace}:live"
        controls = f"{self.namespace}:ctl".encode()
        delay = 0.05
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(channel, controls.decode())
                self._feed_up.set()
                delay = 0.05
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is None or message["type"] != "message":
                        continue
                    data = message["data"]
                    try:
                        if message["channel"] == controls:
                            self._receive_control(data)
                        else:
                            self._receive(data)
                    except InvalidArgumentError as exc:
                        # not what a broker publishes (another client's): skipped, so it
                        # cannot end the feed; delivering never raises here (a subscriber's
                        # error goes to the loop's exception handler)
                        _skip(message["channel"], exc, data)
            except (*_FAULTS, RedisError) as exc:
                self._last_error = f"{type(exc).__name__}: {exc}"
                self._feed_up.clear()
                self._subscriptions.fail_all(
                    BrokerUnavailableError(
                        f"the live feed from Redis at {self.url} broke ({self._last_error})"
                    )
                )
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def control(self, session_id: str, command: str) -> None:
        """Send ``command`` for ``session_id`` to every worker (``controls``), and keep it as
        the session's flag for ``history_ttl`` seconds or until ``take_control`` reads it.

        Raises:
            BrokerUnavailableError: when Redis cannot be reached.
        """
        check_control(session_id, command)
        if self._closed:
            raise BrokerClosedError("control() after close()")
        client = self._started()
        try:
            async with client.pipeline(transaction=True) as pipe:
                pipe.set(f"{self.namespace}:ctl:{session_id}", command, px=self._ttl_ms)
                pipe.publish(f"{self.namespace}:ctl", f"{session_id}\n{command}")
                await pipe.execute()
        except (*_FAULTS, RedisError) as exc:
            raise BrokerUnavailableError(
                f"control() could not reach Redis at {self.url} ({type(exc).__name__}: {exc})"
            ) from None

    async def take_control(self, session_id: str) -> str | None:
        """The session's pending command, read and cleared in Redis (``None``: none).

        Raises:
            TypeError: when ``session_id`` is not a non-empty one-line string.
            ValueError: when it holds a lone surrogate.
            BrokerUnavailableError: when Redis cannot be reached.
        """
        check_control(session_id)
        client = self._started()
        try:
            value = await client.getdel(f"{self.namespace}:ctl:{session_id}")
        except (*_FAULTS, RedisError) as exc:
            raise BrokerUnavailableError(
                f"take_control() could not reach Redis at {self.url} ({type(exc).__name__}: {exc})"
            ) from None
        return value.decode() if isinstance(value, bytes) else None

    def _started(self) -> aioredis.Redis:
        if self._client is None:
            raise BrokerUnavailableError(f"the RedisBroker for {self.url} is not started")
        return self._client

    def _receive_control(self, data: bytes) -> None:
        """Hand a control message to ``controls``; ``InvalidArgumentError`` when it is not
        ``<session id>\\n<command>``, two lines ``control()`` could have sent."""
        try:
            text = data.decode()
        except UnicodeDecodeError as exc:
            raise InvalidArgumentError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
        session_id, _, command = text.partition("\n")
        try:
            check_control(session_id, command)
        except RxChronosError:
            raise InvalidArgumentError(
                "not '<session id>\\n<command>' with two non-empty lines"
            ) from None
        try:
            self._controls.on_next(Control(session_id, command))
        except Exception as exc:  # a subscriber's failure must not end the feed of the others
            asyncio.get_running_loop().call_exception_handler(
                {"message": "a subscriber of RedisBroker.controls raised", "exception": exc}
            )

    def _receive(self, data: bytes) -> None:
        """Deliver a live event; ``InvalidArgumentError`` (and nothing changed) when ``data`` is
        not what the store script publishes."""
        epoch, offset, finish, event = _live_event(data)
        topic = event.topic
        live = self._live
        live.epoch = epoch
        live.offset = offset
        subscriptions = self._subscriptions
        if topic is not None and finish != b"1":
            subscriptions.reopen(topic)
        subscriptions.deliver(event, topic)
        if topic is not None and finish == b"1":
            subscriptions.finish(topic)

    # -- subscribing ---------------------------------------------------------------------------

    def subscribe(
        self,
        client_id: str | None = None,
        *,
        topics: str | Iterable[str] | None = None,
        last_event_id: str | None = None,
    ) -> reactivex.Observable[Event]:
        """A cold Observable of the broker's events (see ``Broker.subscribe``); subscribe on the
        loop. Attaching reads Redis, so the first events arrive after a round trip."""
        topic_set = normalise_topics(topics)
        check_client(client_id, last_event_id)

        async def produce(emit: Callable[[Event], None]) -> None:
            ended = Ending()

            def forward(event: Event) -> None:
                # A subscriber whose on_next raised (or that is disposed) is stopped by ``emit``
                # with a CancelledError meant for this task, but live events come from the feed's
                # task: end this subscription here (its on_error gets what on_next raised), and
                # let the feed go on delivering to everyone else.
                try:
                    emit(event)
                except asyncio.CancelledError:
                    ended.complete()

            registration = await self.attach(
                Observer(forward, ended.fail, ended.complete),
                client_id=client_id,
                topics=topic_set,
                last_event_id=last_event_id,
            )
            try:
                await ended
            finally:
                registration.dispose()

        return from_producer(produce, what="RedisBroker.subscribe(...).subscribe()")

    async def attach(
        self,
        consumer: abc.ObserverBase[Event],
        *,
        client_id: str | None = None,
        topics: frozenset[str] | None = None,
        last_event_id: str | None = None,
    ) -> abc.DisposableBase:
        """Attach an observer, resuming after ``last_event_id`` (see the module docs).

        Raises:
            BrokerUnavailableError: when Redis cannot be read (or the broker is not started).
        """
        check_client(client_id, last_event_id)
        if self._closed:
            consumer.on_completed()
            return Disposable()
        client = self._client
        if client is None or self._feed_up is None or not self._feed_up.is_set():
            raise BrokerUnavailableError(
                f"the broker has no live feed from Redis at {self.url} "
                f"({self._last_error or 'not started'})"
            )
        gate = _Gate(consumer, self._live)
        registration = self._subscriptions.open(gate, client_id, topics, forwards_to=consumer)
        try:
            replayed, until, finished = await self._history(client, topics, last_event_id)
        except (*_FAULTS, RedisError) as exc:
            registration.dispose()
            raise BrokerUnavailableError(
                f"the history in Redis at {self.url} could not be read "
                f"({type(exc).__name__}: {exc})"
            ) from None
        except BaseException:
            registration.dispose()
            raise
        gate.open(replayed, until)
        if finished:
            registration.dispose()
            consumer.on_completed()
            return Disposable()
        return registration

    async def _history(
        self, client: aioredis.Redis, topics: frozenset[str] | None, last_event_id: str | None
    ) -> tuple[list[Event], dict[str | None, tuple[str, int]], bool]:
        """The replay for ``last_event_id``, the offsets it reaches, and whether the topic is
        finished with nothing more to send."""
        if topics is None or len(topics) != 1:
            if last_event_id is None:
                return [], {}, False
            # the client's id stays its last one, unless it is no id at all (CR, LF, surrogates)
            echo = last_event_id if parse_event_id(last_event_id) is not None else None
            return [reset_event("several_topics", last_event_id, echo)], {}, False
        (topic,) = topics
        meta_key = f"{self.namespace}:meta:{topic}"
        parsed = parse_event_id(last_event_id) if last_event_id is not None else None
        async with client.pipeline(transaction=True) as pipe:
            pipe.hmget(meta_key, ["e", "o", "f"])
            if parsed is not None:
                pipe.xrange(f"{self.namespace}:hist:{topic}", min=f"0-{parsed.seq + 1}")
            results = await pipe.execute()
        raw_epoch, raw_offset, raw_finished = results[0]
        epoch = raw_epoch.decode() if raw_epoch is not None else ""
        newest = int(raw_offset) if raw_offset is not None else 0
        finished = raw_finished is not None
        newest_id = f"{epoch}-{newest}" if epoch else (last_event_id or "")
        until: dict[str | None, tuple[str, int]] = {topic: (epoch, newest)} if epoch else {}
        if last_event_id is None:
            return [], until, finished
        if parsed is None:
            return [reset_event("invalid_id", last_event_id, newest_id)], until, finished
        if parsed.epoch != epoch:
            return [reset_event("unknown_epoch", last_event_id, newest_id)], until, finished
        if parsed.seq > newest:
            return [reset_event("unknown_id", last_event_id, newest_id)], until, finished
        entries: list[tuple[bytes, dict[bytes, bytes]]] = results[1]
        if parsed.seq < newest and (
            not entries or int(entries[0][0].split(b"-")[1]) != parsed.seq + 1
        ):
            return [reset_event("too_old", last_event_id, newest_id)], until, finished
        replayed = []
        for entry_id, fields in entries:
            offset = int(entry_id.split(b"-")[1])
            if offset > newest:
                break
            replayed.append(_entry_event(epoch, offset, topic, fields))
        return replayed, until, finished

    async def history(self, topic: str) -> list[Event]:
        """The events of ``topic`` stored in Redis, oldest first (``done`` included), as any
        worker reads them; events still in this process's outbox are not there yet.

        Raises:
            BrokerUnavailableError: when Redis cannot be read (or the broker is not started).
            BrokerError: when an entry of the history is not one the broker wrote (another
                client's, or damaged), naming it.
        """
        check_topic(topic)
        client = self._started()
        try:
            async with client.pipeline(transaction=True) as pipe:
                pipe.hget(f"{self.namespace}:meta:{topic}", "e")
                pipe.xrange(f"{self.namespace}:hist:{topic}")
                raw_epoch, entries = await pipe.execute()
        except (*_FAULTS, RedisError) as exc:
            raise BrokerUnavailableError(
                f"the history in Redis at {self.url} could not be read "
                f"({type(exc).__name__}: {exc})"
            ) from None
        if raw_epoch is None:
            return []
        epoch = raw_epoch.decode()
        return [
            _entry_event(epoch, int(entry_id.split(b"-")[1]), topic, fields)
            for entry_id, fields in entries
        ]

    def stats(self) -> BrokerStats:
        """A snapshot of the local subscribers; ``published`` counts this process's events."""
        return self._stats(self._published, 0, self._replay_size)


def _live_event(data: bytes) -> tuple[str, int, bytes, Event]:
    """Read what the store script publishes: ``<epoch> <offset> <finish> <stamp> <topic
    length> <topic><payload>``, as the epoch, the offset, the finish flag and the event.

    Raises:
        InvalidArgumentError: saying which part is wrong.
    """
    parts = data.split(b" ", 5)
    if len(parts) != 6:
        raise InvalidArgumentError(
            "not '<epoch> <offset> <finish> <stamp> <topic length> <topic><event JSON>'"
        )
    epoch, offset, finish, stamp, length, rest = parts
    # bytes.isalnum() and isdigit() are ASCII only; the lengths keep int() cheap and in range
    if not (
        epoch.isalnum()
        and len(epoch) <= 32
        and offset.isdigit()
        and len(offset) <= 18
        and (finish == b"0" or finish == b"1")
        and stamp.isdigit()
        and len(stamp) <= 15
        and length.isdigit()
        and int(length) <= len(rest)
    ):
        raise InvalidArgumentError(_head_problem(epoch, offset, finish, stamp, length, rest))
    size = int(length)
    try:
        key = rest[:size].decode()
    except UnicodeDecodeError:
        raise InvalidArgumentError("the topic is not UTF-8") from None
    try:
        timestamp = datetime.fromtimestamp(int(stamp) / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidArgumentError("the stamp is not a time in milliseconds") from None
    text_epoch, number = epoch.decode(), int(offset)
    topic = key if key != _NO_TOPIC else None
    event = event_from_payload(
        rest[size:], id=f"{text_epoch}-{number}", topic=topic, timestamp=timestamp
    )
    return text_epoch, number, finish, event


def _head_problem(
    epoch: bytes, offset: bytes, finish: bytes, stamp: bytes, length: bytes, rest: bytes
) -> str:
    """What is wrong with the head of a live message that `_live_event` refused."""
    if not epoch.isalnum() or len(epoch) > 32:
        return "the epoch is not 1 to 32 ASCII letters or digits"
    if not offset.isdigit() or len(offset) > 18:
        return "the offset is not a number of at most 18 digits"
    if finish not in (b"0", b"1"):
        return "the finish flag is not 0 or 1"
    if not stamp.isdigit() or len(stamp) > 15:
        return "the stamp is not a number of at most 15 digits"
    if not length.isdigit():
        return "the topic length is not a number"
    return "the topic length is longer than the rest of the message"


def _skip(channel: bytes, problem: Exception, data: bytes) -> None:
    """Log a message of the live feed that is not the broker's, and what was wrong with it."""
    shown = data[:_SHOWN] + (b"..." if len(data) > _SHOWN else b"")
    _log.warning(
        "RedisBroker: skipped a malformed message on channel %r (%s): %d bytes, %r",
        channel.decode("utf-8", "backslashreplace"),
        str(problem)[: _SHOWN * 2],
        len(data),
        shown,
    )


def _entry_event(epoch: str, offset: int, topic: str, fields: dict[bytes, bytes]) -> Event:
    """The event stored in a topic's history entry ``0-<offset>``.

    Raises:
        BrokerError: the entry is not one the broker wrote (another client's, or damaged): no
            ``s`` (a time in ms) or ``p`` (an event's JSON) field, or one that cannot be read.
    """
    try:
        stamp = datetime.fromtimestamp(int(fields[b"s"]) / 1000, UTC)
        return event_from_payload(
            fields[b"p"], id=f"{epoch}-{offset}", topic=topic, timestamp=stamp
        )
    except KeyError as exc:
        reason = f"it has no {exc.args[0].decode(errors='replace')!r} field"
    except (ValueError, TypeError, OverflowError, OSError) as exc:
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
    raise BrokerError(
        f"the history of topic {topic!r} in Redis holds entry 0-{offset}, which the broker did "
        f"not write as it is ({reason}); another client wrote to the broker's keys, or they "
        "are damaged"
    )
