"""A brand-new customer writing at the same moment on several channels, handled by several identity
replicas at once (the running stack's worker plus two more bound to the same durable consumer, each
with its own NATS connection and PostgreSQL pool), becomes exactly one customer."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from services.identity.service import SPEC, IdentityHandler
from shared.bus import Bus, Publication
from shared.db import create_pool
from shared.runtime import Runtime
from shared.settings import Settings
from shared.worker import MessageContext, Worker
from subjects import InboundMessage, Subjects
from tests.helpers import eventually, unique_email
from tests.integration.identity_support import email_event, unique_name, unique_phone, whatsapp_event

REPLICAS = 2


@pytest.fixture
async def replicas(settings: Settings, stack: object) -> AsyncIterator[Counter[str]]:
    """Two more identity workers; counts the messages each replica handled."""
    handled: Counter[str] = Counter()
    started: list[tuple[Worker, Bus, asyncpg.Pool]] = []
    for index in range(REPLICAS):
        bus = await Bus.connect(settings.nats_url or "", name=f"identity-replica-{index}")
        pool = await create_pool(settings.database_url or "", max_size=8)
        real = IdentityHandler(Runtime(settings=settings, bus=bus, pool=pool))

        async def counted(event: object, ctx: MessageContext, real: IdentityHandler = real, index: int = index) -> None:
            handled[f"replica-{index}"] += 1
            await real(event, ctx)

        worker = Worker(spec=SPEC, handler=counted, bus=bus, pool=pool, concurrency=8, precheck=False)
        await worker.start()
        started.append((worker, bus, pool))
    yield handled
    for worker, bus, pool in started:
        await worker.stop()
        await bus.close()
        await pool.close()


def _web_event(email: str, phone: str, name: str) -> InboundMessage:
    ticket_id = secrets.token_urlsafe(16)
    return InboundMessage(
        event_id=f"web:{ticket_id}",
        channel="web",
        received_at=datetime.now(UTC),
        body="How do I reset my password?",
        sender_name=name,
        email=email,
        phone=phone,
        subject="Password",
        ticket_id=ticket_id,
    )


async def _customers_of(pool: asyncpg.Pool, event_ids: list[str]) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT event_id, customer_id, conversation_id FROM messages WHERE event_id = ANY($1::text[])", event_ids
    )


def _phone_formats(e164: str) -> list[str]:
    digits = e164[2:]
    return [
        e164,
        f"whatsapp:{e164}",
        f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
        f"+1 {digits[:3]}.{digits[3:6]}.{digits[6:]}",
        f"001 {digits[:3]} {digits[3:6]} {digits[6:]}",
    ]


@pytest.mark.parametrize("other_channel", ["whatsapp", "email", "whatsapp", "email"])
async def test_a_first_contact_on_two_channels_and_three_replicas_at_once_is_one_customer(
    bus: Bus, stack: object, replicas: Counter[str], other_channel: str
) -> None:
    """The form (email and phone) and WhatsApp (the same phone) or Gmail (the same address), many
    messages of each at the same moment, in every format: one customer, one conversation."""
    pool: asyncpg.Pool = stack.runtime.pool  # type: ignore[attr-defined]
    email, e164, name = unique_email("race"), unique_phone(), unique_name("Rosa")
    phones = _phone_formats(e164)
    emails = [email, email.upper(), f"  {email.title()} ", f"<{email}>"]
    events: list[InboundMessage] = []
    for i in range(15):
        events.append(_web_event(emails[i % len(emails)], phones[i % len(phones)], name))
        if other_channel == "whatsapp":
            events.append(whatsapp_event(phones[i % len(phones)], "Hello, any news?", name="Rosa"))
        else:
            events.append(email_event(emails[i % len(emails)], "Following up", name=name))
    await asyncio.gather(*(bus.publish(Publication(Subjects.inbound(e.channel), e)) for e in events))

    ids = [e.event_id for e in events]

    async def all_stored() -> list[asyncpg.Record] | None:
        rows = await _customers_of(pool, ids)
        return rows if len(rows) == len(ids) else None

    rows = await eventually(all_stored, timeout=30)
    customers = {r["customer_id"] for r in rows}
    assert len(customers) == 1
    [customer_id] = customers
    owners = await pool.fetch(
        """SELECT customer_id, kind, verified FROM customer_identifiers
           WHERE (kind, value) IN (('email', $1), ('phone', $2))""",
        email,
        e164,
    )
    assert {(r["customer_id"], r["kind"]) for r in owners} == {(customer_id, "email"), (customer_id, "phone")}
    assert {r["kind"] for r in owners if r["verified"]} == {"phone" if other_channel == "whatsapp" else "email"}
    assert len({r["conversation_id"] for r in rows}) == 1
    assert (await pool.fetchval("SELECT count(*) FROM conversations WHERE customer_id = $1", customer_id)) == 1
    assert await pool.fetchval("SELECT count(*) FROM link_suggestions WHERE customer_id = $1", customer_id) == 0
    assert sum(replicas.values()) > 0  # the extra replicas took part
