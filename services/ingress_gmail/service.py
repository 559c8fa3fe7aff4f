"""ingress-gmail: verified Pub/Sub push notifications in, new mail out to ``fte.inbound.email``.

HTTP plus its history cursor: ``POST /webhooks/gmail`` proves the push came from our subscription, reads the
mailbox's history from the cursor, publishes each new customer message with ``Nats-Msg-Id: gmail:<id>`` and only
then answers 2xx. A poller does the same every ``FTE_GMAIL_POLL_SECONDS`` (push is not guaranteed) and renews the
``watch`` registration daily.
"""

from __future__ import annotations

import asyncio
import logging

from litestar import Request, Router, post
from litestar.exceptions import HTTPException

from services.ingress_gmail.push import (
    CertificatesUnavailable,
    EnvelopeError,
    PushRejected,
    PushVerifier,
    decode_envelope,
)
from services.ingress_gmail.sync import MailboxSync
from shared.channels import channel_states
from shared.gmail_api import GmailApi
from shared.runtime import Runtime, ServiceParts
from shared.settings import Settings

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/webhooks/gmail"


def push_audience(settings: Settings) -> str | None:
    """``GMAIL_PUBSUB_AUDIENCE``, else what Pub/Sub uses when none is set: the push endpoint's URL."""
    if settings.gmail_pubsub_audience:
        return settings.gmail_pubsub_audience
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/") + WEBHOOK_PATH
    return None


def push_verifier(settings: Settings) -> PushVerifier | None:
    audience = push_audience(settings)
    if not audience or not settings.gmail_pubsub_service_account:
        return None
    return PushVerifier(
        audience=audience,
        service_account=settings.gmail_pubsub_service_account,
        certs_url=settings.gmail_pubsub_certs_url,
    )


class GmailIngress:
    def __init__(self, sync: MailboxSync, verifier: PushVerifier | None) -> None:
        self.sync = sync
        self.verifier = verifier

    async def handle_push(self, authorization: str | None, body: bytes) -> None:
        if self.verifier is None:
            log.error("gmail push refused: set GMAIL_PUBSUB_SERVICE_ACCOUNT and GMAIL_PUBSUB_AUDIENCE")
            raise HTTPException(status_code=503, detail="Push authentication is not configured")
        try:
            await asyncio.to_thread(self.verifier.verify, authorization)
        except PushRejected as exc:
            log.warning(
                "security: rejected a gmail push: %s",
                exc,
                extra={"security_event": "webhook_rejected", "webhook": "gmail"},
            )
            raise HTTPException(status_code=403, detail="Forbidden") from exc
        except CertificatesUnavailable as exc:
            log.error("gmail push not verified: Google's certificates are unavailable: %s", exc)
            raise HTTPException(status_code=503, detail="Temporarily unavailable, please retry") from exc
        try:
            notification = decode_envelope(body)
        except EnvelopeError as exc:
            raise HTTPException(status_code=400, detail=f"Malformed push: {exc}") from exc
        if notification.email_address.strip().lower() != self.sync.mailbox:
            log.warning("ignoring a gmail push for another mailbox")
            return
        try:
            await self.sync.sync(trigger="push", hint=notification.history_id)
        except Exception as exc:
            log.error("gmail push not processed (Pub/Sub will retry): %r", exc)
            raise HTTPException(status_code=503, detail="Temporarily unavailable, please retry") from exc


def _router(ingress: GmailIngress | None) -> Router:
    @post(WEBHOOK_PATH, status_code=204, summary="Gmail Pub/Sub push notification")
    async def gmail_push(request: Request) -> None:
        if ingress is None:
            raise HTTPException(status_code=503, detail="The Gmail channel is not configured")
        await ingress.handle_push(request.headers.get("authorization"), await request.body())

    return Router(path="/", route_handlers=[gmail_push])


def build_ingress(runtime: Runtime) -> GmailIngress:
    settings = runtime.settings
    sync = MailboxSync(GmailApi(settings), runtime.pool, runtime.bus, topic=settings.gmail_pubsub_topic)
    return GmailIngress(sync, push_verifier(settings))


def build(runtime: Runtime) -> ServiceParts:
    settings = runtime.settings
    channels = [state for state in channel_states(settings) if state.name == "email"]
    if not settings.gmail_configured:
        return ServiceParts(name="ingress-gmail", routes=[_router(None)], channels=channels)
    ingress = build_ingress(runtime)
    if ingress.verifier is None:
        log.warning("gmail pushes will be refused until GMAIL_PUBSUB_SERVICE_ACCOUNT and the audience are set")
    if not settings.gmail_pubsub_topic:
        log.info("GMAIL_PUBSUB_TOPIC is not set: no watch registration, the poller alone reads the mailbox")
    return ServiceParts(
        name="ingress-gmail",
        routes=[_router(ingress)],
        background=[lambda: ingress.sync.poll_forever(settings.gmail_poll_seconds)],
        channels=channels,
    )
