"""What the staff API shows of a customer and a conversation (read-only SQL)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from services.identity.store import survivor


async def find_customer(conn: asyncpg.Connection, kind: str, value: str) -> UUID | None:
    """The customer owning a normalised identifier; a merged customer resolves to the survivor."""
    owner = await conn.fetchval(
        "SELECT customer_id FROM customer_identifiers WHERE kind = $1 AND value = $2", kind, value
    )
    return await survivor(conn, owner) if owner else None


async def customer_view(conn: asyncpg.Connection, customer_id: UUID) -> dict[str, Any] | None:
    customer = await conn.fetchrow(
        "SELECT id, display_name, merged_into, created_at, updated_at FROM customers WHERE id = $1", customer_id
    )
    if customer is None:
        return None
    identifiers = await conn.fetch(
        """SELECT kind, value, verified, first_seen_channel, verified_channel, verified_at, created_at
           FROM customer_identifiers WHERE customer_id = $1 ORDER BY created_at, id""",
        customer_id,
    )
    conversations = await conn.fetch(
        """SELECT c.id, c.status, c.current_channel, c.channel_switches, c.started_at, c.last_activity_at,
                  (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS messages
           FROM conversations c WHERE c.customer_id = $1 ORDER BY c.last_activity_at DESC, c.id""",
        customer_id,
    )
    tickets = await conn.fetch(
        """SELECT id, conversation_id, source_channel, subject, category, priority, status, created_at, updated_at
           FROM tickets WHERE customer_id = $1 ORDER BY created_at DESC, id""",
        customer_id,
    )
    suggestions = await conn.fetch(
        """SELECT id, kind, status, customer_id, other_customer_id, identifier_kind, identifier_value, evidence,
                  created_at, decided_at, decided_by, decision_reason
           FROM link_suggestions
           WHERE customer_id = $1 OR other_customer_id = $1
              OR (identifier_kind, identifier_value) IN (
                  SELECT kind, value FROM customer_identifiers WHERE customer_id = $1)
           ORDER BY id""",
        customer_id,
    )
    merges = await conn.fetch(
        """SELECT m.id, m.actor, m.created_at, m.details ->> 'source' AS source, m.details ->> 'target' AS target,
                  m.details ->> 'reason' AS reason,
                  (SELECT u.created_at FROM audit_log u WHERE u.action = 'customer.unmerge'
                   AND u.details ->> 'merge_id' = m.id::text) AS undone_at
           FROM audit_log m
           WHERE m.action = 'customer.merge' AND $1 IN (m.details ->> 'source', m.details ->> 'target')
           ORDER BY m.id""",
        str(customer_id),
    )
    return {
        "id": customer["id"],
        "display_name": customer["display_name"],
        "merged_into": customer["merged_into"],
        "survivor_id": await survivor(conn, customer_id) if customer["merged_into"] else customer["id"],
        "created_at": customer["created_at"],
        "updated_at": customer["updated_at"],
        "identifiers": [dict(r) for r in identifiers],
        "conversations": [{**dict(r), "channel_switches": r["channel_switches"]} for r in conversations],
        "tickets": [dict(r) for r in tickets],
        "link_suggestions": [_suggestion(r) for r in suggestions],
        "merges": [
            {
                "merge_id": r["id"],
                "source": r["source"],
                "target": r["target"],
                "actor": r["actor"],
                "reason": r["reason"],
                "at": r["created_at"],
                "undone_at": r["undone_at"],
            }
            for r in merges
        ],
    }


def _suggestion(row: asyncpg.Record) -> dict[str, Any]:
    identifier = {"kind": row["identifier_kind"], "value": row["identifier_value"]} if row["identifier_kind"] else None
    return {
        "id": row["id"],
        "kind": row["kind"],
        "status": row["status"],
        "customer_id": row["customer_id"],
        "other_customer_id": row["other_customer_id"],
        "identifier": identifier,
        "evidence": row["evidence"],
        "created_at": row["created_at"],
        "decided_at": row["decided_at"],
        "decided_by": row["decided_by"],
        "decision_reason": row["decision_reason"],
    }


async def conversation_view(conn: asyncpg.Connection, conversation_id: UUID) -> dict[str, Any] | None:
    conversation = await conn.fetchrow(
        """SELECT id, customer_id, status, current_channel, channel_switches, started_at, last_activity_at
           FROM conversations WHERE id = $1""",
        conversation_id,
    )
    if conversation is None:
        return None
    messages = await conn.fetch(
        """SELECT id, ticket_id, channel, direction, role, subject, content, delivery_status, created_at
           FROM messages WHERE conversation_id = $1
           ORDER BY created_at, direction = 'outbound', id""",
        conversation_id,
    )
    return {**dict(conversation), "messages": [dict(r) for r in messages]}
