"""Channel senders: the adapters the dispatcher delivers through."""

from __future__ import annotations

from typing import Protocol

import asyncpg

from shared.settings import Settings
from subjects import OutboundMessage


class SendError(Exception):
    """A provider refused or failed. ``retry_after`` asks for a delay before the next attempt;
    ``permanent`` means retrying cannot help (invalid recipient, rejected content)."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Sender(Protocol):
    channel: str
    #: The delivery status recorded once the provider accepted the message.
    accepted_status: str

    async def send(self, message: OutboundMessage) -> str:
        """Deliver and return the provider's message id; raise ``SendError`` on failure."""
        ...

    async def find_sent(self, message: OutboundMessage) -> str | None:
        """After an attempt whose outcome is unknown (a timeout after the provider accepted),
        the provider's id of the message if it was in fact sent."""
        ...


class WebSender:
    """The web channel delivers by making the reply visible on the ticket status page."""

    channel = "web"
    accepted_status = "delivered"

    async def send(self, message: OutboundMessage) -> str:
        return f"web:{message.message_id}"

    async def find_sent(self, message: OutboundMessage) -> str | None:
        return None


def build_senders(settings: Settings, pool: asyncpg.Pool | None = None) -> dict[str, Sender]:
    """The senders of every configured channel (WhatsApp keeps per-part send state in ``pool``)."""
    senders: dict[str, Sender] = {"web": WebSender()}
    if settings.whatsapp_configured:
        from services.dispatcher.whatsapp import WhatsAppSender

        if pool is None:
            raise ValueError("the WhatsApp sender needs the database pool")
        senders["whatsapp"] = WhatsAppSender(settings, pool=pool)
    if settings.gmail_configured:
        from services.dispatcher.gmail import GmailSender

        senders["email"] = GmailSender(settings)
    return senders
