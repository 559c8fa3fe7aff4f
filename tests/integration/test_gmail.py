"""The Gmail channel end to end over real HTTP: the real google-api-python-client and google-auth against the fake
Gmail, real NATS and PostgreSQL.

- The session stack runs with Gmail configured against the session's fake (which pushes once the stack's
  ingress registered its watch): a customer mail is answered in its thread.
- An isolated ingress-gmail (its own fake mailbox, no poller, push authenticated with a test key from a local
  certificate endpoint) for everything that must not race the stack's background work: forged pushes, duplicates,
  loops, a stale cursor, the poller.
- The dispatcher against a failing Gmail, driven by a DispatchHandler worker on a consumer of our own with short
  retry delays (the real consumer backs off 10 s and more).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import email
import email.policy
import json
import logging
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar, get
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from services.dispatcher.breaker import CircuitBreaker
from services.dispatcher.gmail import GmailSender
from services.dispatcher.senders import WebSender
from services.dispatcher.service import DispatchHandler
from services.fakes import RunningFake
from services.fakes.gmail import PUSH_SERVICE_ACCOUNT, start_fake_gmail
from services.fakes.oidc import OidcSigner
from services.ingress_gmail import service as ingress_gmail
from services.ingress_gmail.simulate import simulate_email
from shared.bus import MSG_ID_HEADER, Bus
from shared.embedded import free_port
from shared.http import build_app
from shared.runtime import Runtime, ServiceGroup
from shared.serving import serve
from shared.settings import Settings
from shared.worker import Worker
from subjects import ConsumerSpec, OutboundMessage, encode_event
from tests.helpers import eventually, unique_email

ISOLATED_MAILBOX = "help@isolated.example"


async def _customer_rows(pool: asyncpg.Pool, gmail_id: str) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM messages WHERE channel = 'email' AND role = 'customer' AND provider_message_id = $1",
            gmail_id,
        )
    )


def _parse(rfc822: str) -> EmailMessage:
    return email.message_from_string(rfc822, policy=email.policy.default)  # type: ignore[return-value]


async def _sent_to(admin: httpx.AsyncClient, address: str) -> list[dict[str, Any]]:
    sent = (await admin.get("/_fake/sent")).json()["messages"]
    return [m for m in sent if address in str(_parse(m["rfc822"])["To"])]


async def _deliver(admin: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await admin.post("/_fake/deliver", json=fields)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


# ---------------------------------------------------------------------- the session stack, pushed by the fake


@pytest.fixture
async def gmail(fakes: dict[str, RunningFake], stack: object) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fakes["gmail"].base_url, timeout=10) as admin:

        async def watching() -> bool:
            return bool((await admin.get("/_fake/state")).json()["watching"])

        await eventually(watching, timeout=15)  # the stack's ingress registered its watch at start
        yield admin


async def test_a_customer_mail_is_answered_in_its_gmail_thread(
    gmail: httpx.AsyncClient, stack: object, settings: Settings
) -> None:
    pool = stack.runtime.pool  # type: ignore[attr-defined]
    customer = unique_email("ana")
    name = f"Ana Gmail-{customer[4:12]}"  # unique: a shared name would make other tests' same-name suggestions
    original = await _deliver(
        gmail,
        **{"from": customer, "name": name, "subject": "Password reset"},
        text="Hi,\nHow do I reset my password? I forgot it.\n\n"
        "On Mon, 1 Jan 2026 at 10:00, Bob <b@example.com> wrote:\n"
        "> an older message that must not reach the agent\n",
    )

    replies = await eventually(lambda: _sent_to(gmail, customer), timeout=20)
    assert len(replies) == 1
    sent = replies[0]
    msg = _parse(sent["rfc822"])
    stored = await pool.fetchval(
        "SELECT content FROM messages WHERE provider_message_id = $1 AND channel = 'email'", original["id"]
    )
    assert "reset my password" in stored and "older message" not in stored  # quoted history stripped
    original_id = original["messageId"]

    assert sent["threadId"] == original["threadId"]  # users.messages.send in the customer's thread
    assert msg["In-Reply-To"] == original_id
    assert original_id in msg["References"].split()
    assert msg["Subject"] == "Re: Password reset"
    assert msg.get_content_type() == "multipart/alternative"
    assert {part.get_content_type() for part in msg.iter_parts()} == {"text/plain", "text/html"}
    assert msg["From"].addresses[0].addr_spec == settings.gmail_mailbox
    assert msg["Message-ID"].startswith("<fte-")
    delivery = await eventually(
        lambda: pool.fetchrow(
            "SELECT delivery_status FROM messages WHERE role = 'agent' AND provider_message_id = $1",
            sent["id"],
        )
    )
    assert delivery["delivery_status"] == "sent"

    # The customer answers our reply in the same thread: the next reply carries the whole chain.
    follow_up = await _deliver(
        gmail,
        **{"from": customer, "name": name, "subject": "Re: Password reset"},
        text="Thanks! And how do I invite a teammate?",
        in_reply_to=msg["Message-ID"],
        references=[original_id, msg["Message-ID"]],
    )
    assert follow_up["threadId"] == original["threadId"]
    replies = await eventually(lambda: _sent_to_at_least(gmail, customer, 2), timeout=20)
    second = _parse(replies[-1]["rfc822"])
    assert replies[-1]["threadId"] == original["threadId"]
    assert second["Subject"] == "Re: Password reset"
    assert second["References"].split()[:2] == [original_id, msg["Message-ID"]]
    assert second["In-Reply-To"] == second["References"].split()[-1] != msg["Message-ID"]


async def _sent_to_at_least(admin: httpx.AsyncClient, address: str, count: int) -> list[dict[str, Any]] | None:
    found = await _sent_to(admin, address)
    return found if len(found) >= count else None


async def test_fte_simulate_email_goes_through_the_fake_and_gets_answered(
    gmail: httpx.AsyncClient, http: httpx.AsyncClient, settings: Settings
) -> None:
    customer = unique_email("sim")
    # As `fte simulate` next to `fte up --fake-providers`: no GMAIL_* variables, the stand-in is looked up.
    local = dataclasses.replace(settings, gmail_api_base_url=None)
    line = await simulate_email(
        http, local, sender=customer, name="Sam", subject="Slack", text="How can I connect Slack?"
    )
    assert line.startswith("email ")
    await eventually(lambda: _sent_to(gmail, customer), timeout=20)


# ---------------------------------------------------------------------- an isolated ingress-gmail


@dataclass
class Isolated:
    fake: RunningFake
    admin: httpx.AsyncClient
    web: httpx.AsyncClient
    signer: OidcSigner
    runtime: Runtime
    audience: str

    def token(self, **overrides: Any) -> str:
        claims: dict[str, Any] = {"audience": self.audience, "email": PUSH_SERVICE_ACCOUNT, **overrides}
        return self.signer.mint(**claims)

    async def push(self, *, token: str | None = None, body: Any = None, history_id: int | None = None) -> int:
        envelope = body if body is not None else self.fake.state.envelope(history_id or await self.history_id())  # type: ignore[attr-defined]
        headers = {"Authorization": f"Bearer {token or self.token()}"} if token != "" else {}
        response = await self.web.post("/webhooks/gmail", json=envelope, headers=headers)
        return response.status_code

    async def history_id(self) -> int:
        return int((await self.admin.get("/_fake/state")).json()["history_id"])

    async def cursor(self) -> int:
        return int(
            await self.runtime.pool.fetchval(
                "SELECT history_id FROM gmail_cursors WHERE mailbox = $1", ISOLATED_MAILBOX
            )
        )

    async def deliver(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("from", unique_email("iso"))
        fields.setdefault("subject", "Invoices")
        fields.setdefault("text", "Where can I download my invoices?")
        return await _deliver(self.admin, **fields)


@pytest.fixture(scope="module")
async def isolated(stack: object, settings: Settings) -> AsyncIterator[Isolated]:
    port = free_port()
    fake = await start_fake_gmail(webhook_base_url=f"http://127.0.0.1:{port}", mailbox=ISOLATED_MAILBOX)
    signer = OidcSigner()

    @get("/oauth2/v1/certs")
    async def certs() -> dict[str, str]:
        return signer.certs()

    certs_url, stop_certs = await serve(Litestar([certs]))
    environ = {**os.environ, **fake.env, "GMAIL_PUBSUB_CERTS_URL": f"{certs_url}/oauth2/v1/certs"}
    environ.pop("GMAIL_PUBSUB_TOPIC", None)
    own = dataclasses.replace(
        Settings.from_env(environ), nats_url=settings.nats_url, database_url=settings.database_url, port=port
    )
    shared: Runtime = stack.runtime  # type: ignore[attr-defined]
    runtime = Runtime(settings=own, bus=shared.bus, pool=shared.pool)
    parts = [ingress_gmail.build(runtime)]
    # Not started: no poller and no watch, so only the pushes of each test move this mailbox's cursor.
    app = build_app(runtime, ServiceGroup(runtime, parts), parts)
    url, stop_app = await serve(app, port=port)
    async with (
        httpx.AsyncClient(base_url=fake.base_url, timeout=10) as admin,
        httpx.AsyncClient(base_url=url, timeout=15) as web,
    ):
        isolated = Isolated(fake, admin, web, signer, runtime, fake.env["GMAIL_PUBSUB_AUDIENCE"])
        await admin.post("/_fake/config", json={"auto_push": False})  # the tests push, with the test key
        assert await isolated.push() == 204  # first contact: the cursor starts at the mailbox's present
        yield isolated
    await stop_app()
    await stop_certs()
    if fake.stop:
        await fake.stop()


async def test_forged_pushes_get_403_and_touch_nothing(isolated: Isolated, caplog: pytest.LogCaptureFixture) -> None:
    delivered = await isolated.deliver()
    cursor = await isolated.cursor()
    calls_before = (await isolated.admin.get("/_fake/state")).json()["counters"]
    impostor = OidcSigner(key_id=isolated.signer.key_id)
    forged = {
        "missing header": "",
        "wrong audience": isolated.token(audience="https://elsewhere.example/webhooks/gmail"),
        "wrong service account": isolated.token(email="intruder@evil.iam.gserviceaccount.com"),
        "email not verified": isolated.token(email_verified=False),
        "expired": isolated.token(issued_at=datetime.now(UTC).timestamp() - 7200),
        "bad signature": impostor.mint(audience=isolated.audience, email=PUSH_SERVICE_ACCOUNT),
        "not a jwt": "abc",
    }
    with caplog.at_level(logging.WARNING, logger="services.ingress_gmail.service"):
        for case, token in forged.items():
            assert await isolated.push(token=token) == 403, case
    security = [r.getMessage() for r in caplog.records if r.getMessage().startswith("security: rejected a gmail push")]
    assert len(security) == len(forged)
    assert not any("@" in line for line in security)
    assert (await isolated.admin.get("/_fake/state")).json()["counters"] == calls_before  # Gmail never asked
    assert await isolated.cursor() == cursor
    assert await _customer_rows(isolated.runtime.pool, delivered["id"]) == 0

    assert await isolated.push() == 204
    await eventually(lambda: _customer_rows(isolated.runtime.pool, delivered["id"]))
    assert await isolated.cursor() > cursor


async def test_a_malformed_envelope_gets_400_and_another_mailbox_is_ignored(isolated: Isolated) -> None:
    assert await isolated.push(body={"message": {"data": "%%%"}}) == 400
    assert await isolated.push(body={"subscription": "x"}) == 400
    assert await isolated.push(body={"message": {"data": "A" * 70_000}}) == 413
    other = isolated.fake.state.envelope(await isolated.history_id())  # type: ignore[attr-defined]
    notification = json.dumps({"emailAddress": "someone@elsewhere.example", "historyId": "1"}).encode()
    other["message"]["data"] = base64.b64encode(notification).decode()
    assert await isolated.push(body=other) == 204


async def test_a_push_is_acknowledged_only_once_its_mail_is_published(isolated: Isolated) -> None:
    delivered = await isolated.deliver()
    cursor = await isolated.cursor()
    await isolated.admin.post("/_fake/failures", json={"mode": "error", "api": "messages.get", "count": 1})
    try:
        assert await isolated.push() == 503  # Pub/Sub keeps the notification and retries
    finally:
        await isolated.admin.delete("/_fake/failures")
    assert await isolated.cursor() == cursor
    assert await _customer_rows(isolated.runtime.pool, delivered["id"]) == 0
    assert await isolated.push() == 204  # the retry
    await eventually(lambda: _customer_rows(isolated.runtime.pool, delivered["id"]))


async def test_the_same_gmail_message_pushed_twice_is_one_message(isolated: Isolated) -> None:
    before = await isolated.cursor()
    delivered = await isolated.deliver()
    statuses = await asyncio.gather(isolated.push(), isolated.push(), isolated.push())
    assert statuses == [204, 204, 204]
    # A replay after the cursor moved on (a restored cursor, a second replica's stale read): same message id.
    await isolated.runtime.pool.execute(
        "UPDATE gmail_cursors SET history_id = $2 WHERE mailbox = $1", ISOLATED_MAILBOX, before
    )
    assert await isolated.push() == 204
    pool = isolated.runtime.pool
    await eventually(lambda: _customer_rows(pool, delivered["id"]))
    await eventually(
        lambda: pool.fetchval(
            """SELECT count(*) FROM messages r JOIN messages c ON c.ticket_id = r.ticket_id
               WHERE c.provider_message_id = $1 AND r.role = 'agent'""",
            delivered["id"],
        )
    )
    await asyncio.sleep(0.5)  # let a duplicate show up if there were going to be one
    assert await _customer_rows(pool, delivered["id"]) == 1
    replies = await pool.fetchval(
        """SELECT count(*) FROM messages r JOIN messages c ON c.ticket_id = r.ticket_id
           WHERE c.provider_message_id = $1 AND r.role = 'agent'""",
        delivered["id"],
    )
    assert replies == 1


async def test_our_own_mail_and_auto_replies_are_not_answered(isolated: Isolated) -> None:
    own = await isolated.deliver(**{"from": ISOLATED_MAILBOX, "name": "Support"}, text="Our own reply copied in")
    ooo = await isolated.deliver(
        subject="Out of Office: Invoices", text="I am away until Monday.", headers={"Auto-Submitted": "auto-replied"}
    )
    bounce = await isolated.deliver(
        **{"from": "mailer-daemon@example.com"}, subject="Undeliverable: Re: Invoices", text="Delivery failed"
    )
    person = await isolated.deliver()
    assert await isolated.push() == 204
    pool = isolated.runtime.pool
    await eventually(lambda: _customer_rows(pool, person["id"]))
    for skipped in (own, ooo, bounce):
        assert await _customer_rows(pool, skipped["id"]) == 0


async def test_a_stale_cursor_triggers_a_bounded_full_sync(isolated: Isolated) -> None:
    pool = isolated.runtime.pool
    full_syncs = await pool.fetchval("SELECT full_syncs FROM gmail_cursors WHERE mailbox = $1", ISOLATED_MAILBOX)
    missed = await isolated.deliver(text="How do I export my boards to CSV?")
    await isolated.admin.post("/_fake/history/expire")  # our cursor is now older than the history Gmail keeps
    assert await isolated.push() == 204
    await eventually(lambda: _customer_rows(pool, missed["id"]))
    row = await pool.fetchrow("SELECT history_id, full_syncs FROM gmail_cursors WHERE mailbox = $1", ISOLATED_MAILBOX)
    assert row["full_syncs"] == full_syncs + 1
    assert int(row["history_id"]) == await isolated.history_id()
    # The mail the full sync re-read was already handled: nothing doubles.
    assert await _customer_rows(pool, missed["id"]) == 1


async def test_the_poller_finds_unannounced_mail_and_renews_the_watch(isolated: Isolated) -> None:
    runtime = Runtime(
        settings=dataclasses.replace(isolated.runtime.settings, gmail_pubsub_topic="projects/p/topics/gmail"),
        bus=isolated.runtime.bus,
        pool=isolated.runtime.pool,
    )
    ingress = ingress_gmail.build_ingress(runtime)
    poller = asyncio.create_task(ingress.sync.poll_forever(0.2))
    try:
        unannounced = await isolated.deliver(text="Can I export my boards to CSV?")
        await eventually(lambda: _customer_rows(runtime.pool, unannounced["id"]), timeout=10)

        async def watched() -> bool:
            return bool((await isolated.admin.get("/_fake/state")).json()["watching"])

        await eventually(watched)  # registered right after the first sync
        assert (await isolated.admin.get("/_fake/state")).json()["watch_calls"] == 1
    finally:
        poller.cancel()
        await asyncio.gather(poller, return_exceptions=True)
    assert not await ingress.sync.renew_watch_if_due()  # registered moments ago
    assert await ingress.sync.renew_watch_if_due(now=datetime.now(UTC) + timedelta(hours=25))


async def test_without_gmail_configured_the_webhook_answers_503(stack: object, settings: Settings) -> None:
    shared: Runtime = stack.runtime  # type: ignore[attr-defined]
    bare = dataclasses.replace(settings, gmail_credentials_file=None, gmail_mailbox=None)
    runtime = Runtime(settings=bare, bus=shared.bus, pool=shared.pool)
    parts = [ingress_gmail.build(runtime)]
    url, stop = await serve(build_app(runtime, ServiceGroup(runtime, parts), parts))
    try:
        async with httpx.AsyncClient(base_url=url) as client:
            assert (await client.post("/webhooks/gmail", json={})).status_code == 503
            ready = await client.get("/ready")
            assert ready.status_code == 200
            assert ready.json()["channels"]["email"]["enabled"] is False
    finally:
        await stop()


# ---------------------------------------------------------------------- the dispatcher against a failing Gmail


@dataclass
class Dispatch:
    subject: str
    spec: ConsumerSpec
    bus: Bus


@pytest.fixture
async def dispatch(bus: Bus) -> AsyncIterator[Dispatch]:
    """A stream and consumer of our own, so the stack's dispatcher never sees these messages."""
    name = f"gmail-test-{uuid.uuid4().hex[:8]}"
    stream = name.upper().replace("-", "_")
    subject = f"test.{name}"
    await bus.js.add_stream(StreamConfig(name=stream, subjects=[subject], storage=StorageType.MEMORY))
    await bus.js.add_consumer(
        stream,
        ConsumerConfig(durable_name=name, ack_policy=AckPolicy.EXPLICIT, ack_wait=10, max_deliver=8),
    )
    spec = ConsumerSpec(
        durable=name,
        stream=stream,
        filter_subject=subject,
        description="gmail dispatch test",
        ack_wait_seconds=10,
        max_deliver=8,
        backoff_seconds=(0.3,),
    )
    yield Dispatch(subject, spec, bus)
    await bus.js.delete_stream(stream)


async def _reply_row(pool: asyncpg.Pool, *, channel: str, recipient: str, answers: str | None) -> OutboundMessage:
    """The rows a reply has by the time the dispatcher sees it (customer, conversation, ticket, message)."""
    customer = await pool.fetchval("INSERT INTO customers (display_name) VALUES ('Dispatch Test') RETURNING id")
    conversation = await pool.fetchval(
        "INSERT INTO conversations (customer_id, current_channel) VALUES ($1, $2) RETURNING id", customer, channel
    )
    ticket = secrets.token_urlsafe(16)
    await pool.execute(
        """INSERT INTO tickets (id, customer_id, conversation_id, source_channel, subject, status)
           VALUES ($1, $2, $3, $4, 'Invoices', 'processing')""",
        ticket,
        customer,
        conversation,
        channel,
    )
    event_id = f"reply:gmail:{answers}" if answers else f"reply:{channel}:{uuid.uuid4().hex}"
    message = await pool.fetchval(
        """INSERT INTO messages (conversation_id, ticket_id, customer_id, channel, direction, role, content,
                                 event_id, delivery_status)
           VALUES ($1, $2, $3, $4, 'outbound', 'agent', 'Here is how.', $5, 'queued') RETURNING id""",
        conversation,
        ticket,
        customer,
        channel,
        event_id,
    )
    return OutboundMessage(
        event_id=event_id,
        channel=channel,  # type: ignore[arg-type]
        customer_id=str(customer),
        conversation_id=str(conversation),
        ticket_id=ticket,
        message_id=str(message),
        body_text="Hi Ana,\n\nYou can download invoices from Settings > Billing.",
        subject="Re: Invoices",
        recipient=recipient,
    )


async def _run_worker(dispatch: Dispatch, runtime: Runtime, handler: DispatchHandler) -> Worker:
    worker = Worker(spec=dispatch.spec, handler=handler, bus=dispatch.bus, pool=runtime.pool, concurrency=2)
    await worker.start()
    return worker


async def _publish(dispatch: Dispatch, message: OutboundMessage) -> None:
    await dispatch.bus.js.publish(
        dispatch.subject, encode_event(message), headers={MSG_ID_HEADER: message.event_id}, stream=dispatch.spec.stream
    )


async def _outbox(pool: asyncpg.Pool, message: OutboundMessage) -> asyncpg.Record | None:
    return await pool.fetchrow(
        """SELECT o.status, o.provider_message_id, o.attempts, m.delivery_status
           FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.message_id = $1""",
        uuid.UUID(message.message_id),
    )


async def _counters(isolated: Isolated) -> dict[str, int]:
    return (await isolated.admin.get("/_fake/state")).json()["counters"]  # type: ignore[no-any-return]


def _sender(isolated: Isolated) -> GmailSender:
    return GmailSender(isolated.runtime.settings, timeout=1.0)


@pytest.mark.parametrize(
    ("failure", "attempts"),
    [
        ({"mode": "error", "count": 3, "status": 500}, 4),
        ({"mode": "rate_limit", "count": 1, "retry_after": 0.5}, 2),
    ],
)
async def test_a_failing_gmail_is_retried_and_the_reply_sent_once(
    isolated: Isolated, dispatch: Dispatch, failure: dict[str, Any], attempts: int
) -> None:
    customer = unique_email("retry")
    original = await isolated.deliver(**{"from": customer})
    message = await _reply_row(isolated.runtime.pool, channel="email", recipient=customer, answers=original["id"])
    handler = DispatchHandler({"email": _sender(isolated)}, max_deliver=8)
    handler.breakers["email"] = CircuitBreaker(reset_after=0.5)
    before = await _counters(isolated)
    await isolated.admin.post("/_fake/failures", json=failure)
    worker = await _run_worker(dispatch, isolated.runtime, handler)
    try:
        await _publish(dispatch, message)
        row = await eventually(lambda: _sent_row(isolated.runtime.pool, message), timeout=15)
    finally:
        await worker.stop()
        await isolated.admin.delete("/_fake/failures")
    after = await _counters(isolated)
    assert after["messages.send"] - before.get("messages.send", 0) == attempts
    assert after["messages.sent"] - before.get("messages.sent", 0) == 1
    sent = await _sent_to(isolated.admin, customer)
    assert [m["id"] for m in sent] == [row["provider_message_id"]]
    assert sent[0]["threadId"] == original["threadId"]
    assert row["delivery_status"] == "sent"


async def _sent_row(pool: asyncpg.Pool, message: OutboundMessage) -> asyncpg.Record | None:
    row = await _outbox(pool, message)
    return row if row is not None and row["status"] == "sent" and row["delivery_status"] == "sent" else None


async def test_a_send_that_times_out_after_gmail_accepted_is_not_sent_twice(
    isolated: Isolated, dispatch: Dispatch
) -> None:
    customer = unique_email("hang")
    original = await isolated.deliver(**{"from": customer})
    message = await _reply_row(isolated.runtime.pool, channel="email", recipient=customer, answers=original["id"])
    handler = DispatchHandler({"email": _sender(isolated)}, max_deliver=8)
    before = await _counters(isolated)
    await isolated.admin.post("/_fake/failures", json={"mode": "hang", "count": 1, "seconds": 3})
    worker = await _run_worker(dispatch, isolated.runtime, handler)
    try:
        await _publish(dispatch, message)
        row = await eventually(lambda: _sent_row(isolated.runtime.pool, message), timeout=15)
    finally:
        await worker.stop()
        await isolated.admin.delete("/_fake/failures")
    after = await _counters(isolated)
    assert after["messages.send"] - before.get("messages.send", 0) == 1  # find_sent found it: no second send
    sent = await _sent_to(isolated.admin, customer)
    assert [m["id"] for m in sent] == [row["provider_message_id"]]
    assert row["attempts"] == 1


async def test_gmail_staying_down_opens_the_breaker_escalates_and_the_web_keeps_flowing(
    isolated: Isolated, dispatch: Dispatch
) -> None:
    pool = isolated.runtime.pool
    customer = unique_email("down")
    original = await isolated.deliver(**{"from": customer})
    doomed = await _reply_row(pool, channel="email", recipient=customer, answers=original["id"])
    handler = DispatchHandler({"email": _sender(isolated), "web": WebSender()}, max_deliver=3)
    before = await _counters(isolated)
    await isolated.admin.post("/_fake/failures", json={"mode": "down"})
    worker = await _run_worker(dispatch, isolated.runtime, handler)
    try:
        await _publish(dispatch, doomed)
        failed = await eventually(
            lambda: pool.fetchrow(
                """SELECT m.delivery_status, t.status AS ticket_status,
                          (SELECT count(*) FROM escalations e WHERE e.ticket_id = t.id
                           AND e.reason_code = 'delivery_failed') AS escalations
                   FROM messages m JOIN tickets t ON t.id = m.ticket_id
                   WHERE m.id = $1 AND m.delivery_status = 'failed'""",
                uuid.UUID(doomed.message_id),
            ),
            timeout=15,
        )
        assert failed["ticket_status"] == "escalated" and failed["escalations"] == 1
        assert handler.breakers["email"].state == "open"
        calls = (await _counters(isolated))["messages.send"]
        assert calls - before.get("messages.send", 0) == 3

        # While the Gmail circuit is open: no call reaches Gmail, and the web channel is delivered.
        waiting = await _reply_row(pool, channel="email", recipient=customer, answers=None)
        web = await _reply_row(pool, channel="web", recipient=customer, answers=None)
        await _publish(dispatch, waiting)
        await _publish(dispatch, web)
        await eventually(
            lambda: pool.fetchval(
                "SELECT delivery_status = 'delivered' FROM messages WHERE id = $1", uuid.UUID(web.message_id)
            )
        )
        await asyncio.sleep(0.3)
        assert (await _counters(isolated))["messages.send"] == calls
        assert await _outbox(pool, waiting) is None  # not even attempted
    finally:
        await worker.stop(timeout=1)
        await isolated.admin.delete("/_fake/failures")
    assert await _sent_to(isolated.admin, customer) == []
