"""The subject contract: names, streams, consumers and event structs.

Nothing outside this package spells a subject string or a stream name.
"""

from subjects.consumers import CONSUMERS, ConsumerSpec, consumer
from subjects.events import (
    Attachment,
    Channel,
    DeliveryCallback,
    DeliveryEvent,
    EscalationEvent,
    Event,
    InboundMessage,
    OutboundMessage,
    TicketStatusEvent,
    WorkItem,
    decode_event,
    encode_event,
)
from subjects.names import Subjects
from subjects.streams import STREAMS, StreamSpec, stream_for_subject

__all__ = [
    "CONSUMERS",
    "STREAMS",
    "Attachment",
    "Channel",
    "ConsumerSpec",
    "DeliveryCallback",
    "DeliveryEvent",
    "EscalationEvent",
    "Event",
    "InboundMessage",
    "OutboundMessage",
    "StreamSpec",
    "Subjects",
    "TicketStatusEvent",
    "WorkItem",
    "consumer",
    "decode_event",
    "encode_event",
    "stream_for_subject",
]
