"""The subject contract: names, streams, consumers and events."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from subjects import (
    CONSUMERS,
    STREAMS,
    DeliveryEvent,
    InboundMessage,
    Subjects,
    decode_event,
    encode_event,
    stream_for_subject,
)
from subjects.names import CHANNELS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_channel_subject_has_exactly_one_stream(channel: str) -> None:
    assert stream_for_subject(Subjects.inbound(channel)).name == "FTE_INBOUND"
    assert stream_for_subject(Subjects.work(channel)).name == "FTE_WORK"
    assert stream_for_subject(Subjects.outbound(channel)).name == "FTE_OUTBOUND"
    assert stream_for_subject(Subjects.delivery(channel)).name == "FTE_EVENTS"


def test_events_and_dlq_streams() -> None:
    assert stream_for_subject(Subjects.escalation).name == "FTE_EVENTS"
    assert stream_for_subject(Subjects.ticket_status).name == "FTE_EVENTS"
    assert stream_for_subject(Subjects.dlq("FTE_WORK", "agent")).name == "FTE_DLQ"
    with pytest.raises(LookupError):
        stream_for_subject("other.subject")


def test_streams_keep_history_for_replay() -> None:
    for spec in STREAMS:
        assert spec.max_age_seconds >= 14 * 24 * 3600
        assert spec.duplicate_window_seconds == 600


def test_every_consumer_reads_a_declared_stream_within_its_subjects() -> None:
    streams = {s.name: s for s in STREAMS}
    for spec in CONSUMERS:
        assert spec.stream in streams
        assert stream_for_subject(spec.filter_subject.replace("*", "web").replace(">", "x")).name == spec.stream
        if spec.backoff_seconds:
            assert spec.max_deliver > len(spec.backoff_seconds)
    assert len({c.durable for c in CONSUMERS}) == len(CONSUMERS)


def test_events_round_trip_with_their_tag() -> None:
    event = InboundMessage(
        event_id="web:abc", channel="web", received_at=datetime.now(UTC), body="hello", email="a@example.com"
    )
    raw = encode_event(event)
    assert b'"type":"inbound.v1"' in raw
    assert decode_event(raw) == event


def test_an_older_producer_without_new_fields_still_decodes() -> None:
    raw = b'{"type":"delivery.v1","event_id":"d:1","channel":"web","message_id":"m","ticket_id":"t","status":"sent"}'
    event = decode_event(raw)
    assert isinstance(event, DeliveryEvent) and event.provider_message_id is None


@pytest.mark.parametrize(
    "raw",
    [b"not json", b'{"type":"nope.v9","event_id":"x"}', b'{"type":"inbound.v1","event_id":"x","channel":"fax"}'],
)
def test_poison_payloads_raise(raw: bytes) -> None:
    with pytest.raises((msgspec.DecodeError, msgspec.ValidationError)):
        decode_event(raw)


def test_no_module_outside_the_contract_spells_a_subject() -> None:
    pattern = re.compile(r"""["']fte\.(inbound|work|outbound|events|dlq)[."'*>]""")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("services", "shared")
        for path in (ROOT / folder).rglob("*.py")
        if pattern.search(path.read_text())
    ]
    assert offenders == []
