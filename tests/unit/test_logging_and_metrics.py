"""Logs are JSON with the trace id and no personal identifiers; metrics count per channel."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from opentelemetry import trace

from services.metrics.counting import counters_for
from shared.logging import JsonFormatter
from shared.redact import redact
from subjects import DeliveryEvent, EscalationEvent, InboundMessage, TicketStatusEvent


def test_redact_masks_emails_and_phone_numbers() -> None:
    text = "from Ana.Ruiz+x@example.co.uk at whatsapp:+14155550100 or (415) 555-0199, order 42"
    masked = redact(text)
    assert "Ana.Ruiz" not in masked and "example.co.uk" not in masked
    assert "4155550100" not in masked and "555-0199" not in masked
    assert "A***@***" in masked and "***00" in masked and "order 42" in masked


def test_json_logs_carry_the_trace_id_and_redact() -> None:
    tracer = trace.get_tracer("test")
    record = logging.makeLogRecord(
        {"name": "x", "levelno": logging.INFO, "levelname": "INFO", "msg": "mail from %s", "args": ("a@b.com",)}
    )
    with tracer.start_as_current_span("work") as span:
        line = json.loads(JsonFormatter().format(record))
        assert line["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert line["message"] == "mail from a***@***"
    assert line["level"] == "info"


def test_counters_per_event() -> None:
    now = datetime.now(UTC)
    assert counters_for(InboundMessage(event_id="e", channel="email", received_at=now, body="x")) == [
        ("email", "messages_in")
    ]
    escalation = EscalationEvent(
        event_id="e", channel="whatsapp", ticket_id="t", conversation_id="c", customer_id="u", reason_code="r"
    )
    assert counters_for(escalation) == [("whatsapp", "escalations")]
    failed = DeliveryEvent(event_id="e", channel="web", message_id="m", ticket_id="t", status="failed")
    assert counters_for(failed) == [("web", "delivery_failed")]
    read = DeliveryEvent(event_id="e", channel="web", message_id="m", ticket_id="t", status="read")
    assert counters_for(read) == []
    resolved = TicketStatusEvent(event_id="e", ticket_id="t", channel="web", status="resolved")
    assert counters_for(resolved) == [("web", "resolved")]
