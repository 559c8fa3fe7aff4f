"""ingress-web routes. HTTP only: validate, publish durably, answer; no business logic."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import MediaType, Request, Response, Router, get, post
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import Template

from services.ingress_web.form import CATEGORIES, Submission, validate_submission
from services.ingress_web.tickets import STILL_WORKING, MessageView, RecentIds, TicketView, wait_for_ticket
from shared.runtime import Runtime, ServiceParts
from subjects import InboundMessage, Subjects

log = logging.getLogger(__name__)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
REFRESH_SECONDS = 3
# Tickets this process accepted lately: they may not be in the database yet, so a read waits a moment.
_recent = RecentIds(capacity=10_000)


def new_ticket_id() -> str:
    """128 random bits, url-safe: unguessable, so holding the id is the right to read the ticket."""
    return secrets.token_urlsafe(16)


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def _page(request: Request, template: str, status: int = 200, **context: Any) -> Template:
    context.setdefault("brand", _runtime(request).settings.brand)
    context.setdefault("form_url", "/")
    return Template(template_name=template, context=context, status_code=status)


@get("/", media_type=MediaType.HTML, include_in_schema=False)
async def form_page(request: Request) -> Template:
    return _page(request, "form.html", values={}, errors={}, categories=CATEGORIES)


async def _read_submission(request: Request) -> tuple[dict[str, Any], bool]:
    """The submitted fields and whether the caller is a browser posting the HTML form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in FORM_TYPES:
        form = await request.form()
        return {key: form.get(key) for key in form}, _wants_html(request)
    if content_type == "application/json" or content_type.endswith("+json"):
        raw = await request.body()
        try:
            data = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            raise HTTPException(status_code=400, detail=f"Malformed JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise HTTPException(status_code=400, detail="The JSON body must be an object")
        return data, False
    raise HTTPException(status_code=415, detail="Send application/json or application/x-www-form-urlencoded")


@post("/support/submit", status_code=201)
async def submit(request: Request) -> Response[Any] | Template:
    data, html = await _read_submission(request)
    submission, errors = validate_submission(data)
    if submission is None:
        if html:
            values = {k: v for k, v in data.items() if isinstance(v, str)}
            return _page(request, "form.html", 422, values=values, errors=errors, categories=CATEGORIES)
        return Response(
            {
                "status_code": 422,
                "detail": "Validation failed: " + ", ".join(sorted(errors)),
                "errors": [{"field": field, "message": message} for field, message in errors.items()],
            },
            status_code=422,
        )
    ticket_id = new_ticket_id()
    now = datetime.now(UTC)
    event = _inbound_event(submission, ticket_id, now)
    try:
        await _runtime(request).bus.publish_raw(
            Subjects.inbound("web"), msgspec.json.encode(event), msg_id=event.event_id
        )
    except Exception as exc:
        log.error("could not store web submission in JetStream: %s", exc)
        raise HTTPException(status_code=503, detail="Temporarily unavailable, please retry") from exc
    _recent.add(ticket_id)
    status_url = f"/support/ticket/{ticket_id}"
    headers = {"Location": status_url}
    if html:
        ticket = TicketView(ticket_id, "open", submission.subject, "web", now, now)
        messages = [MessageView("customer", "web", submission.message, now)]
        page = _page(request, "ticket.html", 201, ticket=ticket, messages=messages, refresh_seconds=REFRESH_SECONDS)
        page.headers.update(headers)
        return page
    body = {"ticket_id": ticket_id, "status": "open", "status_url": status_url}
    return Response(body, status_code=201, headers=headers)


def _inbound_event(submission: Submission, ticket_id: str, now: datetime) -> InboundMessage:
    return InboundMessage(
        event_id=f"web:{ticket_id}",
        channel="web",
        received_at=now,
        body=submission.message,
        sender_name=submission.name,
        email=submission.email,
        phone=submission.phone,
        subject=submission.subject,
        category=submission.category,
        ticket_id=ticket_id,
    )


@get("/support/ticket/{ticket_id:str}")
async def ticket_status(request: Request, ticket_id: FromPath[str]) -> Response[Any] | Template:
    patience = 2.0 if ticket_id in _recent else 0.0
    found = await wait_for_ticket(_runtime(request).pool, ticket_id, patience=patience)
    html = "application/json" not in request.headers.get("accept", "")
    if found is None:
        if html:
            return _page(request, "not_found.html", 404, message="We could not find that ticket.")
        raise HTTPException(status_code=404, detail="Unknown ticket")
    ticket, messages = found
    if html:
        refresh = REFRESH_SECONDS if ticket.status in STILL_WORKING else None
        return _page(request, "ticket.html", ticket=ticket, messages=messages, refresh_seconds=refresh)
    return Response(
        {
            "ticket_id": ticket.id,
            "status": ticket.status,
            "subject": ticket.subject,
            "channel": ticket.channel,
            "created_at": ticket.created_at.isoformat(),
            "updated_at": ticket.updated_at.isoformat(),
            "messages": [
                {
                    "role": m.role,
                    "channel": m.channel,
                    "content": m.content,
                    "created_at": m.created_at.isoformat(),
                }
                for m in messages
            ],
        }
    )


def build(runtime: Runtime) -> ServiceParts:
    router = Router(path="/", route_handlers=[form_page, submit, ticket_status])
    return ServiceParts(name="ingress-web", routes=[router])
