"""`fte simulate --channel whatsapp`: a customer's WhatsApp message as Twilio would post it, signed."""

from __future__ import annotations

import secrets

import httpx

from services.identity.normalize import InvalidIdentifier, normalize_phone
from services.ingress_whatsapp.twilio_form import MESSAGE_PATH, SIGNATURE_HEADER, compute_signature, inbound_form
from shared.settings import Settings

SANDBOX_NUMBER = "whatsapp:+14155238886"


def signing_credentials(settings: Settings) -> tuple[str, str]:
    """(account sid, auth token) to sign with: the configured ones, else the well-known ones of the
    local stand-in that `fte up --fake-providers` starts."""
    if settings.twilio_auth_token:
        return settings.twilio_account_sid or "AC" + "0" * 32, settings.twilio_auth_token
    from services.fakes.twilio import FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN

    return FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN


async def simulate_whatsapp(client: httpx.AsyncClient, settings: Settings, *, sender: str, name: str, text: str) -> str:
    """Post one signed webhook to the stack at ``client.base_url``; the line to print."""
    try:
        phone = normalize_phone(sender, default_region=settings.default_region)
    except InvalidIdentifier as exc:
        raise ValueError(
            f"--from must be a full phone number with its area code, e.g. +15550100123 ({exc.reason})"
        ) from exc
    account_sid, auth_token = signing_credentials(settings)
    message_sid = "SM" + secrets.token_hex(16)
    form = inbound_form(
        account_sid=account_sid,
        message_sid=message_sid,
        sender=phone,
        to=settings.twilio_whatsapp_from or SANDBOX_NUMBER,
        body=text,
        profile_name=name,
    )
    base = (settings.public_base_url or str(client.base_url)).rstrip("/")
    signature = compute_signature(auth_token, base + MESSAGE_PATH, form)
    response = await client.post(MESSAGE_PATH, data=form, headers={SIGNATURE_HEADER: signature})
    if response.status_code == 403:
        raise RuntimeError("the stack refused the signature (403): set TWILIO_AUTH_TOKEN to the stack's auth token")
    response.raise_for_status()
    return f"whatsapp message {message_sid} accepted"
