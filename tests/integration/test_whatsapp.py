"""WhatsApp end to end against the local Twilio stand-in, spoken to by the real twilio client.

The session stack runs with WhatsApp configured against the stand-in (tests/conftest.py). The
resilience tests drive a DispatchHandler on a test stream of their own with short delays (the
dispatcher's own backoff starts at 10 s), so that the stack's dispatcher never sees their messages.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig

from services.dispatcher.breaker import CircuitBreaker
from services.dispatcher.senders import WebSender
from services.dispatcher.service import DispatchHandler
from services.dispatcher.whatsapp import WhatsAppSender
from services.fakes import RunningFake
from services.ingress_whatsapp import service as ingress_whatsapp
from services.ingress_whatsapp.simulate import simulate_whatsapp
from services.ingress_whatsapp.twilio_form import SIGNATURE_HEADER, compute_signature, inbound_form
from shared.bus import Bus
from shared.http import build_app
from shared.runtime import Runtime, ServiceGroup
from shared.serving import serve
from shared.settings import Settings
from shared.worker import Worker
from subjects import ConsumerSpec, OutboundMessage, encode_event
from subjects.streams import INBOUND
from tests.helpers import eventually, submission

TEST_STREAM = "FTE_TEST_WHATSAPP"
TEST_SUBJECTS = "test.whatsapp.>"
QUICK = (0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2)


def unique_phone() -> str:
    return f"+1555{random.randint(0, 9_999_999):07d}"  # +1 555 xxx xxxx: possible, never real


@pytest.fixture
def twilio(fakes: dict[str, RunningFake]) -> RunningFake:
    return fakes["twilio"]


@pytest.fixture
async def admin(twilio: RunningFake) -> AsyncIterator[httpx.AsyncClient]:
    """The stand-in's admin API, reset before each test and back to normal after it."""
    async with httpx.AsyncClient(base_url=twilio.base_url, timeout=10) as client:
        await client.post("/_fake/reset")
        yield client
        await client.delete("/_fake/failures")
        await client.post("/_fake/callbacks", json={})


async def sent_to(admin: httpx.AsyncClient, phone: str) -> list[dict[str, Any]]:
    return (await admin.get("/_fake/messages", params={"to": f"whatsapp:{phone}"})).json()


def _pool(stack: object) -> asyncpg.Pool:
    return stack.runtime.pool  # type: ignore[attr-defined]


async def _reply_row(pool: asyncpg.Pool, phone: str, *, channel: str = "whatsapp") -> asyncpg.Record | None:
    return await pool.fetchrow(
        """SELECT m.id, m.content, m.delivery_status, m.ticket_id, t.status AS ticket_status
           FROM messages m JOIN customer_identifiers ci ON ci.customer_id = m.customer_id
           JOIN tickets t ON t.id = m.ticket_id
           WHERE ci.value = $1 AND m.role = 'agent' AND m.channel = $2""",
        phone,
        channel,
    )


# -- the customer's side: webhook -> identity -> agent -> dispatcher -> Twilio -------------------------


async def test_a_customer_message_is_answered_on_whatsapp_in_parts(
    admin: httpx.AsyncClient, stack: object, settings: Settings
) -> None:
    phone, name = unique_phone(), f"Ana {uuid.uuid4().hex[:10]}"  # a name no other test's customer has
    injected = await admin.post(
        "/_fake/inbound",
        json={"from": phone, "profile_name": name, "body": "How do I reset my password? I cannot sign in."},
    )
    assert injected.json()["status_code"] == 200
    assert injected.json()["response"] == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

    async def answered() -> list[dict[str, Any]] | None:
        row = await _reply_row(_pool(stack), phone)
        sent = await sent_to(admin, phone)
        return sent if row is not None and row["delivery_status"] == "delivered" else None

    sent = await eventually(answered, timeout=20)
    reply = await _reply_row(_pool(stack), phone)
    assert reply is not None
    assert all(m["from"] == settings.twilio_whatsapp_from for m in sent)
    assert all(0 < len(m["body"]) <= 300 for m in sent)
    assert all(m["status_callback"] == f"{settings.public_base_url}/webhooks/whatsapp/status" for m in sent)
    assert re.sub(r"\s+", " ", " ".join(m["body"] for m in sent)) == re.sub(r"\s+", " ", reply["content"].strip())
    parts = await _pool(stack).fetch(
        "SELECT provider_message_id, send_state FROM provider_message_parts WHERE message_id = $1 ORDER BY part_index",
        reply["id"],
    )
    assert [(p["provider_message_id"], p["send_state"]) for p in parts] == [(m["sid"], "sent") for m in sent]
    assert reply["ticket_status"] in ("answered", "escalated")

    async def delivery_counted() -> bool:  # one final delivery event, which metrics counted
        return bool(
            await _pool(stack).fetchval(
                "SELECT true FROM processed_messages WHERE consumer = 'metrics-events' AND msg_id = $1",
                f"delivery:final:{reply['id']}",
            )
        )

    await eventually(delivery_counted)
    inbound = await _pool(stack).fetchrow(
        """SELECT m.content, c.display_name FROM messages m JOIN customers c ON c.id = m.customer_id
           WHERE m.ticket_id = $1 AND m.role = 'customer'""",
        reply["ticket_id"],
    )
    assert inbound["content"] == "How do I reset my password? I cannot sign in."
    assert inbound["display_name"] == name


async def test_a_replayed_message_sid_is_one_message(admin: httpx.AsyncClient, stack: object) -> None:
    phone = unique_phone()
    sid = "SM" + uuid.uuid4().hex
    for _ in range(3):  # Twilio's retry of the same webhook, and a replay
        response = await admin.post(
            "/_fake/inbound", json={"from": phone, "body": "Where are my invoices?", "message_sid": sid}
        )
        assert response.json()["status_code"] == 200
    await eventually(lambda: _reply_row(_pool(stack), phone), timeout=20)
    await asyncio.sleep(0.3)
    counts = await _pool(stack).fetchrow(
        """SELECT (SELECT count(*) FROM messages WHERE channel = 'whatsapp' AND provider_message_id = $1) AS inbound,
                  (SELECT count(*) FROM tickets t JOIN customer_identifiers ci ON ci.customer_id = t.customer_id
                   WHERE ci.value = $2) AS tickets""",
        sid,
        phone,
    )
    assert dict(counts) == {"inbound": 1, "tickets": 1}


async def test_fte_simulate_sends_a_signed_webhook(http: httpx.AsyncClient, settings: Settings, stack: object) -> None:
    phone = unique_phone()
    line = await simulate_whatsapp(http, settings, sender=phone, name="Sam", text="Can I export my boards to CSV?")
    assert line.startswith("whatsapp message SM")
    await eventually(lambda: _reply_row(_pool(stack), phone), timeout=20)
    with pytest.raises(ValueError, match="area code"):
        await simulate_whatsapp(http, settings, sender="+15550100", name="Sam", text="hi")


# -- bad input ----------------------------------------------------------------------------------------------


def _signed(
    settings: Settings, path: str, form: dict[str, str], *, token: str | None = None, url: str | None = None
) -> dict[str, str]:
    signature = compute_signature(
        token or settings.twilio_auth_token or "", url or f"{settings.public_base_url}{path}", form
    )
    return {SIGNATURE_HEADER: signature}


def _form(phone: str, body: str = "Hello there", sid: str | None = None) -> dict[str, str]:
    return inbound_form(
        account_sid="AC" + "0" * 32,
        message_sid=sid or "SM" + uuid.uuid4().hex,
        sender=phone,
        to="whatsapp:+14155238886",
        body=body,
    )


async def _inbound_count(bus: Bus) -> int:
    return (await bus.js.stream_info(INBOUND.name)).state.messages


@pytest.mark.parametrize("path", ["/webhooks/whatsapp", "/webhooks/whatsapp/status"])
async def test_forged_or_missing_signatures_are_403_and_publish_nothing(
    http: httpx.AsyncClient, bus: Bus, settings: Settings, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    phone = unique_phone()
    form = _form(phone)
    before = await _inbound_count(bus)
    attempts = [
        {},
        {SIGNATURE_HEADER: "bm90IGEgc2lnbmF0dXJl"},
        _signed(settings, path, form, token="someone-elses-token"),
        _signed(settings, path, form, url="https://elsewhere.example.com" + path),
        _signed(settings, path, {**form, "Body": "a different text"}),
    ]
    with caplog.at_level(logging.WARNING, logger="services.ingress_whatsapp.service"):
        for headers in attempts:
            response = await http.post(path, data=form, headers=headers)
            assert response.status_code == 403, response.text
    assert await _inbound_count(bus) == before
    security = [r.getMessage() for r in caplog.records if r.getMessage().startswith("security:")]
    assert len(security) == len(attempts)
    assert not any(phone[2:] in line or phone[-7:] in line for line in security)


async def test_bad_requests_get_clear_errors(http: httpx.AsyncClient, bus: Bus, settings: Settings) -> None:
    path = "/webhooks/whatsapp"
    before = await _inbound_count(bus)
    sms = {**_form(unique_phone()), "From": "+15550100123"}  # an SMS webhook pointed here
    response = await http.post(path, data=sms, headers=_signed(settings, path, sms))
    assert response.status_code == 400 and "From" in response.text
    big = _form(unique_phone(), body="x" * (70 * 1024))
    assert (await http.post(path, data=big, headers=_signed(settings, path, big))).status_code == 413
    as_json = await http.post(path, json={"Body": "hi"}, headers={SIGNATURE_HEADER: "c2lnbmF0dXJl"})
    assert as_json.status_code == 415
    assert await _inbound_count(bus) == before


async def test_without_twilio_credentials_the_webhooks_answer_503_and_ready_lists_whatsapp_off(
    stack: object, settings: Settings
) -> None:
    unconfigured = dataclasses.replace(settings, twilio_account_sid=None, twilio_auth_token=None)
    runtime = Runtime(settings=unconfigured, bus=stack.runtime.bus, pool=_pool(stack))  # type: ignore[attr-defined]
    parts = [ingress_whatsapp.build(runtime)]
    base_url, stop = await serve(build_app(runtime, ServiceGroup(runtime, parts), parts))
    try:
        async with httpx.AsyncClient(base_url=base_url) as client:
            form = _form(unique_phone())
            for path in ("/webhooks/whatsapp", "/webhooks/whatsapp/status"):
                assert (await client.post(path, data=form, headers=_signed(settings, path, form))).status_code == 503
            ready = await client.get("/ready")
            assert ready.status_code == 200
            assert ready.json()["channels"]["whatsapp"]["enabled"] is False
    finally:
        await stop()


# -- delivery status callbacks --------------------------------------------------------------------------------


async def _conversation(
    pool: asyncpg.Pool,
    phone: str,
    *,
    body: str,
    channel: str = "whatsapp",
    last_inbound_at: datetime | None = None,
) -> OutboundMessage:
    """A customer, conversation, ticket, their message and our reply waiting to be delivered."""
    tag = uuid.uuid4().hex
    async with pool.acquire() as conn, conn.transaction():
        customer = await conn.fetchval("INSERT INTO customers (display_name) VALUES ('Test Customer') RETURNING id")
        await conn.execute(
            """INSERT INTO customer_identifiers (customer_id, kind, value, first_seen_channel)
               VALUES ($1, $2, $3, $4)""",
            customer,
            "phone" if channel == "whatsapp" else "email",
            phone,
            channel,
        )
        conversation = await conn.fetchval(
            "INSERT INTO conversations (customer_id, current_channel) VALUES ($1, $2) RETURNING id", customer, channel
        )
        ticket = f"t{tag[:21]}"
        await conn.execute(
            """INSERT INTO tickets (id, customer_id, conversation_id, source_channel, status)
               VALUES ($1, $2, $3, $4, 'processing')""",
            ticket,
            customer,
            conversation,
            channel,
        )
        await conn.execute(
            """INSERT INTO messages (conversation_id, ticket_id, customer_id, channel, direction, role, content,
                                     event_id, created_at)
               VALUES ($1, $2, $3, $4, 'inbound', 'customer', 'A question', $5, $6)""",
            conversation,
            ticket,
            customer,
            channel,
            f"test-in:{tag}",
            last_inbound_at or datetime.now(UTC),
        )
        reply = await conn.fetchval(
            """INSERT INTO messages (conversation_id, ticket_id, customer_id, channel, direction, role, content,
                                     event_id, delivery_status)
               VALUES ($1, $2, $3, $4, 'outbound', 'agent', $5, $6, 'queued') RETURNING id""",
            conversation,
            ticket,
            customer,
            channel,
            body,
            f"test-reply:{tag}",
        )
    return OutboundMessage(
        event_id=f"reply:test:{tag}",
        channel=channel,  # type: ignore[arg-type]
        customer_id=str(customer),
        conversation_id=str(conversation),
        ticket_id=ticket,
        message_id=str(reply),
        body_text=body,
        recipient=phone,
    )


LONG_REPLY = " ".join(f"Step {i}: open the page, choose the option and confirm it in the dialog." for i in range(12))


async def _status(pool: asyncpg.Pool, message: OutboundMessage) -> str:
    return await pool.fetchval("SELECT delivery_status FROM messages WHERE id = $1", UUID(message.message_id))


async def _report(admin: httpx.AsyncClient, pool: asyncpg.Pool, sid: str, status: str, **extra: str) -> None:
    """Have Twilio post one status callback and wait until the callback worker has applied it."""
    response = await admin.post("/_fake/status", json={"sid": sid, "status": status, **extra})
    assert response.status_code == 200

    async def applied() -> bool:
        return bool(
            await pool.fetchval(
                "SELECT true FROM processed_messages WHERE consumer = 'dispatcher-callbacks' AND msg_id = $1",
                f"twilio-status:{sid}:{status}",
            )
        )

    await eventually(applied)


@pytest.fixture
async def sender(stack: object, settings: Settings) -> AsyncIterator[Callable[..., WhatsAppSender]]:
    made: list[WhatsAppSender] = []

    def make(**changes: Any) -> WhatsAppSender:
        timeout = changes.pop("timeout", 5.0)
        made.append(WhatsAppSender(dataclasses.replace(settings, **changes), pool=_pool(stack), timeout=timeout))
        return made[-1]

    yield make
    for one in made:
        await one.aclose()


async def test_status_callbacks_out_of_order_never_go_backwards(
    admin: httpx.AsyncClient, stack: object, sender: Callable[..., WhatsAppSender]
) -> None:
    pool = _pool(stack)
    await admin.post("/_fake/callbacks", json={"statuses": []})  # the test reports each status itself
    message = await _conversation(pool, unique_phone(), body="First part here. " * 10 + "Second part there. " * 10)
    await sender().send(message)
    first, second = [m["sid"] for m in await sent_to(admin, message.recipient or "")]

    steps = [
        (first, "delivered", "queued"),  # the other part is not even sent yet: the reply is not either
        (second, "sent", "sent"),
        (second, "queued", "sent"),  # late and stale
        (second, "read", "delivered"),  # as far as the slowest part
        (first, "sent", "delivered"),
        (first, "read", "read"),
        (first, "failed", "read"),  # a failure cannot take back what the customer read
        (second, "undelivered", "read"),
    ]
    for sid, status, expected in steps:
        await _report(admin, pool, sid, status)
        assert await _status(pool, message) == expected, (sid == first, status)
    assert await pool.fetchval("SELECT status FROM tickets WHERE id = $1", message.ticket_id) == "processing"


async def test_an_undelivered_reply_escalates_the_ticket(
    admin: httpx.AsyncClient, stack: object, sender: Callable[..., WhatsAppSender]
) -> None:
    pool = _pool(stack)
    await admin.post("/_fake/callbacks", json={"statuses": ["sent"], "reverse": False})
    message = await _conversation(pool, unique_phone(), body="A short answer.")
    sid = await sender().send(message)
    await _report(admin, pool, sid, "undelivered", error_code="63016")
    assert await _status(pool, message) == "undelivered"
    escalation = await pool.fetchrow(
        "SELECT reason_code, priority, context FROM escalations WHERE ticket_id = $1", message.ticket_id
    )
    assert escalation["reason_code"] == "delivery_failed" and escalation["context"]["error_code"] == "63016"
    assert await pool.fetchval("SELECT status FROM tickets WHERE id = $1", message.ticket_id) == "escalated"


# -- the dispatcher against a failing provider, on a test stream with short delays -------------------------


@dataclasses.dataclass
class Dispatch:
    bus: Bus
    subject: str
    spec: ConsumerSpec
    workers: list[Worker]

    async def publish(self, message: OutboundMessage) -> None:
        await self.bus.js.publish(self.subject, encode_event(message), headers={"Nats-Msg-Id": message.event_id})

    async def start(self, handler: DispatchHandler, runtime: Runtime) -> None:
        worker = Worker(spec=self.spec, handler=handler, bus=self.bus, pool=runtime.pool, concurrency=4)
        await worker.start()
        self.workers.append(worker)


@pytest.fixture
async def dispatch(bus: Bus) -> AsyncIterator[Dispatch]:
    """A consumer of our own on a test stream: only these tests' messages, redelivered quickly."""
    await bus.js.add_stream(StreamConfig(name=TEST_STREAM, subjects=[TEST_SUBJECTS], max_age=600.0))
    durable = f"wa-{uuid.uuid4().hex[:8]}"
    subject = f"test.whatsapp.{durable}"
    spec = ConsumerSpec(
        durable=durable,
        stream=TEST_STREAM,
        filter_subject=subject,
        description="whatsapp dispatch test",
        ack_wait_seconds=10,
        max_deliver=8,
        backoff_seconds=QUICK,
    )
    await bus.js.add_consumer(
        TEST_STREAM,
        ConsumerConfig(
            name=durable,
            durable_name=durable,
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=10.0,
            max_deliver=8,
            filter_subject=subject,
        ),
    )
    running = Dispatch(bus, subject, spec, [])
    yield running
    for worker in running.workers:
        await worker.stop(timeout=2)
    await bus.js.delete_consumer(TEST_STREAM, durable)


def _handler(whatsapp: WhatsAppSender, *, reset_after: float = 0.3) -> DispatchHandler:
    handler = DispatchHandler({"whatsapp": whatsapp, "web": WebSender()}, max_deliver=8)
    handler.breakers["whatsapp"] = CircuitBreaker(failure_threshold=3, reset_after=reset_after)
    return handler


async def _outbox(pool: asyncpg.Pool, message: OutboundMessage) -> asyncpg.Record | None:
    row = await pool.fetchrow(
        "SELECT status, provider_message_id, attempts FROM outbox WHERE message_id = $1", UUID(message.message_id)
    )
    return row if row is not None and row["status"] in ("sent", "failed") else None


async def test_a_provider_failing_three_times_then_succeeding_sends_each_part_once(
    admin: httpx.AsyncClient, stack: object, sender: Callable[..., WhatsAppSender], dispatch: Dispatch
) -> None:
    pool = _pool(stack)
    message = await _conversation(pool, unique_phone(), body=LONG_REPLY)
    await dispatch.start(_handler(sender()), stack.runtime)  # type: ignore[attr-defined]
    # The first part goes out, then Twilio fails three times in a row.
    await admin.post("/_fake/failures", json={"mode": "error", "count": 3, "skip": 1, "status": 500})
    await dispatch.publish(message)

    outbox = await eventually(lambda: _outbox(pool, message), timeout=15)
    assert outbox["status"] == "sent"
    sent = await sent_to(admin, message.recipient or "")
    assert len(sent) == 3 and all(len(m["body"]) <= 300 for m in sent)
    assert len({m["body"] for m in sent}) == 3  # no part twice
    assert " ".join(m["body"] for m in sent) == LONG_REPLY
    assert outbox["provider_message_id"] == sent[0]["sid"]


async def test_rate_limiting_honours_retry_after(
    admin: httpx.AsyncClient, stack: object, sender: Callable[..., WhatsAppSender], dispatch: Dispatch
) -> None:
    pool = _pool(stack)
    message = await _conversation(pool, unique_phone(), body="Your invoices are under Settings > Billing.")
    await dispatch.start(_handler(sender()), stack.runtime)  # type: ignore[attr-defined]
    await admin.post("/_fake/failures", json={"mode": "rate_limit", "count": 1, "retry_after": 1.5})
    started = time.monotonic()
    await dispatch.publish(message)
    await eventually(lambda: _outbox(pool, message), timeout=10)
    assert time.monotonic() - started >= 1.4  # not the test consumer's 0.2 s backoff
    assert len(await sent_to(admin, message.recipient or "")) == 1


async def test_a_timeout_after_twilio_accepted_does_not_send_twice(
    admin: httpx.AsyncClient, stack: object, sender: Callable[..., WhatsAppSender], dispatch: Dispatch
) -> None:
    pool = _pool(stack)
    message = await _conversation(pool, unique_phone(), body="You can export boards as CSV from the board menu.")
    await dispatch.start(_handler(sender(timeout=0.5)), stack.runtime)  # type: ignore[attr-defined]
    await admin.post("/_fake/failures", json={"mode": "hang", "count": 1, "hang_seconds": 3})
    await dispatch.publish(message)

    outbox = await eventually(lambda: _outbox(pool, message), timeout=10)
    sent = await sent_to(admin, message.recipient or "")
    assert len(sent) == 1
    assert outbox["status"] == "sent" and outbox["provider_message_id"] == sent[0]["sid"]
    calls = (await admin.get("/_fake/calls")).json()
    assert calls.count("create") == 1 and "list" in calls  # looked up, not sent again


async def test_a_provider_that_stays_down_opens_the_breaker_while_the_web_keeps_answering(
    admin: httpx.AsyncClient,
    http: httpx.AsyncClient,
    stack: object,
    sender: Callable[..., WhatsAppSender],
    dispatch: Dispatch,
) -> None:
    pool = _pool(stack)
    handler = _handler(sender(), reset_after=30)
    await dispatch.start(handler, stack.runtime)  # type: ignore[attr-defined]
    await admin.post("/_fake/failures", json={"mode": "down"})
    message = await _conversation(pool, unique_phone(), body="This will wait for Twilio.")
    await dispatch.publish(message)

    async def opened() -> bool:
        return handler.breakers["whatsapp"].state == "open"

    await eventually(opened, timeout=10)
    assert handler.breakers["whatsapp"].failures == 3

    web = await _conversation(pool, f"web-{uuid.uuid4().hex[:8]}@example.com", body="Web answer.", channel="web")
    await dispatch.publish(web)
    assert (await eventually(lambda: _outbox(pool, web), timeout=10))["status"] == "sent"
    response = await http.post("/support/submit", json=submission(name=f"Web {uuid.uuid4().hex[:10]}"))
    ticket_id = response.json()["ticket_id"]

    async def web_answered() -> bool:
        ticket = (await http.get(f"/support/ticket/{ticket_id}", headers={"Accept": "application/json"})).json()
        return ticket["status"] in ("answered", "escalated") and len(ticket["messages"]) >= 2

    await eventually(web_answered, timeout=15)
    assert await sent_to(admin, message.recipient or "") == []
    assert await _outbox(pool, message) is None  # still waiting, not failed: Twilio may come back


async def test_outside_the_24_hour_window_the_approved_template_is_sent(
    admin: httpx.AsyncClient,
    stack: object,
    settings: Settings,
    sender: Callable[..., WhatsAppSender],
    dispatch: Dispatch,
) -> None:
    pool = _pool(stack)
    message = await _conversation(
        pool, unique_phone(), body="The answer.", last_inbound_at=datetime.now(UTC) - timedelta(hours=30)
    )
    await dispatch.start(_handler(sender()), stack.runtime)  # type: ignore[attr-defined]
    await dispatch.publish(message)
    await eventually(lambda: _outbox(pool, message), timeout=10)
    [sent] = await sent_to(admin, message.recipient or "")
    assert sent["content_sid"] == settings.twilio_template_sid
    assert sent["content_variables"] == {
        "1": settings.brand,
        "2": f"{settings.public_base_url}/support/ticket/{message.ticket_id}",
    }


async def test_outside_the_window_without_a_template_the_ticket_is_escalated(
    admin: httpx.AsyncClient, stack: object, sender: Callable[..., WhatsAppSender], dispatch: Dispatch
) -> None:
    pool = _pool(stack)
    message = await _conversation(
        pool, unique_phone(), body="The answer.", last_inbound_at=datetime.now(UTC) - timedelta(days=3)
    )
    await dispatch.start(_handler(sender(twilio_template_sid=None)), stack.runtime)  # type: ignore[attr-defined]
    await dispatch.publish(message)
    outbox = await eventually(lambda: _outbox(pool, message), timeout=10)
    assert outbox["status"] == "failed"
    assert await sent_to(admin, message.recipient or "") == []
    assert await _status(pool, message) == "failed"
    assert await pool.fetchval("SELECT status FROM tickets WHERE id = $1", message.ticket_id) == "escalated"
    reason = await pool.fetchval("SELECT reason_code FROM escalations WHERE ticket_id = $1", message.ticket_id)
    assert reason == "delivery_failed"
