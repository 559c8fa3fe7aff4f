"""The identity worker: inbound message -> customer, conversation, ticket, stored message, work item."""

from __future__ import annotations

import logging
from datetime import timedelta

import msgspec

from services.identity import store
from services.identity.normalize import InvalidIdentifier, normalize_email, normalize_phone
from shared.runtime import Runtime, ServiceParts
from shared.worker import MessageContext, PoisonMessage, Worker
from subjects import InboundMessage, Subjects, WorkItem, consumer

log = logging.getLogger(__name__)
SPEC = consumer("identity")


def identifiers_of(event: InboundMessage, *, default_region: str) -> list[store.Identifier]:
    """Normalised identifiers the message itself proves; unusable ones are dropped (and logged)."""
    found: list[store.Identifier] = []
    if event.email:
        try:
            found.append(store.Identifier("email", normalize_email(event.email)))
        except InvalidIdentifier as exc:
            log.warning("dropping unusable email on %s: %s", event.event_id, exc.reason)
    if event.phone:
        try:
            phone = normalize_phone(event.phone, default_region=default_region)
            found.append(store.Identifier("phone", phone))
        except InvalidIdentifier as exc:
            log.warning("dropping unusable phone on %s: %s", event.event_id, exc.reason)
    return found


class IdentityHandler:
    def __init__(self, runtime: Runtime) -> None:
        self.settings = runtime.settings
        self.window = timedelta(hours=runtime.settings.conversation_window_hours)

    async def __call__(self, event: object, ctx: MessageContext) -> None:
        if not isinstance(event, InboundMessage):
            raise PoisonMessage(f"identity expects inbound messages, got {type(event).__name__}")
        identifiers = identifiers_of(event, default_region=self.settings.default_region)
        if not identifiers:
            raise PoisonMessage("an inbound message without a usable email or phone number")
        async with ctx.transaction() as tx:
            await store.lock_identifiers(tx, identifiers)
            customer_id = await store.resolve_customer(tx, identifiers, name=event.sender_name, channel=event.channel)
            conversation = await store.active_conversation(
                tx, customer_id, channel=event.channel, at=event.received_at, window=self.window
            )
            ticket_id = await store.ticket_for(
                tx,
                ticket_id=event.ticket_id,
                customer_id=customer_id,
                conversation_id=conversation.id,
                channel=event.channel,
                subject=event.subject,
                category=event.category,
            )
            message_id = await store.store_inbound(
                tx,
                conversation_id=conversation.id,
                ticket_id=ticket_id,
                customer_id=customer_id,
                channel=event.channel,
                subject=event.subject,
                content=event.body,
                event_id=event.event_id,
                provider_message_id=event.provider_message_id,
                metadata={
                    "thread_id": event.thread_id,
                    "references": list(event.references),
                    "attachments": msgspec.to_builtins(event.attachments),
                },
                created_at=event.received_at,
            )
            ctx.publish(
                Subjects.work(event.channel),
                WorkItem(
                    event_id=f"work:{event.event_id}",
                    inbound_event_id=event.event_id,
                    channel=event.channel,
                    customer_id=str(customer_id),
                    conversation_id=str(conversation.id),
                    message_id=str(message_id),
                    ticket_id=ticket_id,
                    previous_channel=conversation.previous_channel,  # type: ignore[arg-type]
                ),
            )


def build(runtime: Runtime) -> ServiceParts:
    worker = Worker(
        spec=SPEC,
        handler=IdentityHandler(runtime),
        bus=runtime.bus,
        pool=runtime.pool,
        concurrency=runtime.settings.worker_concurrency,
        precheck=False,  # the handler's first statement is the guarded transaction
    )
    return ServiceParts(name="identity", workers=[worker])
