"""The email channel's sender: ``users.messages.send`` in the customer's Gmail thread.

Threading comes from the outbound message when the agent filled it in; otherwise from the message being answered,
whose Gmail id the reply's event id names (``reply:gmail:<id>``, see docs/architecture.md), fetched with
``format=metadata``. Every reply has a deterministic Message-ID, so after an attempt whose outcome is unknown
``find_sent`` searches the mailbox (``rfc822msgid:``) before anything is sent again.
"""

from __future__ import annotations

import logging

from services.dispatcher.gmail_mime import (
    InvalidReply,
    Threading,
    build_reply,
    encode_raw,
    message_ids,
    normalize_msg_id,
    reply_message_id,
)
from services.dispatcher.senders import SendError
from shared.gmail_api import GmailApi, GmailApiError, header_map
from shared.settings import Settings
from subjects import OutboundMessage

log = logging.getLogger(__name__)

REPLY_ID_HEADER = "X-Fte-Reply-Id"
_ORIGINAL_HEADERS = ("Message-ID", "References", "Subject")
# Refusals that retrying cannot fix (a malformed or unaddressable message, one too large).
_PERMANENT = frozenset({400, 404, 413, 422})
_RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})


def original_gmail_id(event_id: str) -> str | None:
    """The Gmail id of the message a reply answers, from the reply's event id ``reply:gmail:<id>``."""
    prefix = "reply:gmail:"
    if not event_id.startswith(prefix):
        return None
    return event_id[len(prefix) :] or None


def send_error(exc: GmailApiError) -> SendError:
    """Map a Gmail API failure onto the dispatcher's retry rules."""
    status = exc.status
    if status is None:  # timeout or network: transient, and the message may have gone out (find_sent)
        return SendError(str(exc))
    if status == 429 or (status == 403 and _RATE_LIMIT_REASONS & set(exc.reasons)):
        return SendError(f"Gmail rate limit ({status})", retry_after=exc.retry_after)
    if status in _PERMANENT:
        return SendError(f"Gmail refused the message ({status})", permanent=True)
    return SendError(f"Gmail API error ({status})", retry_after=exc.retry_after)


class GmailSender:
    channel = "email"
    accepted_status = "sent"

    def __init__(self, settings: Settings, *, api: GmailApi | None = None, timeout: float = 30.0) -> None:
        self.api = api or GmailApi(settings, timeout=timeout)
        self.mailbox = self.api.mailbox
        self.sender_name = settings.brand

    async def send(self, message: OutboundMessage) -> str:
        threading = await self._threading(message)
        try:
            mime = build_reply(
                mailbox=self.mailbox,
                sender_name=self.sender_name,
                recipient=message.recipient,
                subject=message.subject,
                body_text=message.body_text,
                body_html=message.body_html,
                message_id=reply_message_id(message.message_id, self.mailbox),
                threading=threading,
                extra_headers={REPLY_ID_HEADER: message.message_id},
            )
        except InvalidReply as exc:
            raise SendError(str(exc), permanent=True) from exc
        raw = encode_raw(mime)
        try:
            try:
                sent = await self.api.send(raw, thread_id=threading.thread_id)
            except GmailApiError as exc:
                if exc.status != 404 or not threading.thread_id:
                    raise
                # The thread is gone from our mailbox; the headers still thread it for the customer.
                log.warning("gmail thread of %s no longer exists; sending outside it", message.event_id)
                sent = await self.api.send(raw)
        except GmailApiError as exc:
            raise send_error(exc) from exc
        return str(sent["id"])

    async def find_sent(self, message: OutboundMessage) -> str | None:
        msg_id = reply_message_id(message.message_id, self.mailbox)
        try:
            found = await self.api.list_messages(f"rfc822msgid:{msg_id.strip('<>')}", max_results=1)
            if found:
                return str(found[0]["id"])
            # Should Gmail have replaced our Message-ID, our own header still tells the reply in its thread.
            thread_id = (await self._threading(message)).thread_id
            thread = await self.api.get_thread(thread_id, headers=(REPLY_ID_HEADER,)) if thread_id else None
        except GmailApiError as exc:
            raise send_error(exc) from exc
        for item in (thread or {}).get("messages", []):
            if header_map(item).get(REPLY_ID_HEADER.lower()) == message.message_id:
                return str(item["id"])
        return None

    async def _threading(self, message: OutboundMessage) -> Threading:
        thread_id = message.thread_id
        in_reply_to = normalize_msg_id(message.in_reply_to)
        references = message_ids(message.references)
        original_id = original_gmail_id(message.event_id)
        if (thread_id and in_reply_to) or original_id is None:
            return Threading(thread_id, in_reply_to, references)
        try:
            original = await self.api.get_message(original_id, fmt="metadata", headers=_ORIGINAL_HEADERS)
        except GmailApiError as exc:
            raise send_error(exc) from exc
        if original is None:
            log.warning("the gmail message answered by %s no longer exists; replying unthreaded", message.event_id)
            return Threading(thread_id, in_reply_to, references)
        headers = header_map(original)
        return Threading(
            thread_id=thread_id or original.get("threadId"),
            in_reply_to=in_reply_to or normalize_msg_id(headers.get("message-id")),
            references=references or message_ids([headers.get("references", "")]),
            original_subject=headers.get("subject"),
        )
