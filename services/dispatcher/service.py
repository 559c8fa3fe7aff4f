"""The dispatcher worker: outbound message -> outbox row -> provider call -> delivery event.

- An outbox row is written before each provider call and marked sent after: a redelivered
  dispatch of a message already sent is recorded without sending again. When an earlier attempt's
  outcome is unknown (it timed out after the provider may have accepted), the sender is asked
  whether the message went out before it is sent again.
- Failures are retried with the consumer's backoff or the provider's Retry-After; a circuit breaker
  per provider stops calling a provider that keeps failing while the other channels flow.
- After the last attempt (or a permanent refusal) the reply is recorded as failed, the ticket is
  escalated so a person sees it, and the message is terminated into the dead-letter stream.
"""

from __future__ import annotations

import logging
from uuid import UUID

import asyncpg

from services.dispatcher.breaker import CircuitBreaker
from services.dispatcher.callbacks import SPEC as CALLBACKS_SPEC
from services.dispatcher.callbacks import CallbackHandler
from services.dispatcher.delivery_status import advance
from services.dispatcher.senders import Sender, SendError, build_senders
from shared.channels import channel_states
from shared.escalations import open_escalation
from shared.runtime import Runtime, ServiceParts
from shared.tickets import move_ticket
from shared.worker import MessageContext, PoisonMessage, RetryLater, Worker
from subjects import DeliveryEvent, OutboundMessage, Subjects, consumer

log = logging.getLogger(__name__)
SPEC = consumer("dispatcher")


class DispatchHandler:
    def __init__(self, senders: dict[str, Sender], *, max_deliver: int = SPEC.max_deliver) -> None:
        self.senders = senders
        self.breakers = {channel: CircuitBreaker() for channel in senders}
        self.max_deliver = max_deliver

    async def __call__(self, message: object, ctx: MessageContext) -> None:
        if not isinstance(message, OutboundMessage):
            raise PoisonMessage(f"dispatcher expects outbound messages, got {type(message).__name__}")
        sender = self.senders.get(message.channel)
        if sender is None:
            await self._give_up(ctx, message, f"the {message.channel} channel is not configured")
            return
        provider_id = await self._deliver(ctx, sender, message)
        await self._record(ctx, message, status=sender.accepted_status, provider_id=provider_id)

    async def _deliver(self, ctx: MessageContext, sender: Sender, message: OutboundMessage) -> str:
        outbox = await _outbox_row(ctx.pool, message)
        if outbox is not None and outbox["status"] == "sent":
            return str(outbox["provider_message_id"])
        breaker = self.breakers[message.channel]
        if not breaker.allow():
            reason = f"{message.channel} provider circuit is open"
            if ctx.delivery_count >= self.max_deliver:  # no delivery is left to wait for the probe
                await self._give_up(ctx, message, reason)
                raise PoisonMessage(f"delivery failed for good: {reason}")
            raise RetryLater(reason, delay=breaker.retry_in())
        try:
            provider_id = None
            if outbox is not None and outbox["status"] == "sending":
                provider_id = await sender.find_sent(message)  # the last attempt's outcome is unknown
            if provider_id is None:
                await _mark_sending(ctx.pool, message)
                provider_id = await sender.send(message)
        except SendError as exc:
            breaker.record_failure()
            await _note_failure(ctx.pool, message, str(exc))
            if exc.permanent or ctx.delivery_count >= self.max_deliver:
                await self._give_up(ctx, message, str(exc))
                raise PoisonMessage(f"delivery failed for good: {exc}") from exc
            if exc.retry_after is not None:
                raise RetryLater(str(exc), delay=exc.retry_after) from exc
            raise
        breaker.record_success()
        await _mark_sent(ctx.pool, message, provider_id)
        return provider_id

    async def _give_up(self, ctx: MessageContext, message: OutboundMessage, error: str) -> None:
        await self._record(ctx, message, status="failed", provider_id=None, error=error)

    async def _record(
        self,
        ctx: MessageContext,
        message: OutboundMessage,
        *,
        status: str,
        provider_id: str | None,
        error: str | None = None,
    ) -> None:
        failed = status == "failed"
        async with ctx.transaction() as tx:
            # A provider's status callback may already have moved the message on: never backwards.
            current = await tx.fetchval(
                "SELECT delivery_status FROM messages WHERE id = $1 FOR UPDATE", UUID(message.message_id)
            )
            await tx.execute(
                """UPDATE messages SET delivery_status = $2, provider_message_id = COALESCE($3, provider_message_id)
                   WHERE id = $1""",
                UUID(message.message_id),
                advance(current, status),
                provider_id,
            )
            if failed:
                await tx.execute(
                    """UPDATE outbox SET status = 'failed', updated_at = now()
                       WHERE message_id = $1 AND status <> 'sent'""",
                    UUID(message.message_id),
                )
            new_status = "escalated" if message.escalated or failed else "answered"
            await move_ticket(
                tx, ctx, ticket_id=message.ticket_id, channel=message.channel, status=new_status, cause=message.event_id
            )
            if failed:
                await _escalate_failed_delivery(tx, ctx, message, error or "delivery failed")
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


async def _escalate_failed_delivery(
    tx: asyncpg.Connection, ctx: MessageContext, message: OutboundMessage, error: str
) -> None:
    await open_escalation(
        tx,
        ctx,
        event_id=f"escalation:delivery:{message.event_id}",
        channel=message.channel,
        ticket_id=message.ticket_id,
        conversation_id=message.conversation_id,
        customer_id=message.customer_id,
        reason_code="delivery_failed",
        priority="high",
        context={"channel": message.channel, "error": error[:500], "reply": message.body_text[:2000]},
        summary=f"The reply could not be delivered on {message.channel}: {error[:150]}",
    )


async def _outbox_row(pool: asyncpg.Pool, message: OutboundMessage) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT status, provider_message_id, attempts FROM outbox WHERE message_id = $1", UUID(message.message_id)
    )


async def _mark_sending(pool: asyncpg.Pool, message: OutboundMessage) -> None:
    await pool.execute(
        """INSERT INTO outbox (message_id, channel, status, attempts) VALUES ($1, $2, 'sending', 1)
           ON CONFLICT (message_id) DO UPDATE SET status = 'sending', attempts = outbox.attempts + 1,
               updated_at = now()""",
        UUID(message.message_id),
        message.channel,
    )


async def _mark_sent(pool: asyncpg.Pool, message: OutboundMessage, provider_id: str) -> None:
    await pool.execute(
        """INSERT INTO outbox (message_id, channel, status, provider_message_id, attempts)
           VALUES ($1, $2, 'sent', $3, 1)
           ON CONFLICT (message_id) DO UPDATE SET status = 'sent', provider_message_id = $3, last_error = NULL,
               updated_at = now()""",
        UUID(message.message_id),
        message.channel,
        provider_id,
    )


async def _note_failure(pool: asyncpg.Pool, message: OutboundMessage, error: str) -> None:
    await pool.execute(
        "UPDATE outbox SET last_error = $2, updated_at = now() WHERE message_id = $1",
        UUID(message.message_id),
        error[:1000],
    )


def build(runtime: Runtime) -> ServiceParts:
    senders = build_senders(runtime.settings, runtime.pool)
    handler = DispatchHandler(senders)
    worker = Worker(
        spec=SPEC,
        handler=handler,
        bus=runtime.bus,
        pool=runtime.pool,
        concurrency=runtime.settings.worker_concurrency,
    )
    callbacks = Worker(
        spec=CALLBACKS_SPEC,
        handler=CallbackHandler(),
        bus=runtime.bus,
        pool=runtime.pool,
        concurrency=runtime.settings.worker_concurrency,
        precheck=False,  # the handler's first statement is the guarded transaction
    )
    closers = [sender.aclose for sender in senders.values() if hasattr(sender, "aclose")]
    return ServiceParts(
        name="dispatcher",
        workers=[worker, callbacks],
        channels=channel_states(runtime.settings),
        on_stop=closers,
    )
