"""The honest message sent when a conversation is handed to a person."""

from __future__ import annotations

from datetime import datetime

from services.agent.policy.config import PolicyConfig
from services.agent.policy.hours import describe_when

_NAME_LIMIT = 60
_FALLBACK_NAME = "there"


def escalation_acknowledgment(
    reason_code: str, *, name: str | None, ticket_ref: str, now: datetime, config: PolicyConfig
) -> str:
    """Says that a person will answer and when; never answers the question itself."""
    if not ticket_ref.strip():
        raise ValueError("an acknowledgment needs a ticket reference")
    values = {"name": _display_name(name), "ticket": ticket_ref.strip(), "when": describe_when(now, config)}
    return config.template_for(reason_code).format_map(values)


def _display_name(name: str | None) -> str:
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in name or "").split())
    return cleaned[:_NAME_LIMIT].rstrip() or _FALLBACK_NAME
