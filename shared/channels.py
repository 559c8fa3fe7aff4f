"""Which channels are usable with the configuration at hand."""

from __future__ import annotations

from shared.runtime import ChannelState
from shared.settings import Settings
from subjects.names import CHANNELS


def channel_states(settings: Settings) -> list[ChannelState]:
    """Web needs nothing; email and WhatsApp need their provider (not wired in yet)."""
    states = []
    for name in CHANNELS:
        if name == "web":
            states.append(ChannelState(name, True))
        else:
            states.append(ChannelState(name, False, "provider integration not available yet"))
    return states
