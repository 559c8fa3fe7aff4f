"""What the harness observed for each ticket: the records the metrics are computed from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.eval.dataset import Ticket


@dataclass(frozen=True, slots=True)
class ReplyRecord:
    """The agent's reply row (``messages`` with role 'agent') as stored."""

    channel: str
    content: str
    grounding: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    latency_ms: int | None = None

    @property
    def grounded(self) -> bool:
        return self.grounding.get("grounded") is True

    @property
    def brain(self) -> str | None:
        brain = self.grounding.get("brain")
        return brain if isinstance(brain, str) else None

    @property
    def confidence(self) -> float | None:
        value = self.grounding.get("confidence")
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    @property
    def cited_documents(self) -> tuple[str, ...]:
        """The knowledge-base documents the reply cites, in order, once each."""
        citations = self.grounding.get("citations")
        found = [c.get("document") for c in citations if isinstance(c, Mapping)] if isinstance(citations, list) else []
        return tuple(dict.fromkeys(d for d in found if isinstance(d, str)))

    @property
    def html(self) -> str | None:
        html = self._format.get("html")
        return html if isinstance(html, str) else None

    @property
    def parts(self) -> tuple[str, ...]:
        """The messages the channel sends; a reply stored without a channel format is one part, its content."""
        parts = self._format.get("parts")
        if isinstance(parts, list | tuple) and parts:
            return tuple(str(p) for p in parts)
        return (self.content,)

    @property
    def _format(self) -> Mapping[str, Any]:
        fmt = self.metadata.get("format") if isinstance(self.metadata, Mapping) else None
        return fmt if isinstance(fmt, Mapping) else {}


@dataclass(frozen=True, slots=True)
class Outcome:
    ticket: Ticket
    sent: bool = True
    error: str | None = None  # why it could not be sent
    escalated: bool | None = None  # None: no outcome within the timeout
    reason_code: str | None = None
    reply: ReplyRecord | None = None
    e2e_ms: float | None = None  # from the send to the stored reply
    notes: tuple[str, ...] = ()

    @property
    def decided(self) -> bool:
        return self.sent and self.escalated is not None
