"""The durable worker loop: fetch what there are free slots for, handle, commit, publish, ack.

Exactly-once in effect:
- a ``processed_messages`` row is inserted in the same transaction as the handler's side effects;
- events the handler derives are written to ``pending_publications`` in that transaction and
  published after the commit with their deterministic ``Nats-Msg-Id``;
- the message is acked only after that. A redelivery of a processed message republishes whatever
  is still pending (the stream's duplicate window absorbs repeats) and acks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import msgspec
import nats.errors
from nats.aio.msg import Msg
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram

from shared.bus import MSG_ID_HEADER, Bus, Publication
from shared.telemetry import extract_context, inject_headers, tracer
from subjects import ConsumerSpec, Event, decode_event, encode_event

log = logging.getLogger(__name__)
_tracer = tracer("fte.worker")

HANDLED = Counter("fte_messages_handled_total", "Messages handled by outcome", ["consumer", "outcome"])
HANDLE_SECONDS = Histogram(
    "fte_message_handle_seconds",
    "Time to handle one message",
    ["consumer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


class PoisonMessage(Exception):
    """The message can never succeed (schema violation, impossible reference): terminate it."""


class RetryLater(Exception):
    """Transient: nak with this delay (a provider's Retry-After, an open circuit breaker)."""

    def __init__(self, reason: str, *, delay: float) -> None:
        super().__init__(reason)
        self.delay = delay


class AlreadyProcessed(Exception):
    """Raised inside ``MessageContext.transaction`` when another delivery already committed."""


class MessageContext:
    """What a handler gets besides the event: the pool, a guarded transaction and publishing."""

    def __init__(self, *, consumer: str, msg: Msg, msg_id: str, pool: asyncpg.Pool) -> None:
        self.consumer = consumer
        self.msg = msg
        self.msg_id = msg_id
        self.pool = pool
        self.subject = msg.subject
        self.delivery_count = msg.metadata.num_delivered if msg.metadata else 1
        self._queued: list[Publication] = []
        self.publication_ids: list[int] = []
        self.committed = False

    @property
    def queued(self) -> list[Publication]:
        return list(self._queued)

    def publish(self, subject: str, event: Event) -> None:
        """Queue an event; it is written with the transaction and published after the commit."""
        self._queued.append(Publication(subject, event))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """The one transaction of this message: its processed row, side effects and publications."""
        if self.committed:
            raise RuntimeError("a message commits exactly one transaction")
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await conn.fetchval(
                """INSERT INTO processed_messages (consumer, msg_id) VALUES ($1, $2)
                   ON CONFLICT DO NOTHING RETURNING true""",
                self.consumer,
                self.msg_id,
            )
            if not fresh:
                raise AlreadyProcessed(self.msg_id)
            yield conn
            self.publication_ids = await _store_publications(conn, self.consumer, self.msg_id, self._queued)
        self.committed = True

    async def heartbeat(self) -> None:
        with contextlib.suppress(Exception):
            await self.msg.in_progress()


Handler = Callable[[Any, MessageContext], Awaitable[None]]


async def _store_publications(
    conn: asyncpg.Connection, consumer: str, source_msg_id: str, publications: list[Publication]
) -> list[int]:
    if not publications:
        return []
    headers = inject_headers()
    rows = await conn.fetch(
        """INSERT INTO pending_publications (consumer, source_msg_id, subject, msg_id, payload, headers)
           SELECT $1, $2, subject, msg_id, payload, $6
           FROM unnest($3::text[], $4::text[], $5::bytea[]) AS p(subject, msg_id, payload)
           RETURNING id""",
        consumer,
        source_msg_id,
        [pub.subject for pub in publications],
        [pub.msg_id for pub in publications],
        [encode_event(pub.event) for pub in publications],
        headers,
    )
    return [row["id"] for row in rows]


async def _publish_committed(bus: Bus, pool: asyncpg.Pool, ids: list[int], publications: list[Publication]) -> None:
    """The fast path: publish what this delivery just committed, without reading it back."""
    for publication in publications:
        await bus.publish(publication)
    await pool.execute("UPDATE pending_publications SET published_at = now() WHERE id = ANY($1::bigint[])", ids)


async def publish_pending(bus: Bus, pool: asyncpg.Pool, consumer: str, source_msg_id: str) -> int:
    """Publish what a committed transaction left pending, then mark it published."""
    rows = await pool.fetch(
        """SELECT id, subject, msg_id, payload, headers FROM pending_publications
           WHERE consumer = $1 AND source_msg_id = $2 AND published_at IS NULL ORDER BY id""",
        consumer,
        source_msg_id,
    )
    for row in rows:
        await bus.publish_raw(row["subject"], bytes(row["payload"]), msg_id=row["msg_id"], headers=dict(row["headers"]))
    if rows:
        await pool.execute(
            "UPDATE pending_publications SET published_at = now() WHERE id = ANY($1::bigint[])",
            [row["id"] for row in rows],
        )
    return len(rows)


class Worker:
    """Runs one handler on one durable pull consumer, bound (never created) by name."""

    def __init__(
        self,
        *,
        spec: ConsumerSpec,
        handler: Handler,
        bus: Bus,
        pool: asyncpg.Pool,
        concurrency: int = 8,
        decode: Callable[[bytes], Any] = decode_event,
        fetch_timeout: float = 2.0,
        precheck: bool = True,
    ) -> None:
        """``precheck`` looks for an earlier commit before calling the handler; turn it off for
        handlers whose first statement is the transaction anyway (a duplicate costs nothing)."""
        self.spec = spec
        self.handler = handler
        self.bus = bus
        self.pool = pool
        self.concurrency = max(1, concurrency)
        self.decode = decode
        self.fetch_timeout = fetch_timeout
        self.precheck = precheck
        self._slots = asyncio.Semaphore(self.concurrency)
        self._inflight: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._sub: Any = None

    @property
    def name(self) -> str:
        return self.spec.durable

    async def start(self) -> None:
        self._sub = await self.bus.js.pull_subscribe_bind(durable=self.spec.durable, stream=self.spec.stream)
        self._loop_task = asyncio.create_task(self._run(self._sub), name=f"worker:{self.name}")

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop fetching and let in-flight messages finish (drain)."""
        self._stopping.set()
        if self._loop_task:
            # The loop only fetches and spawns: cancelling a pending fetch loses nothing (a message
            # fetched but not started is redelivered after its ack wait).
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop_task
        if self._inflight:
            _done, pending = await asyncio.wait(self._inflight, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    def _free_slots(self) -> int:
        return self.concurrency - len(self._inflight)

    async def _run(self, sub: Any) -> None:
        while not self._stopping.is_set():
            free = self._free_slots()
            if free <= 0:
                await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                msgs = await sub.fetch(batch=free, timeout=self.fetch_timeout)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except (nats.errors.ConnectionClosedError, nats.errors.DrainTimeoutError):
                if self._stopping.is_set():
                    break
                await asyncio.sleep(1)
                continue
            except Exception as exc:
                log.warning("fetch failed on %s: %r", self.name, exc)
                await asyncio.sleep(1)
                continue
            for msg in msgs:
                task = asyncio.create_task(self._handle(msg))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)

    def _retry_delay(self, delivery_count: int) -> float:
        backoff = self.spec.backoff_seconds
        if backoff:
            return float(backoff[min(delivery_count - 1, len(backoff) - 1)])
        return float(min(2 ** (delivery_count - 1), 60))

    async def _handle(self, msg: Msg) -> None:
        headers = msg.headers or {}
        seq = msg.metadata.sequence.stream if msg.metadata else 0
        msg_id = headers.get(MSG_ID_HEADER) or f"{self.spec.stream}:{seq}"
        started = time.perf_counter()
        with _tracer.start_as_current_span(
            f"process {msg.subject}",
            context=extract_context(headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": msg.subject,
                "messaging.consumer.group.name": self.name,
                "messaging.message.id": msg_id,
            },
        ) as span:
            outcome = await self._process(msg, msg_id, span)
            HANDLED.labels(self.name, outcome).inc()
            HANDLE_SECONDS.labels(self.name).observe(time.perf_counter() - started)

    async def _process(self, msg: Msg, msg_id: str, span: trace.Span) -> str:
        try:
            event = self.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.error("poison message on %s (%s): %s", self.name, msg_id, exc)
            span.set_status(Status(StatusCode.ERROR, "undecodable"))
            await msg.term()
            return "terminated"
        ctx = MessageContext(consumer=self.name, msg=msg, msg_id=msg_id, pool=self.pool)
        span.set_attribute("messaging.nats.delivery_count", ctx.delivery_count)
        heartbeat = self._start_heartbeat(ctx)
        try:
            if self.precheck and await self._already_processed(msg_id):
                outcome = "duplicate"
            else:
                try:
                    await self.handler(event, ctx)
                    if not ctx.committed:
                        async with ctx.transaction():
                            pass
                    outcome = "ok"
                except AlreadyProcessed:
                    outcome = "duplicate"
            if outcome == "ok":
                await _publish_committed(self.bus, self.pool, ctx.publication_ids, ctx.queued)
            else:  # an earlier delivery committed: publish whatever it left behind
                await publish_pending(self.bus, self.pool, self.name, msg_id)
            await msg.ack()
            return outcome
        except PoisonMessage as exc:
            log.error("terminating %s on %s: %s", msg_id, self.name, exc)
            span.set_status(Status(StatusCode.ERROR, str(exc)))
            if ctx.committed:  # what the handler recorded before giving up still goes out
                await _publish_committed(self.bus, self.pool, ctx.publication_ids, ctx.queued)
            await msg.term()
            return "terminated"
        except RetryLater as exc:
            log.info("retrying %s on %s in %.0fs: %s", msg_id, self.name, exc.delay, exc)
            with contextlib.suppress(Exception):
                await msg.nak(delay=exc.delay)
            return "retry"
        except Exception as exc:
            delay = self._retry_delay(ctx.delivery_count)
            log.warning(
                "handler %s failed on %s (delivery %d), retry in %.0fs: %r",
                self.name,
                msg_id,
                ctx.delivery_count,
                delay,
                exc,
            )
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            with contextlib.suppress(Exception):
                await msg.nak(delay=delay)
            return "retry"
        finally:
            if heartbeat:
                heartbeat.cancel()

    async def _already_processed(self, msg_id: str) -> bool:
        return bool(
            await self.pool.fetchval(
                "SELECT true FROM processed_messages WHERE consumer = $1 AND msg_id = $2",
                self.name,
                msg_id,
            )
        )

    def _start_heartbeat(self, ctx: MessageContext) -> asyncio.Task[None] | None:
        interval = self.spec.heartbeat_seconds
        if not interval:
            return None

        async def beat() -> None:
            while True:
                await asyncio.sleep(interval)
                await ctx.heartbeat()

        return asyncio.create_task(beat())
