"""The metrics service: its own durable consumer per stream, counters in PostgreSQL, two views."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import asyncpg
from litestar import Request, Router, get
from prometheus_client.core import REGISTRY, GaugeMetricFamily

from services.metrics.counting import METRICS, counters_for
from shared.batch import BatchWorker
from shared.channels import channel_states
from shared.runtime import Runtime, ServiceParts
from subjects import Event, consumer
from subjects.names import CHANNELS

CONSUMERS = ("metrics-inbound", "metrics-outbound", "metrics-events")


async def count_events(tx: asyncpg.Connection, events: list[Event]) -> None:
    totals = Counter(pair for event in events for pair in counters_for(event))
    if not totals:
        return
    await tx.execute(
        """INSERT INTO channel_metrics (channel, metric, value)
           SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
           ON CONFLICT (channel, metric)
           DO UPDATE SET value = channel_metrics.value + EXCLUDED.value, updated_at = now()""",
        [channel for channel, _ in totals],
        [metric for _, metric in totals],
        list(totals.values()),
    )


async def channel_snapshot(runtime: Runtime) -> dict[str, dict[str, int]]:
    rows = await runtime.pool.fetch("SELECT channel, metric, value FROM channel_metrics")
    snapshot = {channel: dict.fromkeys(METRICS, 0) for channel in CHANNELS}
    for row in rows:
        snapshot.setdefault(row["channel"], dict.fromkeys(METRICS, 0))[row["metric"]] = int(row["value"])
    return snapshot


class _ChannelCollector:
    """Exposes the last snapshot to Prometheus (collectors are synchronous)."""

    def __init__(self) -> None:
        self.snapshot: dict[str, dict[str, int]] = {}

    def collect(self):  # type: ignore[no-untyped-def]
        family = GaugeMetricFamily(
            "fte_channel_total", "Counts per channel since the start", labels=["channel", "metric"]
        )
        for channel, metrics in self.snapshot.items():
            for metric, value in metrics.items():
                family.add_metric([channel, metric], value)
        yield family


_collector = _ChannelCollector()
REGISTRY.register(_collector)  # type: ignore[arg-type]


@get("/metrics/channels")
async def channels_view(request: Request) -> dict[str, Any]:
    runtime: Runtime = request.app.state.runtime
    snapshot = await channel_snapshot(runtime)
    _collector.snapshot = snapshot
    enabled = {c.name: c.enabled for c in channel_states(runtime.settings)}
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "channels": {name: {"enabled": enabled.get(name, False), **values} for name, values in snapshot.items()},
    }


def build(runtime: Runtime) -> ServiceParts:
    async def refresh() -> None:
        while True:
            _collector.snapshot = await channel_snapshot(runtime)
            await asyncio.sleep(15)

    workers = [
        BatchWorker(spec=consumer(name), handler=count_events, bus=runtime.bus, pool=runtime.pool) for name in CONSUMERS
    ]
    return ServiceParts(
        name="metrics",
        routes=[Router(path="/", route_handlers=[channels_view])],
        workers=workers,
        background=[refresh],
    )
