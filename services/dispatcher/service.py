"""The dispatcher worker: outbound message -> outbox row -> provider call -> delivery event."""

from __future__ import annotations

import logging
from uuid import UUID

import asyncpg

from services.dispatcher.senders import Sender, SendError, WebSender
from shared.channels import channel_states
from shared.runtime import Runtime, ServiceParts
from shared.worker import MessageContext, PoisonMessage, Worker
from subjects import DeliveryEvent, OutboundMessage, Subjects, TicketStatusEvent, consumer

log = logging.getLogger(__name__)
SPEC = consumer("dispatcher")


class DispatchHandler:
    def __init__(self, senders: dict[str, Sender]) -> None:
        self.senders = senders

    async def __call__(self, message: object, ctx: MessageContext) -> None:
        if not isinstance(message, OutboundMessage):
            raise PoisonMessage(f"dispatcher expects outbound messages, got {type(message).__name__}")
        sender = self.senders.get(message.channel)
        if sender is None:
            await self._record(
                ctx,
                message,
                status="failed",
                provider_id=None,
                error=f"the {message.channel} channel is not configured",
            )
            return
        provider_id = await _already_sent(ctx.pool, message)
        if provider_id is None:
            await _mark_sending(ctx.pool, message)
            try:
                provider_id = await sender.send(message)
            except SendError as exc:
                await _note_failure(ctx.pool, message, str(exc))
                if exc.permanent:
                    await self._record(ctx, message, status="failed", provider_id=None, error=str(exc))
                    return
                raise
            await _mark_sent(ctx.pool, message, provider_id)
        await self._record(ctx, message, status=sender.accepted_status, provider_id=provider_id, error=None)

    async def _record(
        self,
        ctx: MessageContext,
        message: OutboundMessage,
        *,
        status: str,
        provider_id: str | None,
        error: str | None,
    ) -> None:
        async with ctx.transaction() as tx:
            await tx.execute(
                """UPDATE messages SET delivery_status = $2, provider_message_id = COALESCE($3, provider_message_id)
                   WHERE id = $1""",
                UUID(message.message_id),
                status,
                provider_id,
            )
            new_status = "escalated" if message.escalated or status == "failed" else "answered"
            previous = await tx.fetchval(
                """UPDATE tickets t SET status = $2, updated_at = now()
                   FROM (SELECT id, status FROM tickets WHERE id = $1 FOR UPDATE) old
                   WHERE t.id = old.id AND old.status NOT IN ('resolved', 'escalated')
                   RETURNING old.status""",
                message.ticket_id,
                new_status,
            )
            ctx.publish(
                Subjects.delivery(message.channel),
                DeliveryEvent(
                    event_id=f"delivery:{message.event_id}",
                    channel=message.channel,
                    message_id=message.message_id,
                    ticket_id=message.ticket_id,
                    status=status,  # type: ignore[arg-type]
                    provider_message_id=provider_id,
                    error=error,
                ),
            )
            if previous is not None and previous != new_status:
                ctx.publish(
                    Subjects.ticket_status,
                    TicketStatusEvent(
                        event_id=f"status:{new_status}:{message.event_id}",
                        ticket_id=message.ticket_id,
                        channel=message.channel,
                        status=new_status,  # type: ignore[arg-type]
                        previous=previous,
                    ),
                )


async def _already_sent(pool: asyncpg.Pool, message: OutboundMessage) -> str | None:
    row = await pool.fetchrow(
        "SELECT status, provider_message_id FROM outbox WHERE message_id = $1", UUID(message.message_id)
    )
    if row is not None and row["status"] == "sent":
        return str(row["provider_message_id"])
    return None


async def _mark_sending(pool: asyncpg.Pool, message: OutboundMessage) -> None:
    await pool.execute(
        """INSERT INTO outbox (message_id, channel, status, attempts) VALUES ($1, $2, 'sending', 1)
           ON CONFLICT (message_id) DO UPDATE SET attempts = outbox.attempts + 1, updated_at = now()""",
        UUID(message.message_id),
        message.channel,
    )


async def _mark_sent(pool: asyncpg.Pool, message: OutboundMessage, provider_id: str) -> None:
    await pool.execute(
        """UPDATE outbox SET status = 'sent', provider_message_id = $2, last_error = NULL, updated_at = now()
           WHERE message_id = $1""",
        UUID(message.message_id),
        provider_id,
    )


async def _note_failure(pool: asyncpg.Pool, message: OutboundMessage, error: str) -> None:
    await pool.execute(
        "UPDATE outbox SET last_error = $2, updated_at = now() WHERE message_id = $1",
        UUID(message.message_id),
        error[:1000],
    )


def build(runtime: Runtime) -> ServiceParts:
    senders: dict[str, Sender] = {"web": WebSender()}
    worker = Worker(
        spec=SPEC,
        handler=DispatchHandler(senders),
        bus=runtime.bus,
        pool=runtime.pool,
        concurrency=runtime.settings.worker_concurrency,
    )
    return ServiceParts(name="dispatcher", workers=[worker], channels=channel_states(runtime.settings))
