"""The callback worker: providers' delivery reports -> the message's delivery status, forwards only.

A report names the provider's id of one part; the part's status advances, and the reply's status
advances to what its parts add up to (as far as the slowest part, or failed). The first final
outcome (delivered, or failed/undelivered) is published as a delivery event; a reply that will
never reach the customer escalates the ticket so that a person sees it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from services.dispatcher.delivery_status import FAILURES, advance, aggregate, is_final
from shared.escalations import open_escalation
from shared.tickets import move_ticket
from shared.worker import MessageContext, PoisonMessage, RetryLater
from subjects import DeliveryCallback, DeliveryEvent, Subjects, consumer

log = logging.getLogger(__name__)
SPEC = consumer("dispatcher-callbacks")


@dataclass(frozen=True)
class _Target:
    message_id: UUID
    part_index: int | None  # None: a message sent before parts were recorded


class CallbackHandler:
    def __init__(self, *, wait_for_send: float = 1.0, max_waits: int = 4) -> None:
        """A report can overtake the dispatcher's record of the provider id: an unknown id is
        retried ``max_waits`` times, ``wait_for_send`` seconds apart, then dropped with a log line."""
        self.wait_for_send = wait_for_send
        self.max_waits = max_waits

    async def __call__(self, event: object, ctx: MessageContext) -> None:
        if not isinstance(event, DeliveryCallback):
            raise PoisonMessage(f"the callback worker expects delivery callbacks, got {type(event).__name__}")
        async with ctx.transaction() as tx:
            target = await _find(tx, event)
            if target is None:
                if ctx.delivery_count <= self.max_waits:
                    raise RetryLater("a delivery report for a message not recorded (yet)", delay=self.wait_for_send)
                log.warning("dropping a %s delivery report for an unknown message", event.channel)
                return
            await _apply(tx, ctx, event, target)


async def _find(tx: asyncpg.Connection, event: DeliveryCallback) -> _Target | None:
    row = await tx.fetchrow(
        "SELECT message_id, part_index FROM provider_message_parts WHERE channel = $1 AND provider_message_id = $2",
        event.channel,
        event.provider_message_id,
    )
    if row is not None:
        return _Target(row["message_id"], row["part_index"])
    message_id = await tx.fetchval(
        """SELECT id FROM messages WHERE channel = $1 AND provider_message_id = $2 AND direction = 'outbound'""",
        event.channel,
        event.provider_message_id,
    )
    return _Target(message_id, None) if message_id else None


async def _apply(tx: asyncpg.Connection, ctx: MessageContext, event: DeliveryCallback, target: _Target) -> None:
    # The reply's row first: reports on its parts apply one after the other.
    message = await tx.fetchrow(
        """SELECT delivery_status, ticket_id, conversation_id, customer_id, channel FROM messages
           WHERE id = $1 FOR UPDATE""",
        target.message_id,
    )
    if target.part_index is None:
        reported = event.status
    else:
        part_status = await tx.fetchval(
            "SELECT delivery_status FROM provider_message_parts WHERE message_id = $1 AND part_index = $2",
            target.message_id,
            target.part_index,
        )
        await tx.execute(
            """UPDATE provider_message_parts SET delivery_status = $3, updated_at = now()
               WHERE message_id = $1 AND part_index = $2""",
            target.message_id,
            target.part_index,
            advance(part_status, event.status),
        )
        statuses = await tx.fetch(
            "SELECT delivery_status FROM provider_message_parts WHERE message_id = $1", target.message_id
        )
        reported = aggregate(row["delivery_status"] for row in statuses)
    current = message["delivery_status"]
    new = advance(current, reported)
    if new == current:
        return
    await tx.execute("UPDATE messages SET delivery_status = $2 WHERE id = $1", target.message_id, new)
    if not is_final(new) or is_final(current):
        return
    ctx.publish(
        Subjects.delivery(message["channel"]),
        DeliveryEvent(
            event_id=f"delivery:final:{target.message_id}",
            channel=message["channel"],
            message_id=str(target.message_id),
            ticket_id=message["ticket_id"],
            status="delivered" if new not in FAILURES else new,  # type: ignore[arg-type]
            provider_message_id=event.provider_message_id,
            error=f"provider error {event.error_code}" if event.error_code else None,
        ),
    )
    if new in FAILURES:
        await _escalate(tx, ctx, message, target.message_id, new, event.error_code)


async def _escalate(
    tx: asyncpg.Connection,
    ctx: MessageContext,
    message: asyncpg.Record,
    message_id: UUID,
    status: str,
    error_code: str | None,
) -> None:
    """The reply will not reach the customer: a person takes the ticket over."""
    channel, ticket_id = message["channel"], message["ticket_id"]
    detail = f"the provider reported the reply {status}" + (f" (error {error_code})" if error_code else "")
    await open_escalation(
        tx,
        ctx,
        event_id=f"escalation:undelivered:{message_id}",
        channel=channel,
        ticket_id=ticket_id,
        conversation_id=str(message["conversation_id"]),
        customer_id=str(message["customer_id"]),
        reason_code="delivery_failed",
        priority="high",
        context={"channel": channel, "message_id": str(message_id), "status": status, "error_code": error_code},
        summary=f"The reply could not be delivered on {channel}: {detail}",
    )
    await move_ticket(
        tx, ctx, ticket_id=ticket_id, channel=channel, status="escalated", cause=f"undelivered:{message_id}"
    )
