"""SQL of the identity service. Every function runs inside the caller's transaction."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from services.identity.linking import Claim, Key, OpenSuggestion, Owner, name_key


@dataclass(frozen=True, slots=True)
class ConversationRef:
    id: UUID
    previous_channel: str | None


def customer_lock_key(customer_id: UUID) -> str:
    """The advisory lock that serialises everything done to one customer (messages, merges)."""
    return f"conversation:{customer_id}"


async def lock_identifiers(tx: asyncpg.Connection, keys: Iterable[Key]) -> None:
    """Serialise first contacts of the same person across replicas (sorted: no deadlocks)."""
    names = sorted({f"identity:{kind}:{value}" for kind, value in keys})
    await tx.execute(
        """SELECT pg_advisory_xact_lock(hashtextextended(name, 0))
           FROM (SELECT unnest($1::text[]) AS name ORDER BY 1) AS sorted_names""",
        names,
    )


async def lock_customer(tx: asyncpg.Connection, customer_id: UUID) -> None:
    await tx.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", customer_lock_key(customer_id))


async def owners(tx: asyncpg.Connection, keys: Iterable[Key]) -> dict[Key, Owner]:
    keys = list(keys)
    if not keys:
        return {}
    rows = await tx.fetch(
        """SELECT kind, value, customer_id, verified FROM customer_identifiers
           WHERE (kind, value) IN (SELECT * FROM unnest($1::text[], $2::text[]))""",
        [k for k, _ in keys],
        [v for _, v in keys],
    )
    return {(r["kind"], r["value"]): Owner(r["customer_id"], r["verified"]) for r in rows}


async def create_customer(tx: asyncpg.Connection, name: str | None) -> UUID:
    return await tx.fetchval(
        "INSERT INTO customers (display_name, name_key) VALUES ($1, $2) RETURNING id", name, name_key(name)
    )


async def survivor(tx: asyncpg.Connection, customer_id: UUID) -> UUID | None:
    """The customer itself, or the one it was merged into (following chains); None when unknown."""
    return await tx.fetchval(
        """WITH RECURSIVE chain (id, merged_into, depth) AS (
               SELECT id, merged_into, 0 FROM customers WHERE id = $1
               UNION ALL
               SELECT c.id, c.merged_into, chain.depth + 1 FROM customers c
               JOIN chain ON c.id = chain.merged_into WHERE chain.depth < 64)
           SELECT id FROM chain WHERE merged_into IS NULL LIMIT 1""",
        customer_id,
    )


async def remember_name(tx: asyncpg.Connection, customer_id: UUID, name: str | None) -> None:
    if name:
        await tx.execute(
            """UPDATE customers SET display_name = $2, name_key = $3, updated_at = now()
               WHERE id = $1 AND display_name IS NULL""",
            customer_id,
            name,
            name_key(name),
        )


async def attach(tx: asyncpg.Connection, customer_id: UUID, claims: Iterable[Claim], *, channel: str) -> None:
    """Link unowned identifiers (the caller holds their locks, so nobody else can take them)."""
    for claim in claims:
        await tx.execute(
            """INSERT INTO customer_identifiers
                   (customer_id, kind, value, verified, first_seen_channel, verified_channel, verified_at)
               VALUES ($1, $2, $3, $4, $5, CASE WHEN $4 THEN $5 END, CASE WHEN $4 THEN now() END)
               ON CONFLICT (kind, value) DO NOTHING""",
            customer_id,
            claim.kind,
            claim.value,
            claim.verified,
            channel,
        )


async def mark_verified(tx: asyncpg.Connection, claims: Iterable[Claim], *, channel: str) -> None:
    verified = [c for c in claims if c.verified]
    if verified:
        await tx.execute(
            """UPDATE customer_identifiers SET verified = true, verified_channel = $3, verified_at = now()
               WHERE NOT verified AND (kind, value) IN (SELECT * FROM unnest($1::text[], $2::text[]))""",
            [c.kind for c in verified],
            [c.value for c in verified],
            channel,
        )


async def open_suggestions(tx: asyncpg.Connection, keys: Iterable[Key]) -> list[OpenSuggestion]:
    """Undecided claims on these identifiers (mentions and conflicts), oldest first."""
    keys = list(keys)
    if not keys:
        return []
    rows = await tx.fetch(
        """SELECT id, customer_id, identifier_kind, identifier_value, kind,
                  coalesce((evidence ->> 'sender_verified')::boolean, false) AS sender_verified
           FROM link_suggestions
           WHERE status = 'suggested' AND kind IN ('mention', 'conflict')
             AND (identifier_kind, identifier_value) IN (SELECT * FROM unnest($1::text[], $2::text[]))
           ORDER BY id""",
        [k for k, _ in keys],
        [v for _, v in keys],
    )
    return [
        OpenSuggestion(
            r["id"], r["customer_id"], (r["identifier_kind"], r["identifier_value"]), r["kind"], r["sender_verified"]
        )
        for r in rows
    ]


async def suggest(
    tx: asyncpg.Connection,
    *,
    customer_id: UUID,
    other_customer_id: UUID | None,
    kind: str,
    identifier: Key | None,
    evidence: dict[str, Any],
) -> int | None:
    """Record a suggestion unless the same one exists already (in any status: a rejected one is
    not suggested again). Returns its id, or None when it was already known."""
    ident_kind, ident_value = identifier if identifier else (None, None)
    return await tx.fetchval(
        """INSERT INTO link_suggestions
               (customer_id, other_customer_id, kind, identifier_kind, identifier_value, evidence)
           SELECT $1, $2, $3, $4, $5, $6
           WHERE NOT EXISTS (
               SELECT 1 FROM link_suggestions
               WHERE kind = $3 AND identifier_kind IS NOT DISTINCT FROM $4
                 AND identifier_value IS NOT DISTINCT FROM $5
                 AND ((customer_id = $1 AND other_customer_id IS NOT DISTINCT FROM $2)
                      OR ($3 = 'same_name' AND customer_id = $2 AND other_customer_id = $1)))
           RETURNING id""",
        customer_id,
        other_customer_id,
        kind,
        ident_kind,
        ident_value,
        evidence,
    )


async def decide_suggestions(
    tx: asyncpg.Connection, ids: Iterable[int], *, status: str, by: str, reason: str
) -> list[int]:
    """Confirm or reject undecided suggestions; returns the ids that changed."""
    rows = await tx.fetch(
        """UPDATE link_suggestions SET status = $2, decided_by = $3, decision_reason = $4, decided_at = now()
           WHERE id = ANY($1::bigint[]) AND status = 'suggested' RETURNING id""",
        list(ids),
        status,
        by,
        reason,
    )
    return [r["id"] for r in rows]


async def same_name_candidates(
    tx: asyncpg.Connection, customer_id: UUID, key: str, *, channel: str, limit: int = 5
) -> list[UUID]:
    """Other customers with the same full name, first seen on another channel."""
    rows = await tx.fetch(
        """SELECT c.id FROM customers c
           WHERE c.name_key = $2 AND c.merged_into IS NULL AND c.id <> $1
             AND EXISTS (SELECT 1 FROM customer_identifiers ci
                         WHERE ci.customer_id = c.id AND ci.first_seen_channel <> $3)
           ORDER BY c.created_at LIMIT $4""",
        customer_id,
        key,
        channel,
        limit,
    )
    return [r["id"] for r in rows]


async def active_conversation(
    tx: asyncpg.Connection, customer_id: UUID, *, channel: str, at: datetime, window: timedelta
) -> ConversationRef:
    """The customer's one active conversation (inside the inactivity window), or a new one."""
    await lock_customer(tx, customer_id)
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
