"""Start every provider stand-in for `fte up --fake-providers`."""

from __future__ import annotations

from services.fakes import RunningFake


async def start_all(*, public_base_url: str, host: str = "127.0.0.1") -> list[RunningFake]:
    """Fake Twilio and fake Gmail on free ports, pointed at our webhooks under ``public_base_url``."""
    from services.fakes.gmail import start_fake_gmail
    from services.fakes.twilio import start_fake_twilio

    return [
        await start_fake_twilio(host=host, webhook_base_url=public_base_url),
        await start_fake_gmail(host=host, webhook_base_url=public_base_url),
    ]
