"""Which counters an event moves. A plain function of the event."""

from __future__ import annotations

from subjects import DeliveryEvent, EscalationEvent, Event, InboundMessage, OutboundMessage, TicketStatusEvent

METRICS = ("messages_in", "replies", "escalations", "delivered", "delivery_failed", "resolved")


def counters_for(event: Event) -> list[tuple[str, str]]:
    """(channel, metric) pairs to increment by one."""
    match event:
        case InboundMessage(channel=channel):
            return [(channel, "messages_in")]
        case OutboundMessage(channel=channel):
            return [(channel, "replies")]
        case EscalationEvent(channel=channel):
            return [(channel, "escalations")]
        case DeliveryEvent(channel=channel, status=status) if status in ("delivered", "sent"):
            return [(channel, "delivered")]
        case DeliveryEvent(channel=channel, status=status) if status in ("failed", "undelivered"):
            return [(channel, "delivery_failed")]
        case TicketStatusEvent(channel=channel, status="resolved"):
            return [(channel, "resolved")]
    return []
