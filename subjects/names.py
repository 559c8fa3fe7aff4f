"""Subject names. Every subject the mesh uses is built here."""

from __future__ import annotations

from typing import Literal

ChannelName = Literal["email", "whatsapp", "web"]
CHANNELS: tuple[ChannelName, ...] = ("email", "whatsapp", "web")

PREFIX = "fte"


class Subjects:
    """Builders for every subject; the only place that spells them."""

    inbound_all = f"{PREFIX}.inbound.*"
    work_all = f"{PREFIX}.work.*"
    outbound_all = f"{PREFIX}.outbound.*"
    events_all = f"{PREFIX}.events.>"
    dlq_all = f"{PREFIX}.dlq.>"
    everything = f"{PREFIX}.>"

    escalation = f"{PREFIX}.events.escalation"
    ticket_status = f"{PREFIX}.events.ticket.status"
    delivery_all = f"{PREFIX}.events.delivery.*"
    # Providers' delivery reports (Twilio status callbacks) as received, before they are applied.
    delivery_callback_all = f"{PREFIX}.events.callback.*"
    alerts = f"{PREFIX}.events.alert"

    # JetStream advisories that feed the dead-letter relay.
    advisory_max_deliveries = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}"
    advisory_terminated = "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.{stream}.{consumer}"

    @staticmethod
    def inbound(channel: ChannelName) -> str:
        return f"{PREFIX}.inbound.{channel}"

    @staticmethod
    def work(channel: ChannelName) -> str:
        return f"{PREFIX}.work.{channel}"

    @staticmethod
    def outbound(channel: ChannelName) -> str:
        return f"{PREFIX}.outbound.{channel}"

    @staticmethod
    def delivery(channel: ChannelName) -> str:
        return f"{PREFIX}.events.delivery.{channel}"

    @staticmethod
    def delivery_callback(channel: ChannelName) -> str:
        return f"{PREFIX}.events.callback.{channel}"

    @staticmethod
    def dlq(stream: str, consumer: str) -> str:
        return f"{PREFIX}.dlq.{stream.lower()}.{consumer}"

    @classmethod
    def advisories_for(cls, stream: str, consumer: str) -> tuple[str, str]:
        return (
            cls.advisory_max_deliveries.format(stream=stream, consumer=consumer),
            cls.advisory_terminated.format(stream=stream, consumer=consumer),
        )

    @staticmethod
    def channel_of(subject: str) -> str:
        """The last token of a per-channel subject (``fte.work.web`` -> ``web``)."""
        return subject.rsplit(".", 1)[-1]


class BenchSubjects:
    """Subjects of the bare relay that `fte bench e2e` measures the mesh against (not provisioned)."""

    stream = "FTE_BENCH_RELAY"
    all = "bench.relay.>"

    @staticmethod
    def hop(index: int) -> str:
        return f"bench.relay.hop{index}"
