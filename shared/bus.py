"""The bus: a NATS connection and traced, deduplicated JetStream publishing."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from shared.telemetry import inject_headers, tracer
from subjects import Event, encode_event, stream_for_subject

log = logging.getLogger(__name__)
_tracer = tracer("fte.bus")

MSG_ID_HEADER = "Nats-Msg-Id"


@dataclass(frozen=True, slots=True)
class Publication:
    """An event a handler wants published once its transaction has committed."""

    subject: str
    event: Event

    @property
    def msg_id(self) -> str:
        return self.event.event_id


class Bus:
    def __init__(self, nc: NatsClient) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=10)

    @classmethod
    async def connect(cls, url: str, *, name: str = "fte") -> Bus:
        bus: Bus | None = None

        async def on_disconnect() -> None:
            if bus is not None and not (bus.nc.is_closed or bus.nc.is_draining):
                log.warning("nats disconnected; reconnecting")

        nc = await nats.connect(
            url,
            name=name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=5,
            error_cb=_log_error,
            disconnected_cb=on_disconnect,
        )
        bus = cls(nc)
        return bus

    async def publish(self, publication: Publication) -> PubAck:
        return await self.publish_raw(publication.subject, encode_event(publication.event), msg_id=publication.msg_id)

    async def publish_raw(
        self, subject: str, payload: bytes, *, msg_id: str, headers: dict[str, str] | None = None
    ) -> PubAck:
        """Publish with a deterministic ``Nats-Msg-Id``: a repeat inside the window is stored once."""
        stream = stream_for_subject(subject).name
        with _tracer.start_as_current_span(
            f"publish {subject}",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": subject,
                "messaging.message.id": msg_id,
            },
        ) as span:
            carrier = inject_headers(headers)
            carrier[MSG_ID_HEADER] = msg_id
            ack = await self.js.publish(subject, payload, headers=carrier, stream=stream)
            span.set_attribute("messaging.nats.duplicate", bool(ack.duplicate))
            span.set_attribute("messaging.nats.stream_sequence", ack.seq)
            return ack

    async def ping(self) -> bool:
        if not self.nc.is_connected:
            return False
        try:
            await self.nc.flush(timeout=2)
        except Exception:
            return False
        return True

    async def close(self) -> None:
        if self.nc.is_closed:
            return
        try:
            await self.nc.drain()
        except Exception:
            await self.nc.close()


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return f"{ctx.trace_id:032x}" if ctx.is_valid else None


async def _log_error(exc: Exception) -> None:
    log.warning("nats error: %s", exc)
