"""What the identity tests share: inbound events as the Gmail and WhatsApp ingress publish them,
unique phone numbers, the staff API's credentials and a wait for a message to be resolved."""

from __future__ import annotations

import random
import string
import uuid
from datetime import UTC, datetime

import asyncpg

from shared.bus import Bus, Publication
from subjects import InboundMessage, Subjects
from tests.helpers import eventually

STAFF = {"Authorization": "Bearer test-staff-token"}
_rng = random.SystemRandom()


def unique_phone() -> str:
    """A possible US number in E.164 (area and exchange codes start with 2-9)."""
    area = _rng.randint(200, 999)
    exchange = _rng.randint(200, 999)
    return f"+1{area}{exchange}{_rng.randint(0, 9999):04d}"


def unique_name(first: str = "Ana") -> str:
    """A full name nobody else in the session has (a shared one would make same-name suggestions)."""
    surname = "".join(_rng.choice(string.ascii_lowercase) for _ in range(10))
    return f"{first} {surname.title()}"


def national(e164: str) -> str:
    """``+14155550123`` -> ``(415) 555-0123``."""
    digits = e164[2:]
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def whatsapp_event(phone: str, body: str, *, name: str | None = None, at: datetime | None = None) -> InboundMessage:
    sid = "SM" + uuid.uuid4().hex
    return InboundMessage(
        event_id=f"twilio:{sid}",
        channel="whatsapp",
        received_at=at or datetime.now(UTC),
        body=body,
        sender_name=name,
        phone=phone if phone.startswith("whatsapp:") else f"whatsapp:{phone}",
        provider_message_id=sid,
    )


def email_event(
    address: str, body: str, *, subject: str = "A question", name: str | None = None, at: datetime | None = None
) -> InboundMessage:
    gmail_id = uuid.uuid4().hex[:16]
    return InboundMessage(
        event_id=f"gmail:{gmail_id}",
        channel="email",
        received_at=at or datetime.now(UTC),
        body=body,
        sender_name=name,
        email=address,
        subject=subject,
        provider_message_id=gmail_id,
        thread_id=gmail_id,
    )


async def publish(bus: Bus, event: InboundMessage) -> None:
    await bus.publish(Publication(Subjects.inbound(event.channel), event))


async def resolved(pool: asyncpg.Pool, event_id: str, timeout: float = 15) -> asyncpg.Record:
    """The stored inbound message of an event, once identity has handled it."""

    async def stored() -> asyncpg.Record | None:
        return await pool.fetchrow(
            "SELECT id, customer_id, conversation_id, ticket_id, channel FROM messages WHERE event_id = $1", event_id
        )

    return await eventually(stored, timeout=timeout)


async def send(bus: Bus, pool: asyncpg.Pool, event: InboundMessage) -> asyncpg.Record:
    await publish(bus, event)
    return await resolved(pool, event.event_id)
