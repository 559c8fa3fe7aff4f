"""Opening an escalation: the record a person picks up and the event that announces it."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from shared.worker import MessageContext
from subjects import EscalationEvent, Subjects


async def open_escalation(
    tx: asyncpg.Connection,
    ctx: MessageContext,
    *,
    event_id: str,
    channel: str,
    ticket_id: str,
    conversation_id: str,
    customer_id: str,
    reason_code: str,
    priority: str,
    context: dict[str, Any],
    summary: str,
) -> None:
    """Insert the escalation in the handler's transaction and queue its event with it."""
    await tx.execute(
        """INSERT INTO escalations (ticket_id, conversation_id, customer_id, reason_code, priority, context)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        ticket_id,
        UUID(conversation_id),
        UUID(customer_id),
        reason_code,
        priority,
        context,
    )
    ctx.publish(
        Subjects.escalation,
        EscalationEvent(
            event_id=event_id,
            channel=channel,  # type: ignore[arg-type]
            ticket_id=ticket_id,
            conversation_id=conversation_id,
            customer_id=customer_id,
            reason_code=reason_code,
            priority=priority,  # type: ignore[arg-type]
            summary=summary[:200],
        ),
    )
