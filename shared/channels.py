"""Which channels are usable with the configuration at hand."""

from __future__ import annotations

from shared.runtime import ChannelState
from shared.settings import Settings


def channel_states(settings: Settings) -> list[ChannelState]:
    """Web needs nothing; email and WhatsApp need their provider's credentials."""
    return [
        ChannelState("email", settings.gmail_configured, "" if settings.gmail_configured else _missing("Gmail")),
        ChannelState(
            "whatsapp", settings.whatsapp_configured, "" if settings.whatsapp_configured else _missing("Twilio")
        ),
        ChannelState("web", True),
    ]


def _missing(provider: str) -> str:
    return f"{provider} credentials are not configured"
