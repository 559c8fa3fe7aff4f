"""One trace spans ingress-web -> identity -> agent -> dispatcher."""

from __future__ import annotations

import httpx
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.helpers import eventually, submission


async def test_one_trace_from_the_form_to_the_delivery(http: httpx.AsyncClient, spans: InMemorySpanExporter) -> None:
    body = submission(email="trace.me@example.com", phone="+1 415 555 0100")
    response = await http.post("/support/submit", json=body)
    assert response.status_code == 201
    ticket_id = response.json()["ticket_id"]

    def trace_of_ticket() -> list | None:
        finished = spans.get_finished_spans()
        publish = [
            s
            for s in finished
            if s.kind == SpanKind.PRODUCER and s.attributes.get("messaging.message.id") == f"web:{ticket_id}"
        ]
        if not publish:
            return None
        trace_id = publish[0].context.trace_id
        in_trace = [s for s in finished if s.context.trace_id == trace_id]
        consumers = {s.attributes.get("messaging.consumer.group.name") for s in in_trace if s.kind == SpanKind.CONSUMER}
        return in_trace if {"identity", "agent", "dispatcher"} <= consumers else None

    async def check() -> list | None:
        return trace_of_ticket()

    in_trace = await eventually(check, timeout=10)
    names = [s.name for s in in_trace]
    assert any(s.kind == SpanKind.SERVER and "/support/submit" in s.name for s in in_trace), names
    for subject in ("fte.inbound.web", "fte.work.web", "fte.outbound.web"):
        assert f"process {subject}" in names, names
    # Identifiers never reach span attributes or names.
    for s in in_trace:
        text = f"{s.name} {dict(s.attributes or {})}"
        assert "trace.me@example.com" not in text and "555 0100" not in text
