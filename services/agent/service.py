"""The agent worker: work item -> policy -> brain -> policy -> channel voice -> outbound message.

Policy runs before the brain (escalation triggers, sentiment) and after it (guardrails), and no
model can override it. Everything the agent decides is written in one transaction with the
message's processed row, so a redelivery never answers twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.agent.brain import Brain, Draft, GroundedBrain, HistoryEntry, Question
from services.agent.continuity import prior_contact
from services.agent.decide import UNSUPPORTED_MEDIA_ANSWER, Decision, decide, escalation, strongest
from services.agent.embeddings import shared_embedder
from services.agent.policy import (
    ConversationSignals,
    PolicyConfig,
    evaluate,
    is_prompt_injection,
    load_policy,
    sentiment_score,
)
from services.agent.retrieval import HybridRetriever, Retriever
from services.agent.tools import AgentToolbox, customer_history
from services.agent.voice import FormattedReply, VoiceInput, format_reply
from shared.escalations import open_escalation
from shared.runtime import Runtime, ServiceParts
from shared.worker import MessageContext, PoisonMessage, Worker
from subjects import OutboundMessage, Subjects, TicketStatusEvent, WorkItem, consumer

SPEC = consumer("agent")
HISTORY_LIMIT = 20


@dataclass(frozen=True)
class Inbound:
    """The message being answered, with what the agent needs around it."""

    content: str
    subject: str | None
    category: str | None
    name: str | None
    recipient: str | None
    received_at: datetime
    metadata: dict[str, Any]
    provider_message_id: str | None
    sender_verified: bool


class AgentHandler:
    def __init__(self, runtime: Runtime, brain: Brain, retriever: Retriever, policy: PolicyConfig) -> None:
        self.runtime = runtime
        self.brain = brain
        self.retriever = retriever
        self.policy = policy

    async def __call__(self, item: object, ctx: MessageContext) -> None:
        if not isinstance(item, WorkItem):
            raise PoisonMessage(f"agent expects work items, got {type(item).__name__}")
        started = time.perf_counter()
        now = datetime.now(UTC)
        inbound = await _load_inbound(ctx.pool, item)
        # Whoever types an address into the web form is not proven to own it: an unverified sender
        # sees only this ticket, never what the customer wrote elsewhere.
        own_ticket = None if inbound.sender_verified else item.ticket_id
        history = await customer_history(
            ctx.pool,
            UUID(item.customer_id),
            limit=HISTORY_LIMIT,
            before_event=item.inbound_event_id,
            ticket_id=own_ticket,
        )
        signals = await _signals(ctx.pool, item)
        sentiment = sentiment_score(inbound.content)
        triggers = evaluate(inbound.content, channel=item.channel, context=signals, config=self.policy)
        draft: Draft | None = None
        top = strongest(triggers)
        if top is not None:
            decision = escalation(
                top.reason_code, top.priority, name=inbound.name, ticket_ref=item.ticket_id, now=now, config=self.policy
            )
        elif not inbound.content.strip() and inbound.metadata.get("attachments"):
            decision = Decision(body=UNSUPPORTED_MEDIA_ANSWER, escalate=False)
        else:
            question = Question(
                text=inbound.content,
                subject=inbound.subject,
                customer_name=inbound.name,
                channel=item.channel,
                ticket_id=item.ticket_id,
                category=inbound.category,
                history=tuple(history),
            )
            draft = await self.brain.answer(
                question, AgentToolbox(ctx, self.retriever, item.customer_id, ticket_id=own_ticket)
            )
            decision = decide(
                draft,
                name=inbound.name,
                ticket_ref=item.ticket_id,
                now=now,
                config=self.policy,
                knowledge_text=await _cited_text(ctx.pool, draft),
            )
        formatted = format_reply(
            VoiceInput(
                channel=item.channel,
                answer=decision.body,
                customer_name=inbound.name,
                ticket_ref=item.ticket_id,
                brand=self.runtime.settings.brand,
                citations=tuple(c.heading_path for c in draft.citations[:2])
                if draft and decision.uses_citations
                else (),
                prior_contact=prior_contact(item.previous_channel, history) if inbound.sender_verified else None,
                handover=decision.escalate,
            )
        )
        latency_ms = int((time.perf_counter() - started) * 1000)
        policy_record = {
            "triggers": [t.reason_code for t in triggers],
            "sentiment": sentiment,
            "prompt_injection": is_prompt_injection(inbound.content),
            "guardrails": decision.guardrail_violations,
        }
        async with ctx.transaction() as tx:
            await tx.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"agent:{item.conversation_id}")
            await tx.execute(
                "UPDATE messages SET sentiment = $2, metadata = metadata || $3::jsonb WHERE id = $1",
                UUID(item.message_id),
                sentiment,
                {"policy": policy_record},
            )
            reply_id = await _store_reply(tx, item, formatted, decision, draft, latency_ms)
            await _update_ticket(tx, ctx, item, decision)
            if decision.escalate:
                await _escalate(tx, ctx, item, decision, inbound, history, draft, policy_record)
            ctx.publish(
                Subjects.outbound(item.channel),
                OutboundMessage(
                    event_id=f"reply:{item.inbound_event_id}",
                    channel=item.channel,
                    customer_id=item.customer_id,
                    conversation_id=item.conversation_id,
                    ticket_id=item.ticket_id,
                    message_id=str(reply_id),
                    body_text=formatted.text,
                    body_html=formatted.html,
                    parts=formatted.parts if item.channel == "whatsapp" else (),
                    subject=_reply_subject(inbound.subject),
                    recipient=inbound.recipient,
                    thread_id=inbound.metadata.get("thread_id"),
                    in_reply_to=_in_reply_to(inbound.metadata),
                    references=_references(inbound.metadata),
                    escalated=decision.escalate,
                    customer_last_message_at=inbound.received_at,
                ),
            )


async def _load_inbound(pool: asyncpg.Pool, item: WorkItem) -> Inbound:
    row = await pool.fetchrow(
        """SELECT m.content, m.subject, m.metadata, m.created_at, m.provider_message_id, t.category,
                  c.display_name,
                  (SELECT value FROM customer_identifiers ci
                   WHERE ci.customer_id = c.id AND ci.kind = CASE WHEN m.channel = 'whatsapp'
                         THEN 'phone' ELSE 'email' END
                   ORDER BY ci.created_at LIMIT 1) AS recipient
           FROM messages m JOIN customers c ON c.id = m.customer_id LEFT JOIN tickets t ON t.id = m.ticket_id
           WHERE m.id = $1""",
        UUID(item.message_id),
    )
    if row is None:
        raise PoisonMessage(f"work item {item.event_id} names an unknown message")
    metadata = dict(row["metadata"] or {})
    sender = metadata.get("sender") or {}
    reply_kind = "phone" if item.channel == "whatsapp" else "email"
    return Inbound(
        content=row["content"],
        subject=row["subject"],
        category=row["category"],
        name=row["display_name"],
        # Reply to the very identifier the message came from (a customer may have several).
        recipient=sender.get("value") if sender.get("kind") == reply_kind else row["recipient"],
        received_at=row["created_at"],
        metadata=metadata,
        provider_message_id=row["provider_message_id"],
        sender_verified=bool(sender.get("verified")),
    )


async def _signals(pool: asyncpg.Pool, item: WorkItem) -> ConversationSignals:
    """Earlier unanswered-by-a-person follow-ups on this ticket, and earlier no-answers in the conversation."""
    row = await pool.fetchrow(
        """SELECT
             (SELECT count(*) FROM messages WHERE ticket_id = $1 AND role = 'customer' AND id <> $3) AS followups,
             (SELECT count(*) FROM messages WHERE conversation_id = $2 AND role = 'agent'
                AND grounding ->> 'grounded' = 'false') AS no_answers""",
        item.ticket_id,
        UUID(item.conversation_id),
        UUID(item.message_id),
    )
    return ConversationSignals(unresolved_followups=int(row["followups"]), no_answer_count=int(row["no_answers"]))


async def _cited_text(pool: asyncpg.Pool, draft: Draft) -> str:
    if not draft.citations:
        return ""
    rows = await pool.fetch(
        "SELECT content FROM knowledge_chunks WHERE id = ANY($1::bigint[])", [c.chunk_id for c in draft.citations]
    )
    return "\n\n".join(r["content"] for r in rows)


async def _store_reply(
    tx: asyncpg.Connection,
    item: WorkItem,
    formatted: FormattedReply,
    decision: Decision,
    draft: Draft | None,
    latency_ms: int,
) -> UUID:
    grounding: dict[str, Any] = {
        "brain": draft.brain if draft else "policy",
        "grounded": decision.grounded,
        "confidence": draft.confidence if draft else None,
        "citations": [
            {"chunk_id": c.chunk_id, "document": c.document, "heading_path": c.heading_path, "score": c.score}
            for c in (draft.citations if draft else [])
        ],
        "retrieval_scores": draft.retrieval_scores if draft else [],
        "fallback": draft.fallback if draft else None,
        "tool_calls": draft.tool_calls if draft else [],
        "escalated": decision.escalate,
        "reason_code": decision.reason_code,
    }
    return await tx.fetchval(
        """INSERT INTO messages (conversation_id, ticket_id, customer_id, channel, direction, role,
                                content, event_id, delivery_status, tokens, latency_ms, grounding, metadata)
           VALUES ($1, $2, $3, $4, 'outbound', 'agent', $5, $6, 'queued', $7, $8, $9, $10)
           RETURNING id""",
        UUID(item.conversation_id),
        item.ticket_id,
        UUID(item.customer_id),
        item.channel,
        formatted.text,
        f"reply:{item.inbound_event_id}",
        draft.tokens if draft else None,
        latency_ms,
        grounding,
        {"format": {"html": formatted.html, "parts": list(formatted.parts)}},
    )


async def _update_ticket(tx: asyncpg.Connection, ctx: MessageContext, item: WorkItem, decision: Decision) -> None:
    status = "escalated" if decision.escalate else "processing"
    previous = await tx.fetchval(
        """UPDATE tickets t SET status = CASE WHEN old.status = 'escalated' THEN old.status ELSE $2 END,
                                priority = CASE WHEN $3 THEN $4 ELSE t.priority END, updated_at = now()
           FROM (SELECT id, status FROM tickets WHERE id = $1 FOR UPDATE) old
           WHERE t.id = old.id RETURNING old.status""",
        item.ticket_id,
        status,
        decision.escalate,
        decision.priority,
    )
    if previous is not None and previous not in (status, "escalated"):
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


async def _escalate(
    tx: asyncpg.Connection,
    ctx: MessageContext,
    item: WorkItem,
    decision: Decision,
    inbound: Inbound,
    history: list[HistoryEntry],
    draft: Draft | None,
    policy_record: dict[str, Any],
) -> None:
    """The record a person picks up: why, how urgent, the conversation so far and what was tried."""
    assert decision.reason_code is not None
    context = {
        "channel": item.channel,
        "subject": inbound.subject,
        "question": inbound.content,
        "conversation": [
            {"channel": h.channel, "role": h.role, "content": h.content[:2000], "at": h.created_at.isoformat()}
            for h in history
        ],
        "brain_summary": draft.escalation_summary if draft else None,
        "tried": {
            "brain": draft.brain if draft else None,
            "citations": [c.heading_path for c in draft.citations] if draft else [],
            "retrieval_scores": draft.retrieval_scores if draft else [],
            "fallback": draft.fallback if draft else None,
        },
        "policy": policy_record,
    }
    await open_escalation(
        tx,
        ctx,
        event_id=f"escalation:{item.inbound_event_id}",
        channel=item.channel,
        ticket_id=item.ticket_id,
        conversation_id=item.conversation_id,
        customer_id=item.customer_id,
        reason_code=decision.reason_code,
        priority=decision.priority,
        context=context,
        summary=(draft.escalation_summary if draft else None) or inbound.subject or inbound.content,
    )


def _reply_subject(subject: str | None) -> str | None:
    if not subject:
        return None
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def _in_reply_to(metadata: dict[str, Any]) -> str | None:
    references = metadata.get("references") or []
    return references[0] if references else None


def _references(metadata: dict[str, Any]) -> tuple[str, ...]:
    """The customer's own Message-ID comes first in what ingress stored, their References after it."""
    references = list(metadata.get("references") or [])
    return tuple(references[1:] + references[:1])


def build(runtime: Runtime) -> ServiceParts:
    retriever = HybridRetriever(runtime.pool, shared_embedder(runtime.settings))
    handler = AgentHandler(runtime, _brain(runtime), retriever, load_policy(runtime.settings.policy_file))
    worker = Worker(
        spec=SPEC, handler=handler, bus=runtime.bus, pool=runtime.pool, concurrency=runtime.settings.worker_concurrency
    )
    return ServiceParts(name="agent", workers=[worker])


def _brain(runtime: Runtime) -> Brain:
    grounded = GroundedBrain()
    try:
        from services.agent.openai_brain import build_brain
    except ImportError:
        return grounded
    return build_brain(runtime.settings, grounded)
