"""The agent's read-only tools, as brains see them."""

from __future__ import annotations

from uuid import UUID

from services.agent.brain import HistoryEntry
from services.agent.retrieval import Hit, Retriever
from shared.worker import MessageContext


class AgentToolbox:
    def __init__(
        self, ctx: MessageContext, retriever: Retriever, customer_id: str, *, ticket_id: str | None = None
    ) -> None:
        """``ticket_id`` limits the history to one ticket (the sender is not verified)."""
        self.ctx = ctx
        self.retriever = retriever
        self.customer_id = UUID(customer_id)
        self.ticket_id = ticket_id

    async def search_knowledge_base(self, query: str, limit: int = 5) -> list[Hit]:
        return await self.retriever.search(query, limit=limit)

    async def customer_history(self, limit: int = 20) -> list[HistoryEntry]:
        return await customer_history(self.ctx.pool, self.customer_id, limit=limit, ticket_id=self.ticket_id)

    async def heartbeat(self) -> None:
        await self.ctx.heartbeat()


async def customer_history(  # type: ignore[no-untyped-def]
    pool, customer_id: UUID, *, limit: int = 20, before_event: str | None = None, ticket_id: str | None = None
):
    """The customer's last ``limit`` messages across all channels (or of one ticket), oldest first."""
    rows = await pool.fetch(
        """SELECT channel, role, content, created_at FROM (
               SELECT channel, role, content, created_at, id FROM messages
               WHERE customer_id = $1 AND ($3::text IS NULL OR event_id <> $3)
                 AND ($4::text IS NULL OR ticket_id = $4)
               ORDER BY created_at DESC, id DESC LIMIT $2) recent
           ORDER BY created_at, id""",
        customer_id,
        limit,
        before_event,
        ticket_id,
    )
    return [HistoryEntry(r["channel"], r["role"], r["content"], r["created_at"]) for r in rows]
