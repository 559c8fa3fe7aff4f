"""Durable pull consumer specifications, one per worker."""

from __future__ import annotations

import msgspec

from subjects.names import Subjects
from subjects.streams import EVENTS, INBOUND, OUTBOUND, WORK


class ConsumerSpec(msgspec.Struct, frozen=True, kw_only=True):
    durable: str
    stream: str
    filter_subject: str
    description: str
    ack_wait_seconds: float = 30.0
    max_deliver: int = 5
    max_ack_pending: int = 256
    # Redelivery delays after a nak without explicit delay / after an ack timeout.
    backoff_seconds: tuple[float, ...] = ()
    # How long a handler may run before the worker sends `in_progress` to keep the message.
    heartbeat_seconds: float | None = None


IDENTITY = ConsumerSpec(
    durable="identity",
    stream=INBOUND.name,
    filter_subject=Subjects.inbound_all,
    description="Resolves the customer and conversation of each inbound message",
    ack_wait_seconds=30,
    backoff_seconds=(5, 30, 120),
    max_deliver=5,
)
AGENT = ConsumerSpec(
    durable="agent",
    stream=WORK.name,
    filter_subject=Subjects.work_all,
    description="Writes replies or escalates",
    ack_wait_seconds=60,
    max_deliver=4,
    heartbeat_seconds=15,
    max_ack_pending=64,
)
DISPATCHER = ConsumerSpec(
    durable="dispatcher",
    stream=OUTBOUND.name,
    filter_subject=Subjects.outbound_all,
    description="Delivers replies through the channel providers",
    ack_wait_seconds=60,
    backoff_seconds=(10, 60, 300, 300, 300),
    max_deliver=6,
)
DISPATCHER_CALLBACKS = ConsumerSpec(
    durable="dispatcher-callbacks",
    stream=EVENTS.name,
    filter_subject=Subjects.delivery_callback_all,
    description="Applies providers' delivery callbacks to the messages' delivery status",
    ack_wait_seconds=30,
    # A callback can overtake the dispatcher's record of the provider id: wait a little for it.
    backoff_seconds=(1, 2, 5, 15, 60),
    max_deliver=8,
)
METRICS_INBOUND = ConsumerSpec(
    durable="metrics-inbound",
    stream=INBOUND.name,
    filter_subject=Subjects.inbound_all,
    description="Counts inbound messages per channel",
    max_deliver=10,
)
METRICS_OUTBOUND = ConsumerSpec(
    durable="metrics-outbound",
    stream=OUTBOUND.name,
    filter_subject=Subjects.outbound_all,
    description="Counts replies per channel",
    max_deliver=10,
)
METRICS_EVENTS = ConsumerSpec(
    durable="metrics-events",
    stream=EVENTS.name,
    filter_subject=Subjects.events_all,
    description="Counts escalations and deliveries per channel",
    max_deliver=10,
)

CONSUMERS: tuple[ConsumerSpec, ...] = (
    IDENTITY,
    AGENT,
    DISPATCHER,
    DISPATCHER_CALLBACKS,
    METRICS_INBOUND,
    METRICS_OUTBOUND,
    METRICS_EVENTS,
)


def consumer(durable: str) -> ConsumerSpec:
    for spec in CONSUMERS:
        if spec.durable == durable:
            return spec
    raise LookupError(f"unknown consumer {durable!r}")
