"""A LOCAL STAND-IN for Twilio's Messages API and WhatsApp webhooks; not Twilio.

For the tests and `fte up --fake-providers`: the real ``twilio`` client talks to it through
``TWILIO_API_BASE_URL``, and it calls our webhooks the way Twilio does, signed with the auth token.

Twilio's side, as far as we use it:

- ``POST /2010-04-01/Accounts/{sid}/Messages.json`` (Basic auth: account sid / auth token; form
  fields To, From, Body or ContentSid + ContentVariables, StatusCallback): stores the message and
  answers 201 with its resource (``sid`` ``SM…``, ``status`` ``queued``), then posts signed status
  callbacks (``sent``, ``delivered``) to StatusCallback, or to the sender's console-configured
  ``<webhook base>/webhooks/whatsapp/status`` when the message names none.
- ``GET /2010-04-01/Accounts/{sid}/Messages.json`` with To, From, ``DateSent>`` / ``DateSent<`` /
  ``DateSent`` (one page, newest first) and ``GET …/Messages/{sid}.json``.
- Errors in Twilio's JSON shape: 400 (21211 invalid To, 63007 unknown From, 21602 no body, 21617
  over 1600 characters, 21655 unknown ContentSid, 21656 bad ContentVariables), 401 (20003).

Admin endpoints (``/_fake/…``) for tests and demos:

- ``POST /_fake/inbound`` ``{"from": "+15550100123", "body": "…", "profile_name"?, "media"?:
  [{"url", "content_type"}], "message_sid"?}``: sign and post a customer message to our webhook;
  answers our webhook's status and body.
- ``GET /_fake/messages[?to=whatsapp:+…]``: what was sent (oldest first); ``GET /_fake/calls``.
- ``POST /_fake/failures`` ``{"mode": "error" | "rate_limit" | "hang" | "down", "count": n,
  "skip": k, "status": 500, "retry_after": s, "hang_seconds": s}``: after ``k`` creates that go
  through, the next ``n`` answer ``status``, or 429 with Retry-After, or are accepted and stored
  but answered only after ``hang_seconds`` (past the client's timeout); ``down`` answers 503 to
  every API call until ``DELETE /_fake/failures``.
- ``POST /_fake/callbacks`` ``{"statuses": ["sent", "delivered"], "reverse": false, "delay": s}``.
- ``POST /_fake/status`` ``{"sid": "SM…", "status": "read", "error_code"?}``: post one more callback.
- ``POST /_fake/reset``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from litestar import Litestar, Request, Response, delete, get, post
from litestar.params import FromPath

from services.fakes import RunningFake
from services.ingress_whatsapp.twilio_form import (
    MESSAGE_PATH,
    SIGNATURE_HEADER,
    STATUS_PATH,
    compute_signature,
    inbound_form,
    status_form,
)
from shared.serving import serve

log = logging.getLogger(__name__)

# Well-known, NOT secret: a stand-in's credentials, so that `fte simulate` can sign for a demo stack.
FAKE_ACCOUNT_SID = "AC" + "fa4e" * 8
FAKE_AUTH_TOKEN = "not-a-secret-fake-twilio-token"  # noqa: S105 - a stand-in's, published on purpose
FAKE_WHATSAPP_FROM = "whatsapp:+14155238886"  # Twilio's sandbox number
FAKE_TEMPLATE_SID = "HX" + "fa4e" * 8
TEMPLATE_TEXT = "Hello from {{1}}. We have an update on your request: {{2}} Reply to this message to continue."
API_PREFIX = "/2010-04-01/Accounts/{account_sid:str}"
MAX_BODY = 1600
MAX_HOLD_SECONDS = 120.0

_WHATSAPP_NUMBER = re.compile(r"^whatsapp:\+[1-9]\d{6,14}$")


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _rfc2822(when: datetime | None) -> str | None:
    return when.strftime("%a, %d %b %Y %H:%M:%S +0000") if when else None


@dataclass
class SentMessage:
    sid: str
    to: str
    sender: str
    body: str
    status_callback: str | None
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None
    status: str = "queued"
    error_code: str | None = None
    date_created: datetime = field(default_factory=lambda: datetime.now(UTC))
    date_sent: datetime | None = None

    def resource(self, account_sid: str) -> dict[str, Any]:
        """The message as Twilio's API shows it."""
        return {
            "account_sid": account_sid,
            "api_version": "2010-04-01",
            "body": self.body,
            "date_created": _rfc2822(self.date_created),
            "date_sent": _rfc2822(self.date_sent),
            "date_updated": _rfc2822(self.date_sent or self.date_created),
            "direction": "outbound-api",
            "error_code": int(self.error_code) if self.error_code else None,
            "error_message": None,
            "from": self.sender,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {},
            "to": self.to,
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{self.sid}.json",
        }

    def admin_view(self) -> dict[str, Any]:
        return {
            "sid": self.sid,
            "to": self.to,
            "from": self.sender,
            "body": self.body,
            "content_sid": self.content_sid,
            "content_variables": self.content_variables,
            "status": self.status,
            "status_callback": self.status_callback,
            "date_created": self.date_created.isoformat(),
        }


@dataclass
class Failures:
    mode: str = "none"  # none | error | rate_limit | hang | down
    count: int = 0
    skip: int = 0  # creates that go through before the failures start (a reply's later part fails)
    status: int = 500
    retry_after: float = 1.0
    hang_seconds: float = 5.0


@dataclass
class FakeTwilioState:
    account_sid: str
    auth_token: str
    sender: str
    template_sid: str
    webhook_base_url: str | None
    messages: list[SentMessage] = field(default_factory=list)
    failures: Failures = field(default_factory=Failures)
    callback_statuses: tuple[str, ...] = ("sent", "delivered")
    callback_reverse: bool = False
    callback_delay: float = 0.05
    calls: list[str] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    client: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10))

    def reset(self) -> None:
        self.messages.clear()
        self.calls.clear()
        self.failures = Failures()
        self.callback_statuses = ("sent", "delivered")
        self.callback_reverse = False
        self.callback_delay = 0.05

    def find(self, sid: str) -> SentMessage | None:
        return next((m for m in self.messages if m.sid == sid), None)

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def post_signed(self, url: str, form: dict[str, str]) -> httpx.Response:
        signature = compute_signature(self.auth_token, url, form)
        return await self.client.post(url, data=form, headers={SIGNATURE_HEADER: signature})

    async def post_status(self, message: SentMessage, status: str, error_code: str | None = None) -> None:
        url = message.status_callback or (
            f"{self.webhook_base_url.rstrip('/')}{STATUS_PATH}" if self.webhook_base_url else None
        )
        if url is None:
            return
        form = status_form(
            account_sid=self.account_sid,
            message_sid=message.sid,
            sender=message.sender,
            to=message.to,
            status=status,
            error_code=error_code,
        )
        try:
            response = await self.post_signed(url, form)
            if response.status_code >= 300:
                log.warning("fake twilio: the status callback got %s", response.status_code)
        except httpx.HTTPError as exc:
            log.warning("fake twilio: the status callback failed: %r", exc)

    async def deliver(self, message: SentMessage) -> None:
        """The message's life after it was accepted: its status moves on and each step is reported
        (in the programmed order, which may be reversed like late network deliveries)."""
        await asyncio.sleep(self.callback_delay)
        statuses = list(self.callback_statuses)
        for status in statuses:
            message.status = status
            if status == "sent":
                message.date_sent = datetime.now(UTC)
        for status in reversed(statuses) if self.callback_reverse else statuses:
            await self.post_status(message, status)


def _state(request: Request) -> FakeTwilioState:
    return request.app.state.fake


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response[dict[str, Any]]:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Response(body, status_code=status, headers=headers or {})


def _denied(request: Request, account_sid: str) -> Response[dict[str, Any]] | None:
    """401 unless Basic auth carries this account's sid and auth token; 503 while programmed down."""
    state = _state(request)
    expected = "Basic " + base64.b64encode(f"{state.account_sid}:{state.auth_token}".encode()).decode()
    if request.headers.get("authorization") != expected or account_sid != state.account_sid:
        return _error(401, 20003, "Authenticate")
    if state.failures.mode == "down":
        return _error(503, 20500, "Service unavailable (fake twilio is programmed down)")
    return None


async def _hold(state: FakeTwilioState, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(state.released.wait(), timeout=min(seconds, MAX_HOLD_SECONDS))


@post(API_PREFIX + "/Messages.json")
async def create_message(request: Request, account_sid: FromPath[str]) -> Response[dict[str, Any]]:
    state = _state(request)
    state.calls.append("create")
    if (denied := _denied(request, account_sid)) is not None:
        return denied
    form = await request.form()
    fields = {key: str(value) for key, value in form.items()}
    failures = state.failures
    hang = False
    if failures.mode in ("error", "rate_limit", "hang") and failures.skip > 0:
        failures.skip -= 1
    elif failures.mode in ("error", "rate_limit", "hang") and failures.count > 0:
        failures.count -= 1
        if failures.mode == "error":
            return _error(failures.status, 20500, "Internal server error (programmed)")
        if failures.mode == "rate_limit":
            return _error(429, 20429, "Too Many Requests", {"Retry-After": f"{failures.retry_after:g}"})
        hang = True
    message_or_error = _accept(state, fields)
    if isinstance(message_or_error, Response):
        return message_or_error
    message = message_or_error
    state.messages.append(message)
    state.spawn(state.deliver(message))
    if hang:
        await _hold(state, failures.hang_seconds)
    return Response(message.resource(state.account_sid), status_code=201)


def _accept(state: FakeTwilioState, fields: dict[str, str]) -> SentMessage | Response[dict[str, Any]]:
    to, sender, body = fields.get("To", ""), fields.get("From", ""), fields.get("Body", "")
    if not _WHATSAPP_NUMBER.match(to):
        return _error(400, 21211, "Invalid 'To' Phone Number")
    if sender != state.sender:
        return _error(400, 63007, "Twilio could not find a Channel with the specified From address")
    content_sid = fields.get("ContentSid")
    variables: dict[str, str] | None = None
    if content_sid:
        if content_sid != state.template_sid:
            return _error(400, 21655, "The ContentSid is Invalid")
        try:
            variables = {str(k): str(v) for k, v in json.loads(fields.get("ContentVariables") or "{}").items()}
        except (ValueError, AttributeError):
            return _error(400, 21656, "The ContentVariables Parameter is invalid")
        body = re.sub(r"\{\{(\d+)\}\}", lambda m: variables.get(m.group(1), ""), TEMPLATE_TEXT)
    elif not body:
        return _error(400, 21602, "Message body is required")
    if len(body) > MAX_BODY:
        return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit")
    return SentMessage(
        sid=_sid("SM"),
        to=to,
        sender=sender,
        body=body,
        status_callback=fields.get("StatusCallback") or None,
        content_sid=content_sid,
        content_variables=variables,
    )


@get(API_PREFIX + "/Messages.json")
async def list_messages(request: Request, account_sid: FromPath[str]) -> Response[dict[str, Any]]:
    state = _state(request)
    state.calls.append("list")
    if (denied := _denied(request, account_sid)) is not None:
        return denied
    query = request.query_params
    found = [
        m
        for m in reversed(state.messages)
        if (not query.get("To") or m.to == query["To"])
        and (not query.get("From") or m.sender == query["From"])
        and _date_matches(m, query.get("DateSent"), query.get("DateSent>"), query.get("DateSent<"))
    ]
    size = min(int(query.get("PageSize") or 50), 1000)
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
    return Response(
        {
            "messages": [m.resource(state.account_sid) for m in found[:size]],
            "end": min(len(found), size) - 1,
            "first_page_uri": f"{uri}?PageSize={size}&Page=0",
            "next_page_uri": None,  # one page: plenty for a stand-in
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": uri,
        }
    )


def _date_matches(message: SentMessage, on: str | None, after: str | None, before: str | None) -> bool:
    """Twilio filters on the sending date; a message still queued is taken at its creation time here."""
    when = message.date_sent or message.date_created
    for value, accept in ((on, lambda a, b: a == b), (after, lambda a, b: a >= b), (before, lambda a, b: a <= b)):
        if not value:
            continue
        bound = _parse_date(value)
        ours: Any = when if isinstance(bound, datetime) else when.date()
        if not accept(ours, bound):
            return False
    return True


def _parse_date(value: str) -> Any:
    if "T" in value:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return datetime.fromisoformat(value).date()


@get(API_PREFIX + "/Messages/{resource:str}")
async def fetch_message(
    request: Request, account_sid: FromPath[str], resource: FromPath[str]
) -> Response[dict[str, Any]]:
    state = _state(request)
    state.calls.append("fetch")
    if (denied := _denied(request, account_sid)) is not None:
        return denied
    message = state.find(resource.removesuffix(".json"))
    if message is None:
        return _error(404, 20404, "The requested resource was not found")
    return Response(message.resource(state.account_sid))


@post("/_fake/inbound", status_code=200)
async def inject_inbound(request: Request) -> dict[str, Any]:
    """A customer writes: post the message to our webhook, signed like Twilio would."""
    state = _state(request)
    data = await request.json()
    if not state.webhook_base_url:
        return {"error": "no webhook base URL configured"}
    sid = data.get("message_sid") or _sid("SM")
    form = inbound_form(
        account_sid=state.account_sid,
        message_sid=sid,
        sender=data["from"],
        to=data.get("to") or state.sender,
        body=data.get("body", ""),
        profile_name=data.get("profile_name"),
        media=[(m["url"], m["content_type"]) for m in data.get("media", [])],
    )
    response = await state.post_signed(state.webhook_base_url.rstrip("/") + MESSAGE_PATH, form)
    return {"message_sid": sid, "status_code": response.status_code, "response": response.text}


@get("/_fake/messages")
async def sent_messages(request: Request) -> list[dict[str, Any]]:
    to = request.query_params.get("to")
    return [m.admin_view() for m in _state(request).messages if not to or m.to == to]


@get("/_fake/calls")
async def api_calls(request: Request) -> list[str]:
    return _state(request).calls


@post("/_fake/failures", status_code=204)
async def program_failures(request: Request) -> None:
    data = await request.json()
    _state(request).failures = Failures(
        mode=data.get("mode", "error"),
        count=int(data.get("count", 1)),
        skip=int(data.get("skip", 0)),
        status=int(data.get("status", 500)),
        retry_after=float(data.get("retry_after", 1.0)),
        hang_seconds=float(data.get("hang_seconds", 5.0)),
    )


@delete("/_fake/failures", status_code=204)
async def clear_failures(request: Request) -> None:
    _state(request).failures = Failures()


@post("/_fake/callbacks", status_code=204)
async def program_callbacks(request: Request) -> None:
    data = await request.json()
    state = _state(request)
    state.callback_statuses = tuple(data.get("statuses", ("sent", "delivered")))
    state.callback_reverse = bool(data.get("reverse", False))
    state.callback_delay = float(data.get("delay", 0.05))


@post("/_fake/status", status_code=200)
async def post_status(request: Request) -> Response[dict[str, Any]]:
    data = await request.json()
    state = _state(request)
    message = state.find(data.get("sid", ""))
    if message is None:
        return Response({"error": "unknown sid"}, status_code=404)
    await state.post_status(message, data["status"], data.get("error_code"))
    return Response({"sid": message.sid, "status": data["status"]})


@post("/_fake/reset", status_code=204)
async def reset(request: Request) -> None:
    _state(request).reset()


def build_app(state: FakeTwilioState) -> Litestar:
    app = Litestar(
        [
            create_message,
            list_messages,
            fetch_message,
            inject_inbound,
            sent_messages,
            api_calls,
            program_failures,
            clear_failures,
            program_callbacks,
            post_status,
            reset,
        ],
        openapi_config=None,
    )
    app.state.fake = state
    return app


async def start_fake_twilio(host: str = "127.0.0.1", *, webhook_base_url: str | None = None) -> RunningFake:
    """The stand-in on a free port; ``env`` points the TWILIO_* settings at it."""
    state = FakeTwilioState(
        account_sid=FAKE_ACCOUNT_SID,
        auth_token=FAKE_AUTH_TOKEN,
        sender=FAKE_WHATSAPP_FROM,
        template_sid=FAKE_TEMPLATE_SID,
        webhook_base_url=webhook_base_url,
    )
    base_url, stop_server = await serve(build_app(state), host=host)

    async def stop() -> None:
        state.released.set()
        for task in list(state.tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await stop_server()
        await state.client.aclose()

    env = {
        "TWILIO_ACCOUNT_SID": state.account_sid,
        "TWILIO_AUTH_TOKEN": state.auth_token,
        "TWILIO_WHATSAPP_FROM": state.sender,
        "TWILIO_API_BASE_URL": base_url,
        "TWILIO_TEMPLATE_SID": state.template_sid,
    }
    return RunningFake(name="twilio", base_url=base_url, env=env, stop=stop, state=state)
