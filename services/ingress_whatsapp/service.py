"""ingress-whatsapp routes. HTTP only: verify Twilio's signature, publish durably, answer.

Twilio retries a webhook that does not get a 2xx, so the answer comes only after JetStream has
acknowledged the publication; the deterministic ``Nats-Msg-Id`` (``twilio:<MessageSid>``) makes a
retry or a replay one message.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import msgspec
from litestar import MediaType, Request, Response, Router, post
from litestar.exceptions import HTTPException

from services.ingress_whatsapp.twilio_form import (
    EMPTY_TWIML,
    MESSAGE_PATH,
    SIGNATURE_HEADER,
    STATUS_PATH,
    InvalidWebhook,
    Params,
    parse_inbound,
    parse_status,
    signature_is_valid,
    webhook_url,
)
from shared.channels import channel_states
from shared.runtime import Runtime, ServiceParts
from subjects import Event, Subjects

log = logging.getLogger(__name__)

FORM_TYPE = "application/x-www-form-urlencoded"


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def _verified_params(request: Request) -> Params:
    """The form fields of a request Twilio signed: 503 when WhatsApp is off, 403 for a missing or
    wrong signature (with a security log line naming no customer), 415 for another body type."""
    settings = _runtime(request).settings
    if not settings.whatsapp_configured or not settings.twilio_auth_token:
        raise HTTPException(status_code=503, detail="The WhatsApp channel is not configured")
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        _security_log(request, "missing")
        raise HTTPException(status_code=403, detail="Missing Twilio signature")
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        raise HTTPException(status_code=415, detail=f"Send {FORM_TYPE}")
    form = await request.form()  # over FTE_MAX_BODY_BYTES: 413
    params = [(key, str(value)) for key, value in form.multi_items()]
    url = webhook_url(settings.public_base_url, str(request.url))
    if not signature_is_valid(settings.twilio_auth_token, url, params, signature):
        _security_log(request, "invalid")
        raise HTTPException(status_code=403, detail="Invalid Twilio signature")
    return params


def _security_log(request: Request, problem: str) -> None:
    client = request.client.host if request.client else "-"
    log.warning("security: rejected a WhatsApp webhook (%s signature) on %s from %s", problem, request.url.path, client)


async def _publish(request: Request, subject: str, event: Event) -> None:
    try:
        await _runtime(request).bus.publish_raw(subject, msgspec.json.encode(event), msg_id=event.event_id)
    except Exception as exc:
        log.error("could not store a WhatsApp webhook in JetStream: %s", exc)
        raise HTTPException(status_code=503, detail="Temporarily unavailable, please retry") from exc


@post(MESSAGE_PATH, media_type=MediaType.XML)
async def whatsapp_message(request: Request) -> Response[str]:
    """A customer's message: published to the inbound subject, answered with empty TwiML (the reply
    goes out later through the dispatcher)."""
    params = await _verified_params(request)
    try:
        event = parse_inbound(params, received_at=datetime.now(UTC))
    except InvalidWebhook as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    await _publish(request, Subjects.inbound("whatsapp"), event)
    return Response(EMPTY_TWIML, status_code=200, media_type=MediaType.XML)


@post(STATUS_PATH, status_code=204)
async def whatsapp_status(request: Request) -> None:
    """A delivery report: published for the dispatcher's callback worker, which applies it."""
    params = await _verified_params(request)
    try:
        event = parse_status(params, received_at=datetime.now(UTC))
    except InvalidWebhook as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    if event is not None:
        await _publish(request, Subjects.delivery_callback("whatsapp"), event)


def build(runtime: Runtime) -> ServiceParts:
    return ServiceParts(
        name="ingress-whatsapp",
        routes=[Router(path="/", route_handlers=[whatsapp_message, whatsapp_status])],
        channels=[c for c in channel_states(runtime.settings) if c.name == "whatsapp"],
    )
