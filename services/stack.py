"""Running services: one (`fte service NAME`) or all seven with embedded servers (`fte up`)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from services.agent.embeddings import Embedder, shared_embedder
from services.agent.kb import DEMO_SOURCE, collect_documents, demo_kb_path, embed_missing, ingest
from services.registry import SERVICE_NAMES, service_factory
from shared.bus import Bus
from shared.db import create_pool, migrate
from shared.embedded import EmbeddedNats, EmbeddedPostgres
from shared.http import build_app
from shared.provision import provision
from shared.runtime import Runtime, ServiceGroup
from shared.serving import serve
from shared.settings import Settings

log = logging.getLogger(__name__)


class Stack:
    """Starts (embedded servers,) migrations, provisioning, services and one HTTP server."""

    def __init__(
        self,
        settings: Settings,
        *,
        services: Sequence[str] = SERVICE_NAMES,
        embedded: bool = False,
        demo: bool = False,
        serve_http: bool = True,
        say: Callable[[str], None] = lambda line: log.info(line),
    ) -> None:
        self.settings = settings
        self.services = list(services)
        self.embedded = embedded
        self.demo = demo
        self.serve_http = serve_http
        self.say = say
        self.nats: EmbeddedNats | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.runtime: Runtime | None = None
        self.group: ServiceGroup | None = None
        self._stop_http: Callable[[], Awaitable[None]] | None = None
        self._background: list[asyncio.Task[None]] = []

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    async def start(self) -> None:
        started = time.perf_counter()
        settings = self.settings
        data_dir = Path(settings.data_dir).resolve()
        if self.embedded and not settings.nats_url:
            self.say(f"starting nats-server (JetStream, data in {data_dir / 'nats'})")
            self.nats = await asyncio.to_thread(EmbeddedNats(data_dir / "nats").start)
            settings = dataclasses.replace(settings, nats_url=self.nats.url)
        if self.embedded and not settings.database_url:
            self.say(f"starting PostgreSQL with pgvector (data in {data_dir / 'postgres'})")
            self.postgres = await asyncio.to_thread(EmbeddedPostgres(data_dir / "postgres").start)
            settings = dataclasses.replace(settings, database_url=self.postgres.url)
        if not settings.nats_url or not settings.database_url:
            raise RuntimeError("NATS_URL and DATABASE_URL must be set (or use `fte up` for embedded servers)")
        self.settings = settings

        applied = await migrate(settings.database_url)
        self.say(f"database migrated ({len(applied)} new migration(s))")
        bus = await Bus.connect(settings.nats_url, name=f"fte:{','.join(self.services)}")
        if self.embedded:
            report = await provision(bus.js)
            self.say(f"streams and consumers provisioned ({len(report)} objects)")
        pool = await create_pool(settings.database_url, max_size=settings.db_pool_size)
        self.runtime = Runtime(settings=settings, bus=bus, pool=pool)
        embedder = shared_embedder(settings)
        if self.demo:
            result = await ingest(pool, collect_documents([demo_kb_path()]), source=DEMO_SOURCE)
            self.say(
                f"demo knowledge base: {result.chunks} sections in {result.added + result.unchanged} articles "
                f"({result.added} loaded, {result.unchanged} unchanged)"
            )
        if embedder is not None:
            # The model loads and missing embeddings are computed in the background: full-text search
            # answers meanwhile, and start-up stays fast.
            self._background.append(asyncio.create_task(self._embed_knowledge(embedder)))
        parts = [service_factory(name)(self.runtime) for name in self.services]
        self.group = ServiceGroup(self.runtime, parts)
        await self.group.start()
        self.say(f"services running: {', '.join(self.services)}")
        if self.serve_http:
            app = build_app(self.runtime, self.group, parts)
            _, self._stop_http = await serve(app, host=settings.host, port=settings.port, stop_timeout=10)
        self.say(f"ready in {time.perf_counter() - started:.1f} s")

    async def _embed_knowledge(self, embedder: Embedder) -> None:
        assert self.runtime is not None
        try:
            count = await embed_missing(self.runtime.pool, embedder)
            if count:
                self.say(f"knowledge base: {count} sections embedded ({embedder.name})")
        except Exception as exc:
            log.exception("embedding the knowledge base failed")
            self.say(f"knowledge base embeddings failed ({exc}); full-text search only")

    async def stop(self) -> None:
        """Stop taking requests, drain the consumers, close connections, stop embedded servers."""
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._stop_http:
            await self._stop_http()
        if self.group:
            await self.group.stop()
        if self.runtime:
            await self.runtime.bus.close()
            await self.runtime.pool.close()
        if self.nats:
            await asyncio.to_thread(self.nats.stop)
        if self.postgres:
            await asyncio.to_thread(self.postgres.stop)
