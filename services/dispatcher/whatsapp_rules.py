"""WhatsApp delivery rules as plain functions: parts, the 24-hour window, templates, provider errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

PART_LIMIT = 300  # what the agent aims for; far below Twilio's 1600-character limit
WINDOW = timedelta(hours=24)  # WhatsApp's customer-service window for free-form messages
MAX_RETRY_AFTER = 300.0

_PARAGRAPHS = re.compile(r"\n[ \t]*\n\s*")
# After ., ! or ? - but not after a list number ("1. Open the page").
_SENTENCE_END = re.compile(r"(?<=[.!?…])(?<!\b\d\.)(?<!\b\d\d\.)\s+(?=\S)")

ErrorKind = Literal["retry", "rate_limited", "permanent"]


def split_parts(text: str, limit: int = PART_LIMIT) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut between sentences where possible
    (then between words, and only a word longer than a part is cut inside)."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for separator, piece in _units(text, limit):
        if not current:
            current = piece
        elif len(current) + len(separator) + len(piece) <= limit:
            current += separator + piece
        else:
            parts.append(current)
            current = piece
    if current:
        parts.append(current)
    return parts


def normalise_parts(parts: tuple[str, ...], body_text: str, limit: int = PART_LIMIT) -> list[str]:
    """The agent's parts when it made them (any that is too long is split again), else ``body_text`` split."""
    if not parts:
        return split_parts(body_text, limit)
    return [piece for part in parts for piece in split_parts(part, limit)]


def _units(text: str, limit: int) -> list[tuple[str, str]]:
    """(separator before it, text) for every sentence-sized piece, keeping paragraph and line breaks."""
    units: list[tuple[str, str]] = []
    for p, paragraph in enumerate(_PARAGRAPHS.split(text)):
        lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
        for n, line in enumerate(lines):
            for s, sentence in enumerate(_SENTENCE_END.split(line)):
                separator = " "
                if s == 0 and n == 0 and p > 0:
                    separator = "\n\n"
                elif s == 0 and n > 0:
                    separator = "\n"
                for i, piece in enumerate(_wrap(sentence, limit)):
                    units.append((separator if i == 0 else " ", piece))
    return units


def _wrap(sentence: str, limit: int) -> list[str]:
    if len(sentence) <= limit:
        return [sentence]
    pieces: list[str] = []
    current = ""
    for word in sentence.split():
        while len(word) > limit:  # a URL or a token with no space in it
            if current:
                pieces.append(current)
                current = ""
            pieces.append(word[:limit])
            word = word[limit:]
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= limit:
            current += " " + word
        else:
            pieces.append(current)
            current = word
    if current:
        pieces.append(current)
    return pieces


def within_window(last_inbound_at: datetime | None, now: datetime, window: timedelta = WINDOW) -> bool:
    """May we send free-form text? Only within 24 hours of the customer's last message."""
    return last_inbound_at is not None and now - last_inbound_at < window


def template_variables(*, brand: str, ticket_id: str, public_base_url: str | None) -> dict[str, str]:
    """Variables of the approved template sent outside the window: {{1}} the brand, {{2}} the ticket
    (its status page when the public URL is known, so the customer can read the answer there)."""
    reference = f"{public_base_url.rstrip('/')}/support/ticket/{ticket_id}" if public_base_url else ticket_id
    return {"1": brand, "2": reference}


def whatsapp_address(number: str) -> str:
    """``whatsapp:+E164`` from a number with or without the channel prefix."""
    number = number.strip()
    return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


def classify_error(status: int) -> ErrorKind:
    """What a Twilio error response means for the next attempt.

    Credentials and account errors (401, 403, 404) are retried: every message fails alike until a
    person fixes the configuration, and the circuit breaker keeps the calls down meanwhile."""
    if status == 429:
        return "rate_limited"
    if status >= 500 or status in (401, 403, 404, 408):
        return "retry"
    return "permanent"  # invalid number, rejected content, a template problem: retrying cannot help


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
