"""SQL of the identity service. Every function runs inside the caller's transaction."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg


@dataclass(frozen=True, slots=True)
class Identifier:
    kind: str  # "email" | "phone"
    value: str  # normalised


@dataclass(frozen=True, slots=True)
class ConversationRef:
    id: UUID
    previous_channel: str | None


async def lock_identifiers(tx: asyncpg.Connection, identifiers: list[Identifier]) -> None:
    """Serialise first contacts of the same person across replicas (sorted: no deadlocks)."""
    for ident in sorted(identifiers, key=lambda i: (i.kind, i.value)):
        await tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"identity:{ident.kind}:{ident.value}"
        )


async def resolve_customer(
    tx: asyncpg.Connection, identifiers: list[Identifier], *, name: str | None, channel: str
) -> UUID:
    """The customer owning the first known identifier, or a new one; unknown identifiers are
    attached only when the channel itself gave them together (the form's email and phone)."""
    rows = await tx.fetch(
        """SELECT kind, value, customer_id FROM customer_identifiers
           WHERE (kind, value) IN (SELECT * FROM unnest($1::text[], $2::text[]))""",
        [i.kind for i in identifiers],
        [i.value for i in identifiers],
    )
    owners = {(r["kind"], r["value"]): r["customer_id"] for r in rows}
    customer_id: UUID | None = next(
        (owners[(i.kind, i.value)] for i in identifiers if (i.kind, i.value) in owners), None
    )
    if customer_id is None:
        customer_id = await tx.fetchval("INSERT INTO customers (display_name) VALUES ($1) RETURNING id", name)
    elif name:
        await tx.execute(
            """UPDATE customers SET display_name = COALESCE(display_name, $2), updated_at = now()
               WHERE id = $1""",
            customer_id,
            name,
        )
    for ident in identifiers:
        if (ident.kind, ident.value) not in owners:
            await tx.execute(
                """INSERT INTO customer_identifiers (customer_id, kind, value, first_seen_channel)
                   VALUES ($1, $2, $3, $4) ON CONFLICT (kind, value) DO NOTHING""",
                customer_id,
                ident.kind,
                ident.value,
                channel,
            )
    assert customer_id is not None
    return customer_id


async def active_conversation(
    tx: asyncpg.Connection, customer_id: UUID, *, channel: str, at: datetime, window: timedelta
) -> ConversationRef:
    """The customer's one active conversation (inside the inactivity window), or a new one."""
    await tx.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"conversation:{customer_id}")
    row = await tx.fetchrow(
        """SELECT id, current_channel FROM conversations
           WHERE customer_id = $1 AND status = 'active' AND last_activity_at > $2
           ORDER BY last_activity_at DESC LIMIT 1""",
        customer_id,
        at - window,
    )
    if row is None:
        await tx.execute(
            "UPDATE conversations SET status = 'closed' WHERE customer_id = $1 AND status = 'active'",
            customer_id,
        )
        conversation_id = await tx.fetchval(
            """INSERT INTO conversations (customer_id, current_channel, started_at, last_activity_at)
               VALUES ($1, $2, $3, $3) RETURNING id""",
            customer_id,
            channel,
            at,
        )
        return ConversationRef(conversation_id, None)
    previous = row["current_channel"]
    if previous != channel:
        switch = [{"from": previous, "to": channel, "at": at.isoformat()}]
        await tx.execute(
            """UPDATE conversations SET current_channel = $2,
                   channel_switches = channel_switches || $3::jsonb,
                   last_activity_at = GREATEST(last_activity_at, $4)
               WHERE id = $1""",
            row["id"],
            channel,
            switch,
            at,
        )
        return ConversationRef(row["id"], previous)
    await tx.execute(
        "UPDATE conversations SET last_activity_at = GREATEST(last_activity_at, $2) WHERE id = $1",
        row["id"],
        at,
    )
    return ConversationRef(row["id"], None)


async def ticket_for(
    tx: asyncpg.Connection,
    *,
    ticket_id: str | None,
    customer_id: UUID,
    conversation_id: UUID,
    channel: str,
    subject: str | None,
    category: str | None,
) -> str:
    """The web form names its ticket; other channels continue the conversation's open ticket."""
    if ticket_id is None:
        existing = await tx.fetchval(
            """SELECT id FROM tickets WHERE conversation_id = $1 AND status <> 'resolved'
               ORDER BY created_at DESC LIMIT 1""",
            conversation_id,
        )
        if existing is not None:
            await tx.execute(
                """UPDATE tickets SET status = CASE WHEN status = 'answered' THEN 'open' ELSE status END,
                       updated_at = now() WHERE id = $1""",
                existing,
            )
            return str(existing)
        ticket_id = secrets.token_urlsafe(16)
    await tx.execute(
        """INSERT INTO tickets (id, customer_id, conversation_id, source_channel, subject, category)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING""",
        ticket_id,
        customer_id,
        conversation_id,
        channel,
        subject,
        category,
    )
    return ticket_id


async def store_inbound(tx: asyncpg.Connection, **fields: Any) -> UUID:
    """Insert the customer's message once (its event id is unique) and return its id."""
    message_id = await tx.fetchval(
        """INSERT INTO messages (conversation_id, ticket_id, customer_id, channel, direction, role,
                                subject, content, event_id, provider_message_id, metadata, created_at)
           VALUES ($1, $2, $3, $4, 'inbound', 'customer', $5, $6, $7, $8, $9, $10)
           ON CONFLICT (event_id) DO NOTHING RETURNING id""",
        fields["conversation_id"],
        fields["ticket_id"],
        fields["customer_id"],
        fields["channel"],
        fields["subject"],
        fields["content"],
        fields["event_id"],
        fields["provider_message_id"],
        fields["metadata"],
        fields["created_at"],
    )
    if message_id is None:
        message_id = await tx.fetchval("SELECT id FROM messages WHERE event_id = $1", fields["event_id"])
    return message_id
