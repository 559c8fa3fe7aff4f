"""Acknowledging earlier contact on another channel ("I see you emailed us on 20 November...")."""

from __future__ import annotations

import re

from services.agent.brain import HistoryEntry

_VERBS = {
    "email": "emailed us",
    "whatsapp": "messaged us on WhatsApp",
    "web": "wrote to us through our support form",
}
_TOPIC_WORDS = 8


def prior_contact(previous_channel: str | None, history: list[HistoryEntry] | tuple[HistoryEntry, ...]) -> str | None:
    """A sentence about the customer's last message on the channel they came from, if they switched."""
    if not previous_channel:
        return None
    earlier = [h for h in history if h.channel == previous_channel and h.role == "customer"]
    if not earlier:
        return None
    last = earlier[-1]
    day = f"{last.created_at.day} {last.created_at:%B}"
    return f"I see you {_VERBS.get(previous_channel, 'contacted us')} on {day} about {topic(last.content)}."


def topic(text: str) -> str:
    words = re.sub(r"\s+", " ", text).strip().split(" ")
    snippet = " ".join(words[:_TOPIC_WORDS]).rstrip(".,;:!?")
    return f'"{snippet}..."' if len(words) > _TOPIC_WORDS else f'"{snippet}"'
