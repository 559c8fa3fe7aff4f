"""Create or update every stream and durable consumer of the contract (idempotent)."""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from subjects import CONSUMERS, STREAMS, ConsumerSpec, StreamSpec

log = logging.getLogger(__name__)


def stream_config(spec: StreamSpec, *, replicas: int = 1) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        subjects=list(spec.subjects),
        description=spec.description,
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=float(spec.max_age_seconds),
        duplicate_window=float(spec.duplicate_window_seconds),
        max_msg_size=spec.max_msg_size,
        num_replicas=replicas,
    )


def consumer_config(spec: ConsumerSpec) -> ConsumerConfig:
    return ConsumerConfig(
        name=spec.durable,
        durable_name=spec.durable,
        description=spec.description,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=float(spec.ack_wait_seconds),
        max_deliver=spec.max_deliver,
        max_ack_pending=spec.max_ack_pending,
        filter_subject=spec.filter_subject,
        backoff=[float(s) for s in spec.backoff_seconds] or None,
    )


async def provision(js: JetStreamContext, *, replicas: int = 1) -> list[str]:
    """Create what is missing and update what changed; returns a line per object."""
    report: list[str] = []
    for spec in STREAMS:
        config = stream_config(spec, replicas=replicas)
        try:
            await js.stream_info(spec.name)
        except NotFoundError:
            await js.add_stream(config)
            report.append(f"stream {spec.name}: created")
        else:
            await js.update_stream(config)
            report.append(f"stream {spec.name}: up to date")
    for spec in CONSUMERS:
        # CONSUMER.CREATE with an existing name creates or updates (nats-server >= 2.10).
        await js.add_consumer(spec.stream, consumer_config(spec))
        report.append(f"consumer {spec.stream}/{spec.durable}: ready")
    return report
