"""The agent worker: work item -> grounded reply (or escalation) -> outbound message."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import asyncpg

from services.agent.brain import Brain, Draft, GroundedBrain, Question
from services.agent.reply import Reply, compose_reply
from services.agent.retrieval import FullTextRetriever
from shared.runtime import Runtime, ServiceParts
from shared.worker import MessageContext, PoisonMessage, Worker
from subjects import EscalationEvent, OutboundMessage, Subjects, TicketStatusEvent, WorkItem, consumer

SPEC = consumer("agent")


class AgentHandler:
    def __init__(self, runtime: Runtime, brain: Brain) -> None:
        self.runtime = runtime
        self.brain = brain

    async def __call__(self, item: object, ctx: MessageContext) -> None:
        if not isinstance(item, WorkItem):
            raise PoisonMessage(f"agent expects work items, got {type(item).__name__}")
        started = time.perf_counter()
        inbound = await _load_inbound(ctx.pool, item)
        question = Question(
            text=inbound["content"],
            subject=inbound["subject"],
            customer_name=inbound["display_name"],
            channel=item.channel,
        )
        draft = await self.brain.answer(question)
        reply = compose_reply(
            draft,
            customer_name=inbound["display_name"],
            ticket_ref=item.ticket_id,
            brand=self.runtime.settings.brand,
        )
        latency_ms = int((time.perf_counter() - started) * 1000)
        async with ctx.transaction() as tx:
            await tx.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"agent:{item.conversation_id}")
            reply_id = await _store_reply(tx, item, reply, draft, latency_ms)
            status = "escalated" if reply.escalate else "processing"
            previous = await tx.fetchval(
                """UPDATE tickets t SET status = $2, updated_at = now()
                   FROM (SELECT id, status FROM tickets WHERE id = $1 FOR UPDATE) old
                   WHERE t.id = old.id RETURNING old.status""",
                item.ticket_id,
                status,
            )
            if reply.escalate:
                await _escalate(tx, ctx, item, reply, question)
            if previous != status:
                ctx.publish(
                    Subjects.ticket_status,
                    TicketStatusEvent(
                        event_id=f"status:{status}:{item.event_id}",
                        ticket_id=item.ticket_id,
                        channel=item.channel,
                        status=status,
                        previous=previous,
                    ),
                )
            ctx.publish(
                Subjects.outbound(item.channel),
                OutboundMessage(
                    event_id=f"reply:{item.inbound_event_id}",
                    channel=item.channel,
                    customer_id=item.customer_id,
                    conversation_id=item.conversation_id,
                    ticket_id=item.ticket_id,
                    message_id=str(reply_id),
                    body_text=reply.text,
                    subject=_reply_subject(inbound["subject"]),
                    recipient=inbound["recipient"],
                    escalated=reply.escalate,
                ),
            )


async def _load_inbound(pool: asyncpg.Pool, item: WorkItem) -> asyncpg.Record:
    row = await pool.fetchrow(
        """SELECT m.content, m.subject, c.display_name,
                  (SELECT value FROM customer_identifiers ci
                   WHERE ci.customer_id = c.id AND ci.kind = CASE WHEN m.channel = 'whatsapp'
                         THEN 'phone' ELSE 'email' END
                   ORDER BY ci.created_at LIMIT 1) AS recipient
           FROM messages m JOIN customers c ON c.id = m.customer_id
           WHERE m.id = $1""",
        UUID(item.message_id),
    )
    if row is None:
        raise PoisonMessage(f"work item {item.event_id} names an unknown message")
    return row


async def _store_reply(tx: asyncpg.Connection, item: WorkItem, reply: Reply, draft: Draft, latency_ms: int) -> UUID:
    grounding: dict[str, Any] = {
        "brain": draft.brain,
        "grounded": draft.grounded,
        "confidence": draft.confidence,
        "citations": [
            {"chunk_id": c.chunk_id, "document": c.document, "heading_path": c.heading_path, "score": c.score}
            for c in draft.citations
        ],
    }
    return await tx.fetchval(
        """INSERT INTO messages (conversation_id, ticket_id, customer_id, channel, direction, role,
                                content, event_id, delivery_status, tokens, latency_ms, grounding)
           VALUES ($1, $2, $3, $4, 'outbound', 'agent', $5, $6, 'queued', $7, $8, $9)
           RETURNING id""",
        UUID(item.conversation_id),
        item.ticket_id,
        UUID(item.customer_id),
        item.channel,
        reply.text,
        f"reply:{item.inbound_event_id}",
        draft.tokens,
        latency_ms,
        grounding,
    )


async def _escalate(
    tx: asyncpg.Connection, ctx: MessageContext, item: WorkItem, reply: Reply, question: Question
) -> None:
    assert reply.reason_code is not None
    await tx.execute(
        """INSERT INTO escalations (ticket_id, conversation_id, customer_id, reason_code, priority, context)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        item.ticket_id,
        UUID(item.conversation_id),
        UUID(item.customer_id),
        reply.reason_code,
        reply.priority,
        {"question": question.text, "subject": question.subject, "channel": item.channel},
    )
    await tx.execute("UPDATE tickets SET priority = $2 WHERE id = $1", item.ticket_id, reply.priority)
    ctx.publish(
        Subjects.escalation,
        EscalationEvent(
            event_id=f"escalation:{item.inbound_event_id}",
            channel=item.channel,
            ticket_id=item.ticket_id,
            conversation_id=item.conversation_id,
            customer_id=item.customer_id,
            reason_code=reply.reason_code,
            priority=reply.priority,  # type: ignore[arg-type]
            summary=(question.subject or question.text)[:200],
        ),
    )


def _reply_subject(subject: str | None) -> str | None:
    if not subject:
        return None
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def build(runtime: Runtime) -> ServiceParts:
    brain = GroundedBrain(FullTextRetriever(runtime.pool))
    worker = Worker(
        spec=SPEC,
        handler=AgentHandler(runtime, brain),
        bus=runtime.bus,
        pool=runtime.pool,
        concurrency=runtime.settings.worker_concurrency,
    )
    return ServiceParts(name="agent", workers=[worker])
