"""The dead-letter relay: copies messages that exhausted their deliveries (or were terminated)
to ``fte.dlq.<stream>.<consumer>`` with the reason, so that a person can look and replay."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence

from nats.aio.subscription import Subscription

from shared.bus import Bus
from subjects import ConsumerSpec, Subjects

log = logging.getLogger(__name__)


class DeadLetterRelay:
    def __init__(self, bus: Bus, specs: Sequence[ConsumerSpec]) -> None:
        self.bus = bus
        self.specs = list(specs)
        self._subs: list[Subscription] = []

    async def start(self) -> None:
        for spec in self.specs:
            max_deliveries, terminated = Subjects.advisories_for(spec.stream, spec.durable)
            for subject, reason in ((max_deliveries, "max_deliveries"), (terminated, "terminated")):
                self._subs.append(await self.bus.nc.subscribe(subject, cb=self._make_cb(spec, reason)))

    def _make_cb(self, spec: ConsumerSpec, reason: str):  # type: ignore[no-untyped-def]
        async def on_advisory(msg) -> None:  # type: ignore[no-untyped-def]
            try:
                advisory = json.loads(msg.data)
                seq = int(advisory["stream_seq"])
                await self.relay(spec, seq, reason)
            except Exception:
                log.exception("dead-letter relay failed for %s", spec.durable)

        return on_advisory

    async def relay(self, spec: ConsumerSpec, seq: int, reason: str) -> None:
        original = await self.bus.js.get_msg(spec.stream, seq)
        headers = {
            "Fte-Dlq-Reason": reason,
            "Fte-Dlq-Stream": spec.stream,
            "Fte-Dlq-Consumer": spec.durable,
            "Fte-Dlq-Sequence": str(seq),
            "Fte-Dlq-Subject": original.subject,
        }
        for key, value in (original.headers or {}).items():
            if key.lower() in ("traceparent", "tracestate", "nats-msg-id"):
                headers[f"Fte-Original-{key}"] = value
        await self.bus.publish_raw(
            Subjects.dlq(spec.stream, spec.durable),
            original.data or b"",
            msg_id=f"dlq:{spec.stream}:{spec.durable}:{seq}",
            headers=headers,
        )
        log.warning("dead-lettered %s seq %d from %s (%s)", spec.stream, seq, spec.durable, reason)

    async def stop(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):  # the connection may already be closed
                await sub.unsubscribe()
        self._subs.clear()
