"""A Gmail API message (``format=raw``) -> the InboundMessage the mesh publishes, or the reason to skip it.

Pure: no I/O. Skipped are messages outside the INBOX, drafts and spam, our own outgoing mail and auto-replies
(out-of-office, bounces, mailing lists): answering any of them could start a mail loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.ingress_gmail.mime import ParsedEmail, is_own_message, parse_raw
from subjects import Attachment, InboundMessage

# The agent answers what a person writes; a longer body is cut (the stream's messages stay small).
MAX_BODY_CHARS = 20_000
_SKIP_LABELS = ("DRAFT", "SPAM", "TRASH")


@dataclass(frozen=True)
class Skipped:
    reason: str


def event_id(gmail_id: str) -> str:
    return f"gmail:{gmail_id}"


def to_inbound(message: Mapping[str, Any], *, mailbox: str) -> InboundMessage | Skipped:
    labels = set(message.get("labelIds") or ())
    if "INBOX" not in labels:
        return Skipped("not in the inbox")
    if skip := next((label for label in _SKIP_LABELS if label in labels), None):
        return Skipped(f"labelled {skip}")
    try:
        parsed = parse_raw(message.get("raw") or "")
    except ValueError:
        return Skipped("unparseable message")
    if reason := _loop_risk(parsed, mailbox):
        return Skipped(reason)
    if not parsed.from_address or "@" not in parsed.from_address:
        return Skipped("no sender address")
    gmail_id = str(message["id"])
    return InboundMessage(
        event_id=event_id(gmail_id),
        channel="email",
        received_at=_received_at(message, parsed),
        body=_body(parsed),
        sender_name=parsed.from_name,
        email=parsed.from_address,
        subject=parsed.subject or None,
        provider_message_id=gmail_id,
        thread_id=message.get("threadId"),
        references=thread_references(parsed),
        attachments=tuple(
            Attachment(filename=a.filename, content_type=a.content_type, size=a.size) for a in parsed.attachments
        ),
    )


def thread_references(parsed: ParsedEmail) -> tuple[str, ...]:
    """This message's own Message-ID first (what a reply's In-Reply-To names), then the conversation's chain from
    its References, oldest first (what a reply's References repeats before that Message-ID)."""
    chain = [ref for ref in parsed.references if ref != parsed.message_id]
    if parsed.in_reply_to and parsed.in_reply_to not in chain and parsed.in_reply_to != parsed.message_id:
        chain.append(parsed.in_reply_to)
    return tuple([parsed.message_id, *chain] if parsed.message_id else chain)


def _loop_risk(parsed: ParsedEmail, mailbox: str) -> str | None:
    if is_own_message(parsed, mailbox):
        return "sent from our own mailbox"
    domain = mailbox.rpartition("@")[2].lower()
    if (
        parsed.message_id
        and parsed.message_id.lower().startswith("<fte-")
        and parsed.message_id.lower().endswith(f"@{domain}>")
    ):
        return "one of our own replies"
    if parsed.is_auto_reply:
        return "automatic reply"
    return None


def _received_at(message: Mapping[str, Any], parsed: ParsedEmail) -> datetime:
    internal = message.get("internalDate")
    if internal is not None and str(internal).isdigit():
        return datetime.fromtimestamp(int(internal) / 1000, UTC)
    if parsed.date is not None and parsed.date.tzinfo is not None:
        return parsed.date.astimezone(UTC)
    return datetime.now(UTC)


def _body(parsed: ParsedEmail) -> str:
    body = parsed.body.strip()
    if not body:
        if parsed.attachments:
            names = ", ".join(a.filename or a.content_type for a in parsed.attachments)
            body = f"(no text; attachments: {names})"
        else:
            body = parsed.subject.strip() or "(empty message)"
    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS].rstrip() + "\n[…]"
    return body
