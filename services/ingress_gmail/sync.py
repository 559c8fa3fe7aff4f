"""Reading a mailbox's new messages from its history cursor, publishing them durably, then moving the cursor.

One sync per mailbox at a time, everywhere: a process-wide asyncio lock (so concurrent pushes queue instead of
holding database connections) and a transaction-scoped advisory lock in PostgreSQL (so replicas and the poller
never interleave). The cursor moves in that same transaction, after every message was acknowledged by JetStream:
if anything fails, nothing moves and the next push or poll does the work again (the ``gmail:<id>`` message ids make
repeats harmless).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

import asyncpg
from prometheus_client import Counter

from services.ingress_gmail.inbound import Skipped, to_inbound
from shared.bus import Bus, Publication
from shared.gmail_api import GmailApi, HistoryExpired
from subjects import Subjects

log = logging.getLogger(__name__)

GMAIL_MESSAGES = Counter("fte_gmail_messages_total", "Gmail messages read by ingress-gmail", ["outcome"])
GMAIL_SYNCS = Counter("fte_gmail_syncs_total", "Gmail mailbox syncs", ["trigger", "kind"])

WATCH_EVERY = timedelta(days=1)
_T = TypeVar("_T")


@dataclass
class SyncReport:
    trigger: str
    kind: str = "incremental"  # incremental | full | initialized | up_to_date
    published: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    cursor: int | None = None


def watch_due(watched_at: datetime | None, expires_at: datetime | None, now: datetime) -> bool:
    """Renew daily (Google asks for at least weekly), and at once when the registration is about to lapse."""
    if watched_at is None or now - watched_at >= WATCH_EVERY:
        return True
    return expires_at is not None and expires_at - now < timedelta(hours=1)


class MailboxSync:
    def __init__(
        self,
        api: GmailApi,
        pool: asyncpg.Pool,
        bus: Bus,
        *,
        topic: str | None = None,
        full_sync_limit: int = 100,
        full_sync_days: int = 7,
    ) -> None:
        self.api = api
        self.pool = pool
        self.bus = bus
        self.mailbox = api.mailbox.strip().lower()
        self.topic = topic
        self.full_sync_limit = full_sync_limit
        self.full_sync_days = full_sync_days
        self._lock = asyncio.Lock()

    async def sync(self, *, trigger: str, hint: int | None = None) -> SyncReport:
        """Publish what arrived since the cursor. ``hint``: the history id of a notification (already covered
        when the cursor has reached it)."""
        report = SyncReport(trigger)
        async with self._lock, self.pool.acquire() as conn, conn.transaction():
            await self._lock_mailbox(conn)
            cursor = await self._cursor(conn)
            if cursor is None:
                # First contact: start from the mailbox's present; mail already there is not answered.
                report.kind, report.cursor = "initialized", int((await self.api.profile())["historyId"])
                await self._save(conn, report.cursor)
            elif hint is not None and hint <= cursor:
                report.kind, report.cursor = "up_to_date", cursor
            else:
                try:
                    ids, latest = await self._changes_since(cursor)
                except HistoryExpired:
                    log.warning("gmail history cursor expired; running a bounded full sync")
                    report.kind = "full"
                    ids, latest = await self._recent_inbox()
                await self._publish(ids, report)
                report.cursor = max(cursor, latest)
                await self._save(conn, report.cursor, full_sync=report.kind == "full")
        GMAIL_SYNCS.labels(trigger, report.kind).inc()
        return report

    async def renew_watch_if_due(self, *, now: datetime | None = None) -> bool:
        """``users.watch`` on the topic when the daily renewal is due. Returns whether it was renewed."""
        if not self.topic:
            return False
        now = now or datetime.now(UTC)
        async with self._lock, self.pool.acquire() as conn, conn.transaction():
            await self._lock_mailbox(conn)
            row = await conn.fetchrow(
                "SELECT watched_at, watch_expires_at FROM gmail_cursors WHERE mailbox = $1", self.mailbox
            )
            if row is not None and not watch_due(row["watched_at"], row["watch_expires_at"], now):
                return False
            response = await self.api.watch(self.topic)
            expires = datetime.fromtimestamp(int(response["expiration"]) / 1000, UTC)
            await conn.execute(
                """INSERT INTO gmail_cursors (mailbox, history_id, watched_at, watch_expires_at)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (mailbox) DO UPDATE SET watched_at = $3, watch_expires_at = $4, updated_at = now()""",
                self.mailbox,
                Decimal(int(response["historyId"])),
                now,
                expires,
            )
        log.info("gmail watch registered until %s", expires.isoformat())
        return True

    async def poll_forever(self, interval: float) -> None:
        """The back-stop for lost pushes, and the daily watch renewal."""
        await self._guarded(self.sync(trigger="start"))
        await self._guarded(self.renew_watch_if_due())
        while True:
            await asyncio.sleep(interval)
            report = await self._guarded(self.sync(trigger="poll"))
            if report is not None and report.published:
                log.info("gmail poll found %d message(s) that no push announced", len(report.published))
            await self._guarded(self.renew_watch_if_due())

    async def _guarded(self, job: Awaitable[_T]) -> _T | None:
        try:
            return await job
        except Exception as exc:
            log.warning("gmail background sync failed (retrying on the next tick): %r", exc)
            return None

    async def _changes_since(self, cursor: int) -> tuple[list[str], int]:
        ids: list[str] = []
        latest = cursor
        page_token: str | None = None
        while True:
            page = await self.api.history(cursor, page_token=page_token)
            for record in page.get("history", []):
                for added in record.get("messagesAdded", []):
                    gmail_id = str(added.get("message", {}).get("id") or "")
                    if gmail_id and gmail_id not in ids:
                        ids.append(gmail_id)
            latest = max(latest, int(page.get("historyId") or latest))
            page_token = page.get("nextPageToken")
            if not page_token:
                return ids, latest

    async def _recent_inbox(self) -> tuple[list[str], int]:
        """The newest INBOX messages (capped), oldest first, and the history id to continue from. The profile is
        read first: anything arriving meanwhile is also found by the next incremental sync (and deduplicated)."""
        latest = int((await self.api.profile())["historyId"])
        found = await self.api.list_messages(
            f"in:inbox newer_than:{self.full_sync_days}d", max_results=self.full_sync_limit
        )
        return [str(m["id"]) for m in reversed(found)], latest

    async def _publish(self, ids: list[str], report: SyncReport) -> None:
        for gmail_id in ids:
            message = await self.api.get_message(gmail_id, fmt="raw")
            if message is None:
                report.skipped[gmail_id] = "deleted before it was read"
                continue
            result = to_inbound(message, mailbox=self.mailbox)
            if isinstance(result, Skipped):
                log.info("skipping gmail message %s: %s", gmail_id, result.reason)
                report.skipped[gmail_id] = result.reason
                GMAIL_MESSAGES.labels("skipped").inc()
                continue
            await self.bus.publish(Publication(Subjects.inbound("email"), result))
            report.published.append(gmail_id)
            GMAIL_MESSAGES.labels("published").inc()

    async def _lock_mailbox(self, conn: asyncpg.Connection) -> None:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"gmail-cursor:{self.mailbox}")

    async def _cursor(self, conn: asyncpg.Connection) -> int | None:
        value = await conn.fetchval("SELECT history_id FROM gmail_cursors WHERE mailbox = $1", self.mailbox)
        return None if value is None else int(value)

    async def _save(self, conn: asyncpg.Connection, history_id: int, *, full_sync: bool = False) -> None:
        await conn.execute(
            """INSERT INTO gmail_cursors (mailbox, history_id, full_syncs, last_synced_at) VALUES ($1, $2, $3, now())
               ON CONFLICT (mailbox) DO UPDATE SET history_id = EXCLUDED.history_id,
                   full_syncs = gmail_cursors.full_syncs + EXCLUDED.full_syncs, last_synced_at = now(),
                   updated_at = now()""",
            self.mailbox,
            Decimal(history_id),
            int(full_sync),
        )
