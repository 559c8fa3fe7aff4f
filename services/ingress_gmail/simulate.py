"""`fte simulate --channel email`: a customer mail put into the fake Gmail's mailbox, which then announces it to
the stack with an authenticated Pub/Sub push, exactly as Gmail would. Needs the stand-in (`fte up
--fake-providers`): a real mailbox cannot be written to from here."""

from __future__ import annotations

import httpx

from services.fakes.registry import lookup
from shared.settings import Settings


def fake_gmail_url(settings: Settings, stack_url: str) -> str:
    """The stand-in serving the stack at ``stack_url``: from ``GMAIL_API_BASE_URL``, else the one `fte up
    --fake-providers` registered on this machine."""
    if settings.gmail_api_base_url:
        return settings.gmail_api_base_url.rstrip("/")
    found = lookup("gmail", stack_url)
    if not found:
        raise RuntimeError(
            "no fake Gmail found for this stack: start it with `fte up --fake-providers` "
            "(or set GMAIL_API_BASE_URL to the stand-in's URL)"
        )
    return str(found["base_url"]).rstrip("/")


async def simulate_email(
    client: httpx.AsyncClient, settings: Settings, *, sender: str, name: str, subject: str, text: str
) -> str:
    base = fake_gmail_url(settings, str(client.base_url).rstrip("/"))
    async with httpx.AsyncClient(base_url=base, timeout=client.timeout) as fake:
        response = await fake.post(
            "/_fake/deliver", json={"from": sender, "name": name, "subject": subject, "text": text}
        )
        if response.status_code == 404:
            raise RuntimeError(f"{base} is not the fake Gmail (no /_fake/deliver)")
        response.raise_for_status()
        delivered = response.json()
    return f"email {delivered['id']} delivered to the fake Gmail inbox (thread {delivered['threadId']}); a push follows"
