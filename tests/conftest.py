"""Real servers for the whole test session: nats-server with JetStream and PostgreSQL with pgvector.

With FTE_TEST_DOCKER=1 and a Docker engine, testcontainers starts them instead.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.bus import Bus
from shared.db import migrate
from shared.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from shared.provision import provision
from shared.settings import Settings
from shared.telemetry import configure_tracing

SPANS = InMemorySpanExporter()
configure_tracing("fte-tests", None, SimpleSpanProcessor(SPANS))


@dataclasses.dataclass(frozen=True)
class Servers:
    nats_url: str
    database_url: str


def _docker_servers() -> Iterator[Servers]:  # pragma: no cover - needs a Docker engine
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.postgres import PostgresContainer

    with (
        DockerContainer("nats:2.10").with_command("-js").with_exposed_ports(4222) as nats_c,
        PostgresContainer("pgvector/pgvector:pg16", driver=None) as pg,
    ):
        wait_for_logs(nats_c, "Server is ready")
        url = f"nats://{nats_c.get_container_host_ip()}:{nats_c.get_exposed_port(4222)}"
        yield Servers(url, pg.get_connection_url())


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    if os.environ.get("FTE_TEST_DOCKER") == "1":
        yield from _docker_servers()
        return
    # Short base path: PostgreSQL's Unix socket path must stay under ~100 bytes.
    with tempfile.TemporaryDirectory(prefix="fte-t") as tmp:
        nats = EmbeddedNats(Path(tmp) / "nats").start()
        postgres = EmbeddedPostgres(Path(tmp) / "pg").start()
        try:
            yield Servers(nats.url, postgres.url)
        finally:
            nats.stop()
            postgres.stop()


@pytest.fixture(scope="session")
async def prepared(servers: Servers) -> Servers:
    """Migrated database and provisioned streams."""
    await migrate(servers.database_url)
    bus = await Bus.connect(servers.nats_url)
    try:
        await provision(bus.js)
    finally:
        await bus.close()
    return servers


@pytest.fixture(scope="session")
def settings(prepared: Servers) -> Settings:
    return dataclasses.replace(
        Settings.from_env(),
        nats_url=prepared.nats_url,
        database_url=prepared.database_url,
        host="127.0.0.1",
        port=free_port(),
        worker_concurrency=8,
    )


@pytest.fixture(scope="session")
async def stack(settings: Settings) -> AsyncIterator[object]:
    """All seven services in this process, serving HTTP on a free port, with the demo KB."""
    from services.stack import Stack

    running = Stack(settings, demo=True)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def http(stack: object) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=10) as client:  # type: ignore[attr-defined]
        yield client


@pytest.fixture
async def bus(prepared: Servers) -> AsyncIterator[Bus]:
    connected = await Bus.connect(prepared.nats_url)
    try:
        yield connected
    finally:
        await connected.close()


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return SPANS
