"""The agent's read-only tools, as brains see them."""

from __future__ import annotations

from uuid import UUID

from services.agent.brain import HistoryEntry
from services.agent.retrieval import Hit, Retriever
from shared.worker import MessageContext


class AgentToolbox:
    def __init__(self, ctx: MessageContext, retriever: Retriever, customer_id: str) -> None:
        self.ctx = ctx
        self.retriever = retriever
        self.customer_id = UUID(customer_id)

    async def search_knowledge_base(self, query: str, limit: int = 5) -> list[Hit]:
        return await self.retriever.search(query, limit=limit)

    async def customer_history(self, limit: int = 20) -> list[HistoryEntry]:
        return await customer_history(self.ctx.pool, self.customer_id, limit=limit)

    async def heartbeat(self) -> None:
        await self.ctx.heartbeat()


async def customer_history(pool, customer_id: UUID, *, limit: int = 20, before_event: str | None = None):  # type: ignore[no-untyped-def]
    """The customer's last ``limit`` messages across all channels, oldest first."""
    rows = await pool.fetch(
        """SELECT channel, role, content, created_at FROM (
               SELECT channel, role, content, created_at, id FROM messages
               WHERE customer_id = $1 AND ($3::text IS NULL OR event_id <> $3)
               ORDER BY created_at DESC, id DESC LIMIT $2) recent
           ORDER BY created_at, id""",
        customer_id,
        limit,
        before_event,
    )
    return [HistoryEntry(r["channel"], r["role"], r["content"], r["created_at"]) for r in rows]
