"""Reading a ticket and its messages for the status page."""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import asyncpg

TICKET_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
STILL_WORKING = {"open", "processing"}


@dataclass(frozen=True, slots=True)
class TicketView:
    id: str
    status: str
    subject: str | None
    channel: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MessageView:
    role: str
    channel: str
    content: str
    created_at: datetime


async def load_ticket(pool: asyncpg.Pool, ticket_id: str) -> tuple[TicketView, list[MessageView]] | None:
    if not TICKET_ID.match(ticket_id):
        return None
    row = await pool.fetchrow(
        """SELECT id, status, subject, source_channel, created_at, updated_at
           FROM tickets WHERE id = $1""",
        ticket_id,
    )
    if row is None:
        return None
    rows = await pool.fetch(
        """SELECT role, channel, content, created_at FROM messages
           WHERE ticket_id = $1 ORDER BY created_at, id""",
        ticket_id,
    )
    ticket = TicketView(
        id=row["id"],
        status=row["status"],
        subject=row["subject"],
        channel=row["source_channel"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
    return ticket, [MessageView(r["role"], r["channel"], r["content"], r["created_at"]) for r in rows]


class RecentIds:
    """A bounded set of recently seen ids, oldest forgotten first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, item: str) -> None:
        self._ids[item] = None
        self._ids.move_to_end(item)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)

    def __contains__(self, item: object) -> bool:
        return item in self._ids


async def wait_for_ticket(
    pool: asyncpg.Pool, ticket_id: str, *, patience: float = 3.0
) -> tuple[TicketView, list[MessageView]] | None:
    """A just-submitted ticket is in JetStream before it is in the database: give it a moment."""
    if not TICKET_ID.match(ticket_id):
        return None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        found = await load_ticket(pool, ticket_id)
        if found is not None or loop.time() >= deadline:
            return found
        await asyncio.sleep(0.1)
