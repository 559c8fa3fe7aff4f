"""A durable worker that handles messages in batches, one transaction per batch.

For cheap, commutative handlers (counting): the batch's processed rows, its side effects and the
acks are one unit, so a redelivered message is skipped exactly as in the per-message worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec
import nats.errors
from nats.aio.msg import Msg

from shared.bus import MSG_ID_HEADER, Bus
from shared.worker import HANDLED
from subjects import ConsumerSpec, Event, decode_event

log = logging.getLogger(__name__)

BatchHandler = Callable[[asyncpg.Connection, list[Event]], Awaitable[None]]


class BatchWorker:
    def __init__(
        self,
        *,
        spec: ConsumerSpec,
        handler: BatchHandler,
        bus: Bus,
        pool: asyncpg.Pool,
        batch_size: int = 128,
        fetch_timeout: float = 2.0,
    ) -> None:
        self.spec = spec
        self.handler = handler
        self.bus = bus
        self.pool = pool
        self.batch_size = batch_size
        self.fetch_timeout = fetch_timeout
        self._task: asyncio.Task[None] | None = None
        self._sub: Any = None
        self._stopping = False

    @property
    def name(self) -> str:
        return self.spec.durable

    async def start(self) -> None:
        self._sub = await self.bus.js.pull_subscribe_bind(durable=self.spec.durable, stream=self.spec.stream)
        self._task = asyncio.create_task(self._run(), name=f"batch:{self.name}")

    async def stop(self, timeout: float = 30.0) -> None:
        self._stopping = True
        if self._task:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._task), timeout=0.2)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                msgs = await self._sub.fetch(batch=self.batch_size, timeout=self.fetch_timeout)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except Exception as exc:
                if self._stopping:
                    return
                log.warning("fetch failed on %s: %r", self.name, exc)
                await asyncio.sleep(1)
                continue
            # Shielded: once fetched, a batch is committed and acked even if we are asked to stop.
            await asyncio.shield(self._handle(msgs))

    async def _handle(self, msgs: list[Msg]) -> None:
        decoded: dict[str, Event] = {}
        for msg in msgs:
            try:
                event = decode_event(msg.data)
            except (msgspec.DecodeError, msgspec.ValidationError):
                log.error("poison message on %s", self.name)
                await msg.term()
                HANDLED.labels(self.name, "terminated").inc()
                continue
            seq = msg.metadata.sequence.stream if msg.metadata else 0
            decoded[(msg.headers or {}).get(MSG_ID_HEADER) or f"{self.spec.stream}:{seq}"] = event
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                fresh = await conn.fetch(
                    """INSERT INTO processed_messages (consumer, msg_id) SELECT $1, unnest($2::text[])
                       ON CONFLICT DO NOTHING RETURNING msg_id""",
                    self.name,
                    list(decoded),
                )
                await self.handler(conn, [decoded[row["msg_id"]] for row in fresh])
        except Exception as exc:
            log.warning("batch of %d failed on %s: %r", len(msgs), self.name, exc)
            for msg in msgs:
                with contextlib.suppress(Exception):
                    await msg.nak(delay=5)
            HANDLED.labels(self.name, "retry").inc(len(msgs))
            return
        for msg in msgs:
            with contextlib.suppress(Exception):
                await msg.ack()
        HANDLED.labels(self.name, "ok").inc(len(decoded))
