"""Ticket vocabulary and status changes every service shares."""

from __future__ import annotations

import asyncpg

from shared.worker import MessageContext
from subjects import Subjects, TicketStatusEvent

#: Ticket categories: (value, label shown to customers).
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("general", "General question"),
    ("technical", "Technical problem"),
    ("billing", "Billing"),
    ("feedback", "Feedback"),
    ("bug_report", "Bug report"),
)
CATEGORY_VALUES: tuple[str, ...] = tuple(value for value, _ in CATEGORIES)


async def move_ticket(
    tx: asyncpg.Connection, ctx: MessageContext, *, ticket_id: str, channel: str, status: str, cause: str
) -> str | None:
    """Set a ticket's status unless a person already has it (escalated) or it is resolved; announce a
    change on the ticket-status subject. Returns the previous status when the ticket moved."""
    previous = await tx.fetchval(
        """UPDATE tickets t SET status = $2, updated_at = now()
           FROM (SELECT id, status FROM tickets WHERE id = $1 FOR UPDATE) old
           WHERE t.id = old.id AND old.status NOT IN ('resolved', 'escalated')
           RETURNING old.status""",
        ticket_id,
        status,
    )
    if previous is not None and previous != status:
        ctx.publish(
            Subjects.ticket_status,
            TicketStatusEvent(
                event_id=f"status:{status}:{cause}",
                ticket_id=ticket_id,
                channel=channel,  # type: ignore[arg-type]
                status=status,  # type: ignore[arg-type]
                previous=previous,
            ),
        )
    return previous
