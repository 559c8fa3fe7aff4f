"""Merge and unmerge through the staff API: what moves, the audit record, the exact restore, and
that an error leaves nothing half-merged."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from shared.bus import Bus
from tests.helpers import eventually, submission, unique_email
from tests.integration.identity_support import (
    STAFF,
    email_event,
    national,
    resolved,
    send,
    unique_name,
    unique_phone,
    whatsapp_event,
)

# Every row that belongs to either customer, keyed by table (ordered, all columns).
SNAPSHOT_QUERIES = {
    "customers": "SELECT * FROM customers WHERE id = ANY($1::uuid[]) ORDER BY id",
    "customer_identifiers": "SELECT * FROM customer_identifiers WHERE customer_id = ANY($1::uuid[]) ORDER BY id",
    "conversations": "SELECT * FROM conversations WHERE customer_id = ANY($1::uuid[]) ORDER BY id",
    "tickets": "SELECT * FROM tickets WHERE customer_id = ANY($1::uuid[]) ORDER BY id",
    "messages": "SELECT * FROM messages WHERE customer_id = ANY($1::uuid[]) ORDER BY id",
    "escalations": "SELECT * FROM escalations WHERE customer_id = ANY($1::uuid[]) ORDER BY id",
    "link_suggestions": """SELECT * FROM link_suggestions
                           WHERE customer_id = ANY($1::uuid[]) OR other_customer_id = ANY($1::uuid[]) ORDER BY id""",
}


async def snapshot(pool: asyncpg.Pool, ids: list[uuid.UUID]) -> dict[str, list[dict[str, Any]]]:
    return {table: [dict(r) for r in await pool.fetch(sql, ids)] for table, sql in SNAPSHOT_QUERIES.items()}


async def settled(pool: asyncpg.Pool, ids: list[uuid.UUID]) -> dict[str, list[dict[str, Any]]]:
    """A snapshot once the agent and dispatcher are done with these customers (twice the same)."""

    async def still() -> dict[str, list[dict[str, Any]]] | None:
        first = await snapshot(pool, ids)
        replies = [m for m in first["messages"] if m["role"] == "agent"]
        inbound = [m for m in first["messages"] if m["role"] == "customer"]
        await asyncio.sleep(1.0)
        second = await snapshot(pool, ids)
        return first if first == second and len(replies) >= len(inbound) else None

    return await eventually(still, timeout=30)


@pytest.fixture
async def two_customers(http: httpx.AsyncClient, bus: Bus, stack: object) -> tuple[uuid.UUID, uuid.UUID, str, str]:
    """A: the form (email + phone) then WhatsApp; B: two emails, one claiming A's phone."""
    pool = stack.runtime.pool  # type: ignore[attr-defined]
    email_a, phone, email_b = unique_email("merge-a"), unique_phone(), unique_email("merge-b")
    form = submission(name=unique_name(), email=email_a, phone=national(phone))
    response = await http.post("/support/submit", json=form)
    assert response.status_code == 201
    a = await resolved(pool, f"web:{response.json()['ticket_id']}")
    await send(bus, pool, whatsapp_event(phone, "I want to talk to a human please"))
    b = await send(bus, pool, email_event(email_b, "How do I export my boards to CSV?"))
    await send(bus, pool, email_event(email_b, f"It's me again, my phone is {phone}."))
    return a["customer_id"], b["customer_id"], phone, email_b


async def test_merge_moves_everything_with_an_audit_record_and_unmerge_restores_it_exactly(
    http: httpx.AsyncClient, stack: object, two_customers: tuple[uuid.UUID, uuid.UUID, str, str]
) -> None:
    pool = stack.runtime.pool  # type: ignore[attr-defined]
    a, b, phone, email_b = two_customers
    before = await settled(pool, [a, b])
    assert before["escalations"], "the hand-over request should have opened an escalation"
    assert [s["kind"] for s in before["link_suggestions"]] == ["mention"]

    response = await http.post(f"/customers/{b}/merge", json={"into": str(a), "reason": "same person"}, headers=STAFF)
    assert response.status_code == 200, response.text
    merge = response.json()
    assert (merge["source"], merge["target"], merge["actor"], merge["reason"]) == (
        str(b),
        str(a),
        "staff",
        "same person",
    )
    b_rows = {table: [r for r in rows if r.get("customer_id") == b] for table, rows in before.items()}
    assert merge["moved"]["messages.customer_id"] == len(b_rows["messages"])
    assert merge["moved"]["customer_identifiers.customer_id"] == 1
    assert merge["moved"]["tickets.customer_id"] == len(b_rows["tickets"])

    audit = await pool.fetchrow("SELECT * FROM audit_log WHERE id = $1", merge["merge_id"])
    assert (audit["actor"], audit["action"], audit["subject_id"]) == ("staff", "customer.merge", str(b))
    assert sorted(audit["details"]["moved"]["messages.customer_id"]) == sorted(str(m["id"]) for m in b_rows["messages"])

    survivor = (await http.get(f"/customers/{a}", headers=STAFF)).json()
    assert {i["kind"] for i in survivor["identifiers"]} == {"email", "phone"} and len(survivor["identifiers"]) == 3
    assert [c["status"] for c in survivor["conversations"]].count("active") == 1
    assert [s["status"] for s in survivor["link_suggestions"]] == ["confirmed"]
    assert [m["merge_id"] for m in survivor["merges"]] == [merge["merge_id"]]
    merged = (await http.get(f"/customers/{b}", headers=STAFF)).json()
    assert (merged["merged_into"], merged["survivor_id"], merged["identifiers"]) == (str(a), str(a), [])
    found = await http.get("/customers/lookup", params={"email": email_b.upper()}, headers=STAFF)
    assert found.json()["id"] == str(a)  # the merged customer's address finds the survivor

    again = await http.post(f"/customers/{b}/merge", json={"into": str(a), "reason": "twice"}, headers=STAFF)
    assert again.status_code == 409
    into_merged = await http.post(f"/customers/{a}/merge", json={"into": str(b), "reason": "x"}, headers=STAFF)
    assert into_merged.status_code == 409

    undone = await http.post(f"/customers/{b}/unmerge", json={"reason": "different people after all"}, headers=STAFF)
    assert undone.status_code == 200, undone.text
    assert undone.json()["merge_id"] == merge["merge_id"]
    assert await snapshot(pool, [a, b]) == before
    assert (await http.post(f"/customers/{b}/unmerge", headers=STAFF)).status_code == 409
    twice = await http.post(f"/customers/{b}/unmerge", json={"merge_id": merge["merge_id"]}, headers=STAFF)
    assert twice.status_code == 409
    history = (await http.get(f"/customers/{a}", headers=STAFF)).json()["merges"]
    assert history[0]["undone_at"] is not None


async def test_merge_errors_are_409_and_404_and_change_nothing(
    http: httpx.AsyncClient, stack: object, two_customers: tuple[uuid.UUID, uuid.UUID, str, str]
) -> None:
    pool = stack.runtime.pool  # type: ignore[attr-defined]
    a, b, _, _ = two_customers
    before = await settled(pool, [a, b])
    unknown = uuid.uuid4()
    cases = [
        (f"/customers/{a}/merge", {"into": str(a), "reason": "self"}, 409),
        (f"/customers/{a}/merge", {"into": str(unknown), "reason": "nobody"}, 404),
        (f"/customers/{unknown}/merge", {"into": str(a), "reason": "nobody"}, 404),
        ("/customers/not-a-uuid/merge", {"into": str(a), "reason": "nobody"}, 404),
        (f"/customers/{a}/merge", {"into": "not-a-uuid", "reason": "x"}, 422),
        (f"/customers/{a}/merge", {"into": str(b)}, 422),
        (f"/customers/{a}/merge", {"into": str(b), "reason": "   "}, 422),
        (f"/customers/{a}/unmerge", {}, 409),
        (f"/customers/{a}/unmerge", {"merge_id": 987654321}, 404),
        (f"/customers/{a}/unmerge", {"merge_id": "x"}, 422),
        (f"/customers/{unknown}/unmerge", {}, 404),
    ]
    for path, body, status in cases:
        response = await http.post(path, json=body, headers=STAFF)
        assert response.status_code == status, (path, body, response.text)
    malformed = await http.post(
        f"/customers/{a}/merge", content=b"{nope", headers={**STAFF, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert await snapshot(pool, [a, b]) == before


async def test_a_merge_that_fails_half_way_leaves_nothing_half_merged(
    http: httpx.AsyncClient, stack: object, two_customers: tuple[uuid.UUID, uuid.UUID, str, str]
) -> None:
    """A trigger makes the move of the source's tickets fail, after its identifiers, conversations
    and messages have moved inside the transaction: all of it must roll back."""
    pool = stack.runtime.pool  # type: ignore[attr-defined]
    a, b, _, _ = two_customers
    before = await settled(pool, [a, b])
    trigger = f"fte_test_fail_{uuid.uuid4().hex[:8]}"
    await pool.execute(
        f"""CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
            CREATE TRIGGER {trigger} BEFORE UPDATE OF customer_id ON tickets
            FOR EACH ROW WHEN (OLD.customer_id = '{b}'::uuid) EXECUTE FUNCTION {trigger}();"""
    )
    try:
        response = await http.post(f"/customers/{b}/merge", json={"into": str(a), "reason": "x"}, headers=STAFF)
        assert response.status_code == 500
    finally:
        await pool.execute(f"DROP TRIGGER {trigger} ON tickets; DROP FUNCTION {trigger}();")
    assert await snapshot(pool, [a, b]) == before
    assert not await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'customer.merge' AND subject_id = $1", str(b)
    )
