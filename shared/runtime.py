"""What every service is built from, and how a set of services is run in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg

from shared.bus import Bus
from shared.deadletter import DeadLetterRelay
from shared.settings import Settings
from subjects import ConsumerSpec

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Connections a service uses; one per process, shared by the services it runs."""

    settings: Settings
    bus: Bus
    pool: asyncpg.Pool


@dataclass
class ChannelState:
    name: str
    enabled: bool
    detail: str = ""


@dataclass
class ServiceParts:
    """What a service contributes: HTTP routes, durable workers and background tasks."""

    name: str
    routes: list[Any] = field(default_factory=list)
    workers: list[Consumer] = field(default_factory=list)
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    channels: list[ChannelState] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


ServiceFactory = Callable[[Runtime], ServiceParts]


class Consumer(Protocol):
    """A durable worker: the per-message ``Worker`` or the ``BatchWorker``."""

    spec: ConsumerSpec

    @property
    def name(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self, timeout: float = 30.0) -> None: ...


class ServiceGroup:
    """Starts the workers and background tasks of some services; drains them on stop."""

    def __init__(self, runtime: Runtime, parts: Sequence[ServiceParts]) -> None:
        self.runtime = runtime
        self.parts = list(parts)
        self._tasks: list[asyncio.Task[None]] = []
        self._relay: DeadLetterRelay | None = None

    @property
    def workers(self) -> list[Consumer]:
        return [w for p in self.parts for w in p.workers]

    @property
    def channels(self) -> list[ChannelState]:
        return [c for p in self.parts for c in p.channels]

    async def start(self) -> None:
        for worker in self.workers:
            await worker.start()
        if self.workers:
            self._relay = DeadLetterRelay(self.runtime.bus, [w.spec for w in self.workers])
            await self._relay.start()
        for part in self.parts:
            for job in part.background:
                self._tasks.append(asyncio.create_task(_supervised(job), name=f"{part.name}:bg"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await asyncio.gather(*(w.stop() for w in self.workers), return_exceptions=True)
        if self._relay:
            await self._relay.stop()
        for part in self.parts:
            for hook in part.on_stop:
                with contextlib.suppress(Exception):
                    await hook()


async def _supervised(job: Callable[[], Awaitable[None]]) -> None:
    """Run a background job forever, restarting it after an error."""
    while True:
        try:
            await job()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background job failed; restarting in 5 s")
            await asyncio.sleep(5)
