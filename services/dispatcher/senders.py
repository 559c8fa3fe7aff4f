"""Channel senders: the adapters the dispatcher delivers through."""

from __future__ import annotations

from typing import Protocol

from subjects import OutboundMessage


class SendError(Exception):
    """A provider refused or failed. ``retry_after`` asks for a delay before the next attempt."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Sender(Protocol):
    channel: str
    #: The delivery status recorded once the provider accepted the message.
    accepted_status: str

    async def send(self, message: OutboundMessage) -> str:
        """Deliver and return the provider's message id."""
        ...


class WebSender:
    """The web channel delivers by making the reply visible on the ticket status page."""

    channel = "web"
    accepted_status = "delivered"

    async def send(self, message: OutboundMessage) -> str:
        return f"web:{message.message_id}"
