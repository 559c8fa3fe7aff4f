"""The identity worker: inbound message -> customer, conversation, ticket, stored message, work item."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import asyncpg
import msgspec

from services.identity import linking, store
from services.identity.api import staff_router
from services.identity.mentions import self_mentions
from services.identity.merge import merge
from shared.runtime import Runtime, ServiceParts
from shared.worker import MessageContext, PoisonMessage, Worker
from subjects import InboundMessage, Subjects, WorkItem, consumer

log = logging.getLogger(__name__)
SPEC = consumer("identity")
ACTOR = "identity"  # who confirmed a link in the audit record and on the suggestion


@dataclass(frozen=True, slots=True)
class Outcome:
    customer_id: UUID
    created: bool
    resolution: linking.Resolution
    owners: dict[linking.Key, linking.Owner]
    confirmed: list[int]  # suggestions this message confirms


class IdentityHandler:
    def __init__(self, runtime: Runtime) -> None:
        self.settings = runtime.settings
        self.window = timedelta(hours=runtime.settings.conversation_window_hours)

    async def __call__(self, event: object, ctx: MessageContext) -> None:
        if not isinstance(event, InboundMessage):
            raise PoisonMessage(f"identity expects inbound messages, got {type(event).__name__}")
        region = self.settings.default_region
        claims, dropped = linking.claims_of(event.channel, email=event.email, phone=event.phone, default_region=region)
        for exc in dropped:
            log.warning("dropping unusable %s on %s: %s", exc.field, event.event_id, exc.reason)
        if not claims:
            raise PoisonMessage("an inbound message without a usable email or phone number")
        own = {c.key for c in claims}
        mentions = [m for m in self_mentions(event.body, default_region=region) if m.key not in own]
        sender = linking.strongest_first(claims, event.channel)[0]
        async with ctx.transaction() as tx:
            await store.lock_identifiers(tx, [*own, *(m.key for m in mentions)])
            outcome = await self._resolve(tx, event, claims, mentions)
            customer_id = outcome.customer_id
            await store.attach(tx, customer_id, outcome.resolution.attach, channel=event.channel)
            await store.mark_verified(tx, claims, channel=event.channel)
            if not outcome.created:
                await store.remember_name(tx, customer_id, event.sender_name)
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
                    # who wrote it (normalised), so that a reply goes back to this very identifier
                    # even when the customer has several of that kind (after a link or a merge)
                    "sender": {"kind": sender.kind, "value": sender.value, "verified": sender.verified},
                    "thread_id": event.thread_id,
                    "references": list(event.references),
                    "attachments": msgspec.to_builtins(event.attachments),
                },
                created_at=event.received_at,
            )
            await _record_evidence(tx, event, outcome, mentions, message_id, any(c.verified for c in claims))
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

    async def _resolve(
        self,
        tx: asyncpg.Connection,
        event: InboundMessage,
        claims: list[linking.Claim],
        mentions: list[linking.Mention],
    ) -> Outcome:
        """The message's customer, holding its lock. The identifier locks are held already, so only
        a merge or an unmerge (which take the customer locks) can move an identifier meanwhile:
        after taking the customer's lock, the owners are read again and the plan redone if needed."""
        keys = [c.key for c in claims] + [m.key for m in mentions]
        for _ in range(5):
            owners = await store.owners(tx, keys)
            resolution = linking.resolve(claims, owners, event.channel)
            suggestions = await store.open_suggestions(tx, [c.key for c in claims])
            customer_id = resolution.customer_id
            confirmed: list[int] = []
            confirmation = next(iter(linking.confirming(suggestions, claims, mentions, owners)), None)
            claimant = await store.survivor(tx, confirmation.customer_id) if confirmation else None
            if confirmation and claimant:
                if customer_id is not None and customer_id != claimant:
                    # Both are customers already: the sender's joins the claimant (audited, reversible).
                    reason = f"link suggestion {confirmation.id} confirmed by a verified {event.channel} message"
                    await merge(tx, customer_id, claimant, actor=ACTOR, reason=reason)
                    await store.decide_suggestions(tx, [confirmation.id], status="confirmed", by=ACTOR, reason=reason)
                    continue  # identifiers moved: plan again
                customer_id, confirmed = claimant, [confirmation.id]
            created = customer_id is None
            if customer_id is None:
                customer_id = await store.create_customer(tx, event.sender_name)
            await store.lock_customer(tx, customer_id)
            if not created and await store.owners(tx, keys) != owners:
                continue  # a merge or unmerge moved an identifier while we waited for the lock
            confirmed += linking.linked_by_message(suggestions, customer_id, [c.key for c in resolution.attach])
            if confirmed:
                await store.decide_suggestions(
                    tx, confirmed, status="confirmed", by=ACTOR, reason=_confirmation_reason(event)
                )
            return Outcome(customer_id, created, resolution, owners, confirmed)
        raise RuntimeError("identifiers kept moving while the customer was resolved")


def _confirmation_reason(event: InboundMessage) -> str:
    return f"linked by {event.channel} message {event.event_id}"


async def _record_evidence(
    tx: asyncpg.Connection,
    event: InboundMessage,
    outcome: Outcome,
    mentions: list[linking.Mention],
    message_id: UUID,
    sender_verified: bool,
) -> None:
    """Suggestions for staff: conflicts, self-mentions and the same full name on another channel."""
    base = {
        "channel": event.channel,
        "event_id": event.event_id,
        "message_id": str(message_id),
        "sender_verified": sender_verified,
    }
    for claim, other in outcome.resolution.conflicts:
        log.info("identifier conflict on %s: message kept with the owner of its strongest identifier", event.event_id)
        await store.suggest(
            tx,
            customer_id=outcome.customer_id,
            other_customer_id=other,
            kind="conflict",
            identifier=claim.key,
            evidence={**base, "rule": "the message gave identifiers owned by two customers"},
        )
    for mention, owner in linking.mention_suggestions(mentions, outcome.owners, outcome.customer_id):
        await store.suggest(
            tx,
            customer_id=outcome.customer_id,
            other_customer_id=owner,
            kind="mention",
            identifier=mention.key,
            evidence={**base, "rule": "the customer wrote that this identifier is theirs", "excerpt": mention.excerpt},
        )
    key = linking.name_key(event.sender_name)
    if outcome.created and key:
        for other in await store.same_name_candidates(tx, outcome.customer_id, key, channel=event.channel):
            await store.suggest(
                tx,
                customer_id=outcome.customer_id,
                other_customer_id=other,
                kind="same_name",
                identifier=None,
                evidence={**base, "rule": "the same full name on another channel", "name": event.sender_name},
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
    return ServiceParts(name="identity", routes=[staff_router()], workers=[worker])
