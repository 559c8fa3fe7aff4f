"""Real servers for the whole test session: nats-server with JetStream and PostgreSQL with pgvector.

With FTE_TEST_DOCKER=1 and a Docker engine, testcontainers starts them instead.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.agent.embeddings import shared_embedder
from services.agent.kb import embed_missing
from services.fakes import RunningFake
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


STAND_INS = (
    ("twilio", "services.fakes.twilio", "start_fake_twilio"),
    ("gmail", "services.fakes.gmail", "start_fake_gmail"),
)


@pytest.fixture(scope="session")
def stack_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
async def fakes(stack_port: int) -> AsyncIterator[dict[str, RunningFake]]:
    """Local stand-ins for Twilio and Gmail (over real HTTP), pointed at the session stack's webhooks."""
    running: dict[str, RunningFake] = {}
    for name, module_name, starter in STAND_INS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        running[name] = await getattr(module, starter)(
            host="127.0.0.1", webhook_base_url=f"http://127.0.0.1:{stack_port}"
        )
    try:
        yield running
    finally:
        for fake in running.values():
            if fake.stop:
                await fake.stop()


@pytest.fixture(scope="session")
def settings(prepared: Servers, fakes: dict[str, RunningFake], stack_port: int) -> Settings:
    environ = {**os.environ, "FTE_PUBLIC_BASE_URL": f"http://127.0.0.1:{stack_port}"}
    for fake in fakes.values():
        environ.update(fake.env)
    return dataclasses.replace(
        Settings.from_env(environ),
        nats_url=prepared.nats_url,
        database_url=prepared.database_url,
        host="127.0.0.1",
        port=stack_port,
        worker_concurrency=8,
        staff_token="test-staff-token",
    )


@pytest.fixture(scope="session")
async def stack(settings: Settings) -> AsyncIterator[object]:
    """All seven services in this process, serving HTTP on a free port, with the demo KB."""
    from services.stack import Stack

    running = Stack(settings, demo=True)
    await running.start()
    embedder = shared_embedder(running.settings)
    if embedder is not None:  # answers are deterministic once every section is embedded
        await embed_missing(running.runtime.pool, embedder)
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
