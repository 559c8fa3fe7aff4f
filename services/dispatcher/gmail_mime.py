"""Building the RFC 822 reply the Gmail sender sends: pure functions, no I/O.

A reply carries the conversation's threading headers (In-Reply-To, References), ``Re: <original subject>``, a
deterministic Message-ID derived from our message id (so an attempt whose outcome is unknown can be found again),
RFC 3834 ``Auto-Submitted: auto-replied`` (other robots do not answer it: no mail loops) and a
multipart/alternative body with text/plain and text/html.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, getaddresses

MAX_REFERENCES = 20
_RE_PREFIX = re.compile(r"^\s*((re|aw|sv|antw)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_MSG_ID = re.compile(r"<[^<>\s]+>")
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")


class InvalidReply(ValueError):
    """The reply cannot be addressed (no or invalid recipient): retrying cannot help."""


@dataclass(frozen=True)
class Threading:
    thread_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    original_subject: str | None = None


def reply_subject(subject: str | None) -> str:
    """``Re: <subject>`` with exactly one ``Re:`` (also folds ``RE:``, ``Re[2]:``, ``AW:``)."""
    text = _one_line(subject or "")
    stripped = _RE_PREFIX.sub("", text).strip()
    return f"Re: {stripped or '(no subject)'}"


def reply_message_id(message_id: str, mailbox: str) -> str:
    """The Message-ID of our reply with id ``message_id``: the same on every attempt."""
    domain = mailbox.rpartition("@")[2].strip().lower() or "localhost"
    return f"<fte-{message_id}@{domain}>"


def normalize_msg_id(value: str | None) -> str | None:
    if not value:
        return None
    found = _MSG_ID.findall(value)
    if found:
        return found[0]
    value = value.strip()
    return f"<{value}>" if value and " " not in value else None


def reply_references(references: Iterable[str], in_reply_to: str | None) -> tuple[str, ...]:
    """The References of a reply: the conversation's chain, oldest first, ending with the message answered."""
    chain: list[str] = []
    for ref in references:
        for msg_id in _MSG_ID.findall(ref) or [normalize_msg_id(ref)]:
            if msg_id and msg_id not in chain and msg_id != in_reply_to:
                chain.append(msg_id)
    if in_reply_to:
        chain.append(in_reply_to)
    # Keep the first (the thread's root) and the most recent ones, as RFC 5322 suggests for long chains.
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return tuple(chain)


def text_to_html(text: str) -> str:
    """A safe HTML rendering of plain text: everything escaped, paragraphs and line breaks kept."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()) if p.strip()]
    body = "\n".join("<p>" + "<br>\n".join(html.escape(line) for line in p.split("\n")) + "</p>" for p in paragraphs)
    return f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n{body}\n</body></html>\n'


def recipient_address(recipient: str | None) -> str:
    """The one address the reply goes to; anything else (several, line breaks, malformed) is refused."""
    value = recipient or ""
    pairs = getaddresses([value])
    address = pairs[0][1].strip() if len(pairs) == 1 else ""
    if re.search(r"[\r\n]", value) or not address or not _ADDRESS.match(address):
        raise InvalidReply("the reply has no valid recipient address")
    return address


def build_reply(
    *,
    mailbox: str,
    sender_name: str | None,
    recipient: str | None,
    subject: str | None,
    body_text: str,
    body_html: str | None,
    message_id: str,
    threading: Threading,
    date: datetime | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((_one_line(sender_name or ""), mailbox)) if sender_name else mailbox
    msg["To"] = recipient_address(recipient)
    msg["Subject"] = reply_subject(subject or threading.original_subject)
    msg["Date"] = format_datetime(date or datetime.now(UTC))
    msg["Message-ID"] = message_id
    if threading.in_reply_to:
        msg["In-Reply-To"] = threading.in_reply_to
    references = reply_references(threading.references, threading.in_reply_to)
    if references:
        msg["References"] = " ".join(references)
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    for name, value in (extra_headers or {}).items():
        msg[name] = _one_line(value)
    msg.set_content(body_text, subtype="plain", charset="utf-8")
    msg.add_alternative(
        body_html if body_html is not None else text_to_html(body_text), subtype="html", charset="utf-8"
    )
    return msg


def encode_raw(msg: EmailMessage) -> str:
    """The base64url ``raw`` field of ``users.messages.send``."""
    return base64.urlsafe_b64encode(msg.as_bytes()).decode("ascii")


def _one_line(value: str) -> str:
    """Header values never carry line breaks (no header injection from customer-controlled text)."""
    return re.sub(r"[\r\n\t]+", " ", value).strip()


def message_ids(values: Sequence[str]) -> tuple[str, ...]:
    """Every Message-ID found in ``values`` (bare ids get their angle brackets), in order."""
    found: list[str] = []
    for value in values:
        ids = _MSG_ID.findall(value)
        single = normalize_msg_id(value)
        found.extend(ids or ([single] if single else []))
    return tuple(found)
