"""Event structs carried on the subjects.

Rules (msgspec schema evolution): structs are frozen and keyword-only; a new field always gets a
default; a breaking change gets a new tag (``inbound.v2``) and both are decoded until the old one
has aged out of the streams.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

from subjects.names import ChannelName

Channel = ChannelName
TicketStatus = Literal["open", "processing", "answered", "escalated", "resolved"]
DeliveryStatus = Literal["queued", "sending", "sent", "delivered", "read", "failed", "undelivered"]


class _Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    # Deterministic id, also the Nats-Msg-Id of the publication.
    event_id: str


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    filename: str | None = None
    content_type: str
    size: int | None = None
    url: str | None = None


class InboundMessage(_Event, tag="inbound.v1"):
    """A customer message as an ingress received it. No business logic has touched it."""

    channel: Channel
    received_at: datetime
    body: str
    sender_name: str | None = None
    email: str | None = None
    phone: str | None = None
    subject: str | None = None
    category: str | None = None
    # The web form assigns the ticket id up front so that it can answer with it.
    ticket_id: str | None = None
    provider_message_id: str | None = None
    thread_id: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()


class WorkItem(_Event, tag="work.v1"):
    """An inbound message resolved to a customer, conversation and ticket."""

    inbound_event_id: str
    channel: Channel
    customer_id: str
    conversation_id: str
    message_id: str
    ticket_id: str
    previous_channel: Channel | None = None


class OutboundMessage(_Event, tag="outbound.v1"):
    """A reply the dispatcher must deliver exactly once."""

    channel: Channel
    customer_id: str
    conversation_id: str
    ticket_id: str
    message_id: str
    body_text: str
    body_html: str | None = None
    parts: tuple[str, ...] = ()
    subject: str | None = None
    recipient: str | None = None
    thread_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    escalated: bool = False
    # When the customer last wrote on this channel (WhatsApp's 24-hour free-form window).
    customer_last_message_at: datetime | None = None


class DeliveryEvent(_Event, tag="delivery.v1"):
    channel: Channel
    message_id: str
    ticket_id: str
    status: DeliveryStatus
    provider_message_id: str | None = None
    error: str | None = None


class DeliveryCallback(_Event, tag="callback.v1"):
    """A provider's report on a message we sent (a Twilio status callback), as the ingress received it.

    Callbacks arrive late, repeated and out of order; the dispatcher applies them so that a
    message's delivery status never moves backwards."""

    channel: Channel
    provider_message_id: str
    status: DeliveryStatus
    received_at: datetime
    error_code: str | None = None


class EscalationEvent(_Event, tag="escalation.v1"):
    channel: Channel
    ticket_id: str
    conversation_id: str
    customer_id: str
    reason_code: str
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    summary: str = ""


class TicketStatusEvent(_Event, tag="ticket.status.v1"):
    ticket_id: str
    channel: Channel
    status: TicketStatus
    previous: TicketStatus | None = None


Event = (
    InboundMessage | WorkItem | OutboundMessage | DeliveryEvent | EscalationEvent | TicketStatusEvent | DeliveryCallback
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Event)


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(data: bytes) -> Event:
    """Decode any event; raises ``msgspec.DecodeError`` / ``ValidationError`` for poison input."""
    return _decoder.decode(data)
