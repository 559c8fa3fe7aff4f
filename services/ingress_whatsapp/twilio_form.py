"""Twilio's WhatsApp webhooks, both ways: verify and parse what Twilio posts, and build what it would
post (for `fte simulate` and the local stand-in). Plain functions, no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from urllib.parse import urlsplit

from multidict import MultiDict
from twilio.request_validator import RequestValidator

from subjects import Attachment, DeliveryCallback, InboundMessage
from subjects.events import DeliveryStatus

SIGNATURE_HEADER = "X-Twilio-Signature"
MESSAGE_PATH = "/webhooks/whatsapp"
STATUS_PATH = "/webhooks/whatsapp/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_MEDIA = 10  # Twilio's own limit per message

_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
_TRACKED: tuple[DeliveryStatus, ...] = ("queued", "sending", "sent", "delivered", "read", "failed", "undelivered")

Params = Sequence[tuple[str, str]]


class InvalidWebhook(ValueError):
    """A correctly signed request that is not a usable WhatsApp webhook (the reason names no identifier)."""


def webhook_url(public_base_url: str | None, request_url: str) -> str:
    """The URL Twilio signed: our public base URL plus the request's path and query (behind a proxy
    the request URL is the proxy's upstream, not what Twilio called), else the request URL."""
    if not public_base_url:
        return request_url
    parts = urlsplit(request_url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{public_base_url.rstrip('/')}{parts.path}{query}"


def compute_signature(auth_token: str, url: str, params: Params | Mapping[str, str]) -> str:
    """The ``X-Twilio-Signature`` Twilio sends for ``params`` posted to ``url``."""
    return RequestValidator(auth_token).compute_signature(url, _multi(params))


def signature_is_valid(auth_token: str, url: str, params: Params, signature: str | None) -> bool:
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, _multi(params), signature))


def _multi(params: Params | Mapping[str, str]) -> MultiDict[str]:
    # A repeated form field is signed with every value; a MultiDict keeps them all.
    return MultiDict(params.items() if isinstance(params, Mapping) else params)


def _fields(params: Params) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in params:
        fields.setdefault(key, value)
    return fields


def _sid(fields: Mapping[str, str]) -> str:
    sid = fields.get("MessageSid") or fields.get("SmsSid") or ""
    if not _SID.match(sid):
        raise InvalidWebhook("MessageSid is missing or malformed")
    return sid


def parse_inbound(params: Params, *, received_at: datetime) -> InboundMessage:
    """The customer's message as an event; ``InvalidWebhook`` when a required field is unusable."""
    fields = _fields(params)
    sid = _sid(fields)
    sender = fields.get("From", "")
    if not sender.startswith("whatsapp:") or len(sender) <= len("whatsapp:"):
        raise InvalidWebhook("From is not a WhatsApp address")
    attachments = _attachments(fields)
    body = fields.get("Body", "").strip() or _describe_without_text(attachments)
    return InboundMessage(
        event_id=f"twilio:{sid}",
        channel="whatsapp",
        received_at=received_at,
        body=body,
        sender_name=fields.get("ProfileName") or None,
        phone=sender.removeprefix("whatsapp:"),
        provider_message_id=sid,
        attachments=attachments,
    )


def _attachments(fields: Mapping[str, str]) -> tuple[Attachment, ...]:
    try:
        count = int(fields.get("NumMedia") or 0)
    except ValueError as exc:
        raise InvalidWebhook("NumMedia is not a number") from exc
    if not 0 <= count <= MAX_MEDIA:
        raise InvalidWebhook("NumMedia is out of range")
    return tuple(
        Attachment(
            content_type=fields.get(f"MediaContentType{i}") or "application/octet-stream",
            url=fields.get(f"MediaUrl{i}") or None,
        )
        for i in range(count)
    )


def _describe_without_text(attachments: Iterable[Attachment]) -> str:
    """What the agent reads when the customer sent media (or a location, a sticker...) without text."""
    kinds = [a.content_type for a in attachments]
    if not kinds:
        return "[The customer sent a WhatsApp message without text.]"
    return f"[The customer sent {len(kinds)} attachment(s) without text: {', '.join(kinds)}.]"


def parse_status(params: Params, *, received_at: datetime) -> DeliveryCallback | None:
    """A delivery report as an event; ``None`` for statuses that say nothing about delivery
    (accepted, scheduled, canceled, receiving, received)."""
    fields = _fields(params)
    sid = _sid(fields)
    status = (fields.get("MessageStatus") or fields.get("SmsStatus") or "").lower()
    if status not in _TRACKED:
        return None
    return DeliveryCallback(
        event_id=f"twilio-status:{sid}:{status}",
        channel="whatsapp",
        provider_message_id=sid,
        status=status,  # type: ignore[arg-type]
        received_at=received_at,
        error_code=fields.get("ErrorCode") or None,
    )


def inbound_form(
    *,
    account_sid: str,
    message_sid: str,
    sender: str,
    to: str,
    body: str,
    profile_name: str | None = None,
    media: Sequence[tuple[str, str]] = (),
) -> dict[str, str]:
    """The form Twilio posts to the incoming-message webhook (``media``: (url, content type) pairs)."""
    phone = sender.removeprefix("whatsapp:")
    form = {
        "SmsMessageSid": message_sid,
        "NumMedia": str(len(media)),
        "ProfileName": profile_name or "",
        "MessageType": media[0][1].split("/")[0] if media else "text",
        "SmsSid": message_sid,
        "WaId": phone.lstrip("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": to,
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": message_sid,
        "AccountSid": account_sid,
        "From": f"whatsapp:{phone}",
        "ApiVersion": "2010-04-01",
    }
    for i, (url, content_type) in enumerate(media):
        form[f"MediaUrl{i}"] = url
        form[f"MediaContentType{i}"] = content_type
    return form


def status_form(
    *, account_sid: str, message_sid: str, sender: str, to: str, status: str, error_code: str | None = None
) -> dict[str, str]:
    """The form Twilio posts to a message's StatusCallback URL."""
    form = {
        "ChannelPrefix": "whatsapp",
        "ApiVersion": "2010-04-01",
        "MessageStatus": status,
        "SmsSid": message_sid,
        "SmsStatus": status,
        "To": to,
        "From": sender,
        "MessageSid": message_sid,
        "AccountSid": account_sid,
    }
    if error_code:
        form["ErrorCode"] = error_code
    return form
