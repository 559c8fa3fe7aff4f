"""Merge two customers, and undo a merge exactly, from the audit record. One transaction each.

A merge moves every row that references the source customer (found in the catalogue, so a table
added later moves too) onto the target, confirms the suggestions between the two, closes all but
the target's most recent active conversation, marks the source ``merged_into`` and writes an
``audit_log`` row (``customer.merge``) holding who, when, why and the primary keys of exactly the
rows that moved, with the prior values of whatever else it changed. ``unmerge`` puts those rows
back, plus rows created since in the conversations that go back, and writes ``customer.unmerge``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from services.identity.store import lock_customer


class MergeError(Exception):
    """A merge or unmerge that must not happen; ``status`` is the HTTP status it maps to."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Reference:
    """A column referencing customers(id): where its rows are and how to find them again."""

    label: str  # "messages.customer_id"
    table: str  # quoted, for SQL
    column: str  # quoted
    pk: str | None  # quoted single-column primary key
    conversation_column: str | None  # quoted column referencing conversations(id), if any


@dataclass(frozen=True, slots=True)
class MergeRecord:
    merge_id: int
    source: UUID
    target: UUID
    actor: str
    reason: str
    at: datetime
    moved: dict[str, int]


_REFERENCES_SQL = """
SELECT t.relname || '.' || a.attname AS label,
       format('%I.%I', n.nspname, t.relname) AS tbl,
       quote_ident(a.attname) AS col,
       (SELECT quote_ident(pa.attname) FROM pg_index i
        JOIN pg_attribute pa ON pa.attrelid = i.indrelid AND pa.attnum = i.indkey[0]
        WHERE i.indrelid = c.conrelid AND i.indisprimary AND i.indnatts = 1) AS pk,
       (SELECT quote_ident(a2.attname) FROM pg_constraint c2
        JOIN pg_attribute a2 ON a2.attrelid = c2.conrelid AND a2.attnum = c2.conkey[1]
        WHERE c2.conrelid = c.conrelid AND c2.contype = 'f' AND cardinality(c2.conkey) = 1
          AND c2.confrelid = 'conversations'::regclass LIMIT 1) AS conv
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
WHERE c.contype = 'f' AND c.confrelid = 'customers'::regclass AND cardinality(c.conkey) = 1
  AND c.conrelid <> 'customers'::regclass
ORDER BY 1
"""


async def references(tx: asyncpg.Connection) -> list[Reference]:
    rows = await tx.fetch(_REFERENCES_SQL)
    return [Reference(r["label"], r["tbl"], r["col"], r["pk"], r["conv"]) for r in rows]


async def _lock_pair(tx: asyncpg.Connection, a: UUID, b: UUID) -> dict[UUID, asyncpg.Record]:
    """Exclusive use of both customers: the identity worker takes the same lock per message."""
    for customer_id in sorted((a, b), key=str):
        await lock_customer(tx, customer_id)
    rows = await tx.fetch(
        "SELECT id, merged_into, updated_at FROM customers WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
        [a, b],
    )
    return {r["id"]: r for r in rows}


async def merge(tx: asyncpg.Connection, source: UUID, target: UUID, *, actor: str, reason: str) -> MergeRecord:
    """Move everything of ``source`` onto ``target``; raises MergeError (nothing changed) if it must not."""
    if source == target:
        raise MergeError(409, "a customer cannot be merged into itself")
    found = await _lock_pair(tx, source, target)
    if source not in found:
        raise MergeError(404, "unknown customer")
    if target not in found:
        raise MergeError(404, "unknown target customer")
    if found[source]["merged_into"] is not None:
        raise MergeError(409, f"the customer is already merged into {found[source]['merged_into']}")
    if found[target]["merged_into"] is not None:
        raise MergeError(409, f"the target is merged into {found[target]['merged_into']}; merge into that one")

    suggestions_before = await tx.fetch(
        """SELECT id, status, decided_by, decision_reason, decided_at FROM link_suggestions
           WHERE status = 'suggested' AND ((customer_id = $1 AND other_customer_id = $2)
                                           OR (customer_id = $2 AND other_customer_id = $1))
           ORDER BY id FOR UPDATE""",
        source,
        target,
    )
    await tx.execute(
        """UPDATE link_suggestions SET status = 'confirmed', decided_by = $2, decision_reason = $3, decided_at = now()
           WHERE id = ANY($1::bigint[])""",
        [r["id"] for r in suggestions_before],
        actor,
        f"merged: {reason}",
    )
    moved: dict[str, list[str]] = {}
    for ref in await references(tx):
        if ref.pk is None:
            raise RuntimeError(f"{ref.label} references customers without a single-column primary key")
        rows = await tx.fetch(
            f"UPDATE {ref.table} SET {ref.column} = $2 WHERE {ref.column} = $1 RETURNING {ref.pk}::text AS pk",  # noqa: S608 - names from the catalogue, quoted
            source,
            target,
        )
        if rows:
            moved[ref.label] = sorted(r["pk"] for r in rows)
    closed = await tx.fetch(
        """UPDATE conversations SET status = 'closed'
           WHERE customer_id = $1 AND status = 'active' AND id <> (
               SELECT id FROM conversations WHERE customer_id = $1 AND status = 'active'
               ORDER BY last_activity_at DESC, id LIMIT 1)
           RETURNING id::text AS id""",
        target,
    )
    await tx.execute(
        "UPDATE customers SET merged_into = $2, updated_at = now() WHERE id = $1",
        source,
        target,
    )
    details: dict[str, Any] = {
        "source": str(source),
        "target": str(target),
        "reason": reason,
        "moved": moved,
        "closed_conversations": sorted(r["id"] for r in closed),
        "suggestions_before": [
            {
                "id": r["id"],
                "status": r["status"],
                "decided_by": r["decided_by"],
                "decision_reason": r["decision_reason"],
                "decided_at": r["decided_at"].isoformat() if r["decided_at"] else None,
            }
            for r in suggestions_before
        ],
        "source_before": {"merged_into": None, "updated_at": found[source]["updated_at"].isoformat()},
    }
    row = await tx.fetchrow(
        """INSERT INTO audit_log (actor, action, subject_type, subject_id, details)
           VALUES ($1, 'customer.merge', 'customer', $2, $3) RETURNING id, created_at""",
        actor,
        str(source),
        details,
    )
    counts = {label: len(ids) for label, ids in moved.items()}
    return MergeRecord(row["id"], source, target, actor, reason, row["created_at"], counts)


async def _merge_record(tx: asyncpg.Connection, customer_id: UUID, merge_id: int | None) -> asyncpg.Record:
    if merge_id is not None:
        row = await tx.fetchrow(
            """SELECT id, details FROM audit_log WHERE id = $1 AND action = 'customer.merge'
                 AND $2 IN (details ->> 'source', details ->> 'target')""",
            merge_id,
            str(customer_id),
        )
        if row is None:
            raise MergeError(404, f"no merge {merge_id} of this customer")
        return row
    row = await tx.fetchrow(
        """SELECT m.id, m.details FROM audit_log m
           WHERE m.action = 'customer.merge' AND $1 IN (m.details ->> 'source', m.details ->> 'target')
             AND NOT EXISTS (SELECT 1 FROM audit_log u WHERE u.action = 'customer.unmerge'
                             AND u.details ->> 'merge_id' = m.id::text)
           ORDER BY m.id DESC LIMIT 1""",
        str(customer_id),
    )
    if row is None:
        raise MergeError(409, "this customer has no merge to undo")
    return row


async def unmerge(
    tx: asyncpg.Connection, customer_id: UUID, *, merge_id: int | None, actor: str, reason: str
) -> MergeRecord:
    """Restore the state before a merge (by default the latest one involving the customer)."""
    if not await tx.fetchval("SELECT true FROM customers WHERE id = $1", customer_id):
        raise MergeError(404, "unknown customer")
    record = await _merge_record(tx, customer_id, merge_id)
    details = record["details"]
    source, target = UUID(details["source"]), UUID(details["target"])
    found = await _lock_pair(tx, source, target)
    undone = await tx.fetchval(
        "SELECT true FROM audit_log WHERE action = 'customer.unmerge' AND details ->> 'merge_id' = $1",
        str(record["id"]),
    )
    if undone:
        raise MergeError(409, f"merge {record['id']} was already undone")
    if found[source]["merged_into"] != target:
        raise MergeError(409, "the customer is no longer merged as this record says")
    if found[target]["merged_into"] is not None:
        raise MergeError(409, f"the target was merged into {found[target]['merged_into']} since; undo that first")

    refs = {ref.label: ref for ref in await references(tx)}
    conversations = details["moved"].get("conversations.customer_id", [])
    restored: dict[str, int] = {}
    for label, ids in details["moved"].items():
        ref = refs.get(label)
        if ref is None or ref.pk is None:
            raise MergeError(409, f"{label} no longer exists; this merge cannot be undone automatically")
        rows = await tx.fetch(
            f"""UPDATE {ref.table} SET {ref.column} = $1
                WHERE {ref.column} = $2 AND {ref.pk}::text = ANY($3::text[]) RETURNING 1""",  # noqa: S608
            source,
            target,
            ids,
        )
        restored[label] = len(rows)
    for ref in refs.values():  # rows added since, inside the conversations that go back
        if ref.conversation_column and conversations:
            rows = await tx.fetch(
                f"""UPDATE {ref.table} SET {ref.column} = $1
                    WHERE {ref.column} = $2 AND {ref.conversation_column} = ANY($3::uuid[]) RETURNING 1""",  # noqa: S608
                source,
                target,
                conversations,
            )
            if rows:
                restored[ref.label] = restored.get(ref.label, 0) + len(rows)
    await tx.execute(
        "UPDATE conversations SET status = 'active' WHERE id = ANY($1::uuid[]) AND status = 'closed'",
        details["closed_conversations"],
    )
    for before in details["suggestions_before"]:
        await tx.execute(
            """UPDATE link_suggestions SET status = $2, decided_by = $3, decision_reason = $4,
                   decided_at = $5::timestamptz WHERE id = $1""",
            before["id"],
            before["status"],
            before["decided_by"],
            before["decision_reason"],
            datetime.fromisoformat(before["decided_at"]) if before["decided_at"] else None,
        )
    await tx.execute(
        "UPDATE customers SET merged_into = NULL, updated_at = $2 WHERE id = $1",
        source,
        datetime.fromisoformat(details["source_before"]["updated_at"]),
    )
    row = await tx.fetchrow(
        """INSERT INTO audit_log (actor, action, subject_type, subject_id, details)
           VALUES ($1, 'customer.unmerge', 'customer', $2, $3) RETURNING id, created_at""",
        actor,
        str(source),
        {
            "merge_id": str(record["id"]),
            "source": str(source),
            "target": str(target),
            "reason": reason,
            "restored": restored,
        },
    )
    return MergeRecord(record["id"], source, target, actor, reason, row["created_at"], restored)
