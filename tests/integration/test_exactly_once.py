"""Nothing lost, nothing doubled: duplicate publications and a worker that dies before acking."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import UTC, datetime

import asyncpg
import msgspec
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.identity.service import IdentityHandler
from shared.bus import Bus, Publication
from shared.runtime import Runtime
from shared.worker import MessageContext, Worker
from subjects import ConsumerSpec, InboundMessage, Subjects
from subjects.streams import INBOUND, WORK
from tests.helpers import eventually, unique_email


def _inbound(email: str, ticket_id: str | None = None) -> InboundMessage:
    ticket_id = ticket_id or secrets.token_urlsafe(16)
    return InboundMessage(
        event_id=f"web:{ticket_id}",
        channel="web",
        received_at=datetime.now(UTC),
        body="How do I turn on two-factor authentication?",
        sender_name="Ben Okafor",
        email=email,
        subject="Two-factor authentication",
        category="technical",
        ticket_id=ticket_id,
    )


async def _counts(pool: asyncpg.Pool, email: str) -> dict[str, int]:
    row = await pool.fetchrow(
        """SELECT
             (SELECT count(*) FROM customer_identifiers WHERE value = $1) AS identifiers,
             (SELECT count(*) FROM tickets t JOIN customer_identifiers ci ON ci.customer_id = t.customer_id
              WHERE ci.value = $1) AS tickets,
             (SELECT count(*) FROM messages m JOIN customer_identifiers ci ON ci.customer_id = m.customer_id
              WHERE ci.value = $1 AND m.role = 'customer') AS inbound,
             (SELECT count(*) FROM messages m JOIN customer_identifiers ci ON ci.customer_id = m.customer_id
              WHERE ci.value = $1 AND m.role = 'agent') AS replies""",
        email,
    )
    return dict(row)


async def test_the_same_event_published_twice_yields_one_ticket_and_one_reply(bus: Bus, stack: object) -> None:
    pool = stack.runtime.pool  # type: ignore[attr-defined]
    email = unique_email("twice")
    event = _inbound(email)
    first = await bus.publish(Publication(Subjects.inbound("web"), event))
    second = await bus.publish(Publication(Subjects.inbound("web"), event))
    assert not first.duplicate and second.duplicate  # the stream's duplicate window
    # And past the window (a different Nats-Msg-Id for the same event): still one of each.
    await bus.publish_raw(Subjects.inbound("web"), msgspec.json.encode(event), msg_id=f"replayed:{event.event_id}")

    await eventually(lambda: _replied(pool, email))
    await asyncio.sleep(0.5)  # let any duplicate work finish if it were going to
    assert await _counts(pool, email) == {"identifiers": 1, "tickets": 1, "inbound": 1, "replies": 1}


async def _replied(pool: asyncpg.Pool, email: str) -> bool:
    return (await _counts(pool, email))["replies"] >= 1


@pytest.fixture
async def crash_consumer(bus: Bus) -> ConsumerSpec:
    """A durable of our own on the inbound stream (new messages only, 1 s ack wait) so that the
    running stack's identity worker is not involved."""
    durable = f"crash-{uuid.uuid4().hex[:8]}"
    spec = ConsumerSpec(
        durable=durable,
        stream=INBOUND.name,
        filter_subject=Subjects.inbound("web"),
        description="exactly-once test",
        ack_wait_seconds=1,
        max_deliver=5,
    )
    await bus.js.add_consumer(
        INBOUND.name,
        ConsumerConfig(
            name=durable,
            durable_name=durable,
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=1.0,
            max_deliver=5,
            filter_subject=spec.filter_subject,
        ),
    )
    yield spec
    await bus.js.delete_consumer(INBOUND.name, durable)


@pytest.mark.parametrize("dies", ["after_commit", "inside_transaction"])
async def test_a_worker_that_dies_before_acking_is_redelivered_and_handled_once(
    bus: Bus, stack: object, crash_consumer: ConsumerSpec, dies: str
) -> None:
    runtime: Runtime = stack.runtime  # type: ignore[attr-defined]
    real = IdentityHandler(runtime)
    calls = 0
    committed = asyncio.Event()

    async def dying(event: object, ctx: MessageContext) -> None:
        nonlocal calls
        calls += 1
        if dies == "after_commit":
            await real(event, ctx)
            committed.set()
        else:
            async with ctx.transaction() as tx:
                await tx.execute("SELECT 1")
                committed.set()
                await asyncio.Event().wait()  # the process dies mid-transaction
        await asyncio.Event().wait()  # ... and never acks

    email = unique_email(f"crash-{dies}")
    event = _inbound(email)
    first = Worker(spec=crash_consumer, handler=dying, bus=runtime.bus, pool=runtime.pool, concurrency=1)
    await first.start()
    work_before = (await bus.js.stream_info(WORK.name)).state.messages
    await bus.publish(Publication(Subjects.inbound("web"), event))
    await asyncio.wait_for(committed.wait(), timeout=10)
    await first.stop(timeout=0.1)  # "kill -9": in-flight handler cancelled, nothing acked

    handled: list[int] = []

    async def survivor(event: object, ctx: MessageContext) -> None:
        handled.append(ctx.delivery_count)
        await real(event, ctx)

    second = Worker(spec=crash_consumer, handler=survivor, bus=runtime.bus, pool=runtime.pool, concurrency=1)
    await second.start()
    try:

        async def acked() -> bool:
            info = await bus.js.consumer_info(INBOUND.name, crash_consumer.durable)
            return info.num_ack_pending == 0 and info.num_pending == 0 and info.delivered.stream_seq > 0

        await eventually(acked, timeout=15)
    finally:
        await second.stop()

    processed = await runtime.pool.fetchval(
        "SELECT count(*) FROM processed_messages WHERE consumer = $1 AND msg_id = $2",
        crash_consumer.durable,
        event.event_id,
    )
    assert processed == 1
    if dies == "after_commit":
        assert handled == []  # the redelivery found the commit and only published what was pending
    else:
        assert handled == [2]  # the rolled-back attempt left nothing; the redelivery did the work
    pending = await runtime.pool.fetchval(
        """SELECT count(*) FROM pending_publications
           WHERE consumer = $1 AND source_msg_id = $2 AND published_at IS NULL""",
        crash_consumer.durable,
        event.event_id,
    )
    assert pending == 0
    # Exactly one work item reached the stream for this event (the stack's identity may add its
    # own with the same Nats-Msg-Id, which the duplicate window stores once).
    work_after = (await bus.js.stream_info(WORK.name)).state.messages
    assert work_after - work_before == 1
    assert (await _counts(runtime.pool, email))["tickets"] == 1
