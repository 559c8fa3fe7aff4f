"""Waiting for each ticket's outcome in the stack's database.

- The inbound message: by the ticket the web form answered with, by the event id that was published, or (for
  the simulators, whose provider ids we do not choose) the customer's next message on that channel.
- The reply: the agent's message for that inbound event, else the first agent message in the same ticket or
  conversation stored after it.
- Escalated: an escalation of that ticket recorded by the agent for this message (between the inbound message
  and the reply), or the ticket left 'escalated' by it. Escalations the dispatcher records when a reply cannot
  be delivered (``delivery_failed``) are about delivery, not the agent's decision, and are only noted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from services.eval.records import Outcome, ReplyRecord
from services.eval.sending import Sent

DELIVERY_FAILED = "delivery_failed"
POLL_SECONDS = 0.5
LOOKBACK_SECONDS = 5.0  # clock skew between the sender and the ingress that stamps received_at
ACK_GRACE_SECONDS = 5.0  # how long an escalation without a reply waits for its acknowledgment


@dataclass(slots=True)
class _Pending:
    sent: Sent
    deadline: float
    inbound: asyncpg.Record | None = None


async def collect_outcomes(pool: asyncpg.Pool, sent: Sequence[Sent], *, timeout: float) -> list[Outcome]:
    """One outcome per sent ticket, in the same order; waits at most ``timeout`` seconds after each send."""
    results: dict[int, Outcome] = {}
    pending: dict[int, _Pending] = {}
    for index, item in enumerate(sent):
        if item.error is not None:
            results[index] = Outcome(item.ticket, sent=False, error=item.error, notes=tuple(item.notes))
        else:
            pending[index] = _Pending(item, deadline=time.monotonic() + timeout - (time.time() - item.at))
    claimed: set[UUID] = set()  # inbound and reply rows already matched to a ticket
    while pending:
        for index in sorted(pending):
            outcome = await _check(pool, pending[index], claimed)
            if outcome is None and time.monotonic() > pending[index].deadline:
                outcome = Outcome(pending[index].sent.ticket, notes=tuple(pending[index].sent.notes))
            if outcome is not None:
                results[index] = outcome
                del pending[index]
        if pending:
            await asyncio.sleep(POLL_SECONDS)
    return [results[i] for i in range(len(sent))]


async def _check(pool: asyncpg.Pool, item: _Pending, claimed: set[UUID]) -> Outcome | None:
    if item.inbound is None:
        item.inbound = await _find_inbound(pool, item.sent, claimed)
        if item.inbound is None:
            return None
        claimed.add(item.inbound["id"])
    inbound = item.inbound
    reply = await _find_reply(pool, inbound, claimed)
    escalation = await _agent_escalation(pool, inbound, reply)
    if reply is None and (escalation is None or time.time() - escalation["at"] < ACK_GRACE_SECONDS):
        return None  # an escalation gets its acknowledgment in the same transaction, or a moment later
    if reply is not None:
        claimed.add(reply["id"])
    notes = list(item.sent.notes)
    if await _delivery_failed(pool, inbound["ticket_id"]):
        notes.append("the reply could not be delivered (the dispatcher escalated it: not counted as the agent's)")
    escalated = escalation is not None or await _left_escalated(pool, inbound)
    return Outcome(
        ticket=item.sent.ticket,
        escalated=escalated,
        reason_code=escalation["reason_code"] if escalation else None,
        reply=_reply_record(reply) if reply is not None else None,
        e2e_ms=(reply["at"] - item.sent.at) * 1000 if reply is not None else None,
        notes=tuple(notes),
    )


_INBOUND = "m.id, m.ticket_id, m.conversation_id, m.event_id, m.created_at FROM messages m"


async def _find_inbound(pool: asyncpg.Pool, sent: Sent, claimed: set[UUID]) -> asyncpg.Record | None:
    if sent.ticket_id is not None:
        return await pool.fetchrow(
            f"SELECT {_INBOUND} WHERE m.ticket_id = $1 AND m.role = 'customer' ORDER BY m.created_at LIMIT 1",  # noqa: S608
            sent.ticket_id,
        )
    if sent.event_id is not None:
        return await pool.fetchrow(f"SELECT {_INBOUND} WHERE m.event_id = $1", sent.event_id)  # noqa: S608
    whatsapp = sent.ticket.channel == "whatsapp"
    return await pool.fetchrow(
        f"""SELECT {_INBOUND} JOIN customer_identifiers ci ON ci.customer_id = m.customer_id
            WHERE ci.kind = $1 AND ci.value = $2 AND m.role = 'customer' AND m.channel = $3
              AND m.created_at >= to_timestamp($4) AND NOT (m.id = ANY($5::uuid[]))
            ORDER BY m.created_at LIMIT 1""",  # noqa: S608
        "phone" if whatsapp else "email",
        sent.customer.phone if whatsapp else sent.customer.email,
        sent.ticket.channel,
        sent.at - LOOKBACK_SECONDS,
        list(claimed),
    )


async def _find_reply(pool: asyncpg.Pool, inbound: asyncpg.Record, claimed: set[UUID]) -> asyncpg.Record | None:
    columns = (
        "id, channel, content, grounding, metadata, latency_ms, created_at, extract(epoch FROM created_at)::float8 at"
    )

    exact = await pool.fetchrow(
        f"SELECT {columns} FROM messages WHERE event_id = $1 AND role = 'agent'",  # noqa: S608
        f"reply:{inbound['event_id']}",
    )
    if exact is not None:
        return exact
    return await pool.fetchrow(
        f"""SELECT {columns} FROM messages
            WHERE role = 'agent' AND (ticket_id = $1 OR conversation_id = $2) AND created_at >= $3
              AND NOT (id = ANY($4::uuid[]))
            ORDER BY created_at LIMIT 1""",  # noqa: S608
        inbound["ticket_id"],
        inbound["conversation_id"],
        inbound["created_at"],
        list(claimed),
    )


async def _agent_escalation(
    pool: asyncpg.Pool, inbound: asyncpg.Record, reply: asyncpg.Record | None
) -> asyncpg.Record | None:
    return await pool.fetchrow(
        """SELECT reason_code, extract(epoch FROM created_at)::float8 AS at FROM escalations
           WHERE ticket_id = $1 AND reason_code <> $2 AND created_at >= $3
             AND ($4::timestamptz IS NULL OR created_at <= $4::timestamptz + interval '2 seconds')
           ORDER BY created_at LIMIT 1""",
        inbound["ticket_id"],
        DELIVERY_FAILED,
        inbound["created_at"],
        reply["created_at"] if reply is not None else None,
    )


async def _left_escalated(pool: asyncpg.Pool, inbound: asyncpg.Record) -> bool:
    """The ticket is 'escalated', it started with this message and the dispatcher did not escalate it."""
    return bool(
        await pool.fetchval(
            """SELECT t.status = 'escalated'
                      AND NOT EXISTS (SELECT 1 FROM escalations e WHERE e.ticket_id = t.id AND e.reason_code = $2)
                      AND (SELECT m.id FROM messages m WHERE m.ticket_id = t.id AND m.role = 'customer'
                           ORDER BY m.created_at LIMIT 1) = $3
               FROM tickets t WHERE t.id = $1""",
            inbound["ticket_id"],
            DELIVERY_FAILED,
            inbound["id"],
        )
    )


async def _delivery_failed(pool: asyncpg.Pool, ticket_id: str) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM escalations WHERE ticket_id = $1 AND reason_code = $2)",
            ticket_id,
            DELIVERY_FAILED,
        )
    )


def _reply_record(row: asyncpg.Record) -> ReplyRecord:
    return ReplyRecord(
        channel=row["channel"],
        content=row["content"],
        grounding=_mapping(row["grounding"]),
        metadata=_mapping(row["metadata"]),
        latency_ms=row["latency_ms"],
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
