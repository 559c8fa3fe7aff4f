"""A local stand-in for Gmail and its Pub/Sub push, served over real HTTP (never used in production).

The real google-api-python-client and google-auth talk to it through ``GMAIL_API_BASE_URL`` and the token URI of
the credentials file it writes:

- OAuth: ``POST /token`` (refresh-token and service-account grants); every API call needs the issued token.
- Gmail API v1: ``users.getProfile``, ``watch``, ``stop``, ``history.list`` (404 for a start history id older than
  it keeps), ``messages.list`` (``q`` with ``in:``, ``rfc822msgid:``, ``newer_than:``...), ``messages.get``
  (raw / metadata / minimal / full), ``messages.send`` (stored with the SENT label in its thread),
  ``threads.get``.
- Pub/Sub push: while a watch is registered, each delivered mail is announced to ``<webhook>/webhooks/gmail``
  with a Pub/Sub envelope and an OIDC ID token signed by a key made at start (certificates at
  ``/oauth2/v1/certs``, Google's format); a refused push is retried a few times, as Pub/Sub would.
- Admin under ``/_fake/``: deliver a customer mail (fields or raw RFC 822), list sent mail, push now, forget
  history, program failures (500s, 429 with Retry-After, accept-then-hang, down; on sends by default, or on
  another call such as ``messages.get``) and read counters.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.params import FromPath

from services.fakes import RunningFake
from services.fakes.gmail_mailbox import BadMessage, FakeMailbox, HistoryGone, StoredMessage, UnknownThread
from services.fakes.oidc import OidcSigner
from services.fakes.registry import register
from shared.embedded import free_port
from shared.serving import serve

DEFAULT_MAILBOX = "support@orbitly.example"
PUSH_SERVICE_ACCOUNT = "gmail-push@fte-local.iam.gserviceaccount.com"
PUBSUB_TOPIC = "projects/fte-local/topics/gmail"
PUSH_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}


class GoogleError(Exception):
    """Answered in the Google API error format (what googleapiclient's HttpError parses)."""

    def __init__(self, code: int, message: str, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.reason, self.headers = code, message, reason, headers or {}


def _google_error(_: Request, exc: GoogleError) -> Response[Any]:
    status = _STATUS_NAMES.get(exc.code, "RESOURCE_EXHAUSTED" if exc.code == 429 else "UNAVAILABLE")
    body = {
        "error": {
            "code": exc.code,
            "message": exc.message,
            "errors": [{"message": exc.message, "domain": "global", "reason": exc.reason}],
            "status": status,
        }
    }
    return Response(body, status_code=exc.code, headers=exc.headers)


@dataclass
class ProgrammedFailure:
    """``mode``: error (answer ``status``), rate_limit (429 + Retry-After), hang (a send is stored, then answered
    only after ``seconds``), down (503 until cleared). ``remaining`` None: until cleared. ``api``: the call that
    fails (``messages.send``, ``messages.get``, ``history.list``...)."""

    mode: str
    api: str = "messages.send"
    remaining: int | None = None
    status: int = 500
    retry_after: float | None = None
    seconds: float = 30.0


class FakeGmail:
    def __init__(self, *, mailbox: str, webhook_url: str, audience: str, service_account: str) -> None:
        self.mailbox = FakeMailbox(mailbox)
        self.webhook_url = webhook_url
        self.audience = audience
        self.service_account = service_account
        self.signer = OidcSigner()
        self.client_id = f"fake-client-{secrets.token_hex(4)}"
        self.client_secret = secrets.token_urlsafe(16)
        self.refresh_token = secrets.token_urlsafe(24)
        self.access_tokens: set[str] = set()
        self.watch_topic: str | None = None
        self.watch_calls = 0
        self.auto_push = True
        self.failure: ProgrammedFailure | None = None
        self.counters: dict[str, int] = {}
        self.pushes: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = asyncio.Event()
        self._push_seq = 0

    # ------------------------------------------------------------------ helpers

    def count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def authorize(self, request: Request, user_id: str) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self.access_tokens:
            raise GoogleError(401, "Request had invalid authentication credentials.", "authError")
        if user_id not in ("me", self.mailbox.address):
            raise GoogleError(403, "Delegation denied", "forbidden")

    def message(self, message_id: str) -> StoredMessage:
        found = self.mailbox.messages.get(message_id)
        if found is None:
            raise GoogleError(404, "Requested entity was not found.", "notFound")
        return found

    def customer_mail(self, data: dict[str, Any]) -> bytes:
        """An RFC 822 message from admin fields (``from``, ``name``, ``subject``, ``text``, ``html``, ``headers``,
        ``in_reply_to``, ``references``, ``attachments``: ``[{filename, content_type, content_base64}]``)."""
        sender = str(data.get("from") or "customer@example.com")
        msg = EmailMessage()
        msg["From"] = formataddr((str(data.get("name") or ""), sender)) if data.get("name") else sender
        msg["To"] = str(data.get("to") or self.mailbox.address)
        msg["Subject"] = str(data.get("subject") or "A question")
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = str(data.get("message_id") or make_msgid(domain=sender.rpartition("@")[2] or "x"))
        if data.get("in_reply_to"):
            msg["In-Reply-To"] = str(data["in_reply_to"])
        if data.get("references"):
            refs = data["references"]
            msg["References"] = " ".join(refs) if isinstance(refs, list) else str(refs)
        for name, value in (data.get("headers") or {}).items():
            msg[str(name)] = str(value)
        msg.set_content(str(data.get("text") or ""))
        if data.get("html"):
            msg.add_alternative(str(data["html"]), subtype="html")
        for attachment in data.get("attachments") or []:
            maintype, _, subtype = str(attachment.get("content_type", "application/octet-stream")).partition("/")
            content = base64.b64decode(attachment.get("content_base64") or b"")
            msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=attachment.get("filename"))
        return msg.as_bytes()

    # ------------------------------------------------------------------ push

    def envelope(self, history_id: int) -> dict[str, Any]:
        self._push_seq += 1
        data = json.dumps({"emailAddress": self.mailbox.address, "historyId": str(history_id)}).encode()
        published = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return {
            "message": {
                "data": base64.b64encode(data).decode("ascii"),
                "messageId": str(self._push_seq),
                "message_id": str(self._push_seq),
                "publishTime": published,
                "publish_time": published,
                "attributes": {},
            },
            "subscription": "projects/fte-local/subscriptions/gmail-push",
        }

    async def push(
        self, history_id: int | None = None, *, retries: tuple[float, ...] = PUSH_RETRY_DELAYS
    ) -> int | None:
        """POST a signed push to the webhook; retried after a refusal. Returns the last status (None: no answer)."""
        envelope = self.envelope(history_id or self.mailbox.history_id)
        status: int | None = None
        attempts = 0
        async with httpx.AsyncClient(timeout=30) as client:
            for delay in (0.0, *retries):
                if delay:
                    await asyncio.sleep(delay)
                attempts += 1
                token = self.signer.mint(audience=self.audience, email=self.service_account)
                try:
                    response = await client.post(
                        self.webhook_url, json=envelope, headers={"Authorization": f"Bearer {token}"}
                    )
                    status = response.status_code
                except httpx.HTTPError:
                    status = None
                if status is not None and status < 300:
                    break
        self.pushes.append({"history_id": history_id, "status": status, "attempts": attempts})
        return status

    def announce(self, history_id: int) -> None:
        if self.watch_topic and self.auto_push:
            task = asyncio.get_running_loop().create_task(self.push(history_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        self._closing.set()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ programmed failures

    def fail_if_programmed(self, api: str) -> None:
        """Raise the programmed failure of ``api``, if any (a hang is handled after a send is stored)."""
        failure = self.failure
        if failure is None or failure.api != api or failure.mode == "hang":
            return
        self._consume(failure)
        if failure.mode == "rate_limit":
            headers = {"Retry-After": _seconds(failure.retry_after)} if failure.retry_after is not None else {}
            raise GoogleError(429, "Too many concurrent requests for user.", "rateLimitExceeded", headers)
        status = 503 if failure.mode == "down" else failure.status
        raise GoogleError(status, "The service is currently unavailable.", "backendError")

    async def after_send(self) -> None:
        failure = self.failure
        if failure is not None and failure.mode == "hang" and failure.api == "messages.send":
            self._consume(failure)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=failure.seconds)

    def _consume(self, failure: ProgrammedFailure) -> None:
        if failure.remaining is not None:
            failure.remaining -= 1
            if failure.remaining <= 0:
                self.failure = None

    # ------------------------------------------------------------------ app

    def app(self) -> Litestar:
        return Litestar(
            route_handlers=[*_api_handlers(), *_admin_handlers()],
            exception_handlers={GoogleError: _google_error},
            logging_config=None,
            openapi_config=None,
            state=State({"fake": self}),
        )


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _fake(request: Request) -> FakeGmail:
    return request.app.state.fake  # type: ignore[no-any-return]


# ---------------------------------------------------------------------- the Gmail API and OAuth

USERS = "/gmail/v1/users/{user_id:str}"


def _api_handlers() -> list[Any]:
    @post("/token", status_code=200)
    async def token(request: Request) -> Response[Any]:
        fake = _fake(request)
        form = await request.form()
        grant = form.get("grant_type")
        refresh_ok = grant == "refresh_token" and form.get("refresh_token") == fake.refresh_token
        assertion_ok = (
            grant == "urn:ietf:params:oauth:grant-type:jwt-bearer" and str(form.get("assertion")).count(".") == 2
        )
        if not (refresh_ok or assertion_ok):
            return Response({"error": "invalid_grant", "error_description": "Bad Request"}, status_code=400)
        access = f"fake-{secrets.token_urlsafe(24)}"
        fake.access_tokens.add(access)
        fake.count("token")
        return Response({"access_token": access, "expires_in": 3599, "token_type": "Bearer"})

    @get("/oauth2/v1/certs")
    async def certs(request: Request) -> Response[Any]:
        return Response(_fake(request).signer.certs(), headers={"Cache-Control": "public, max-age=60"})

    @get(f"{USERS}/profile")
    async def profile(request: Request, user_id: FromPath[str]) -> dict[str, Any]:
        fake = _fake(request)
        fake.authorize(request, user_id)
        box = fake.mailbox
        return {
            "emailAddress": box.address,
            "messagesTotal": len(box.messages),
            "threadsTotal": len({m.thread_id for m in box.messages.values()}),
            "historyId": str(box.history_id),
        }

    @post(f"{USERS}/watch", status_code=200)
    async def watch(request: Request, user_id: FromPath[str]) -> dict[str, Any]:
        fake = _fake(request)
        fake.authorize(request, user_id)
        body = await request.json()
        topic = str((body or {}).get("topicName") or "")
        if not topic.startswith("projects/") or "/topics/" not in topic:
            raise GoogleError(400, "Invalid topicName", "invalidArgument")
        fake.watch_topic = topic
        fake.watch_calls += 1
        expiration = int((datetime.now(UTC).timestamp() + 7 * 86400) * 1000)
        return {"historyId": str(fake.mailbox.history_id), "expiration": str(expiration)}

    @post(f"{USERS}/stop", status_code=204)
    async def stop(request: Request, user_id: FromPath[str]) -> None:
        fake = _fake(request)
        fake.authorize(request, user_id)
        fake.watch_topic = None

    @get(f"{USERS}/history")
    async def history(request: Request, user_id: FromPath[str]) -> dict[str, Any]:
        fake = _fake(request)
        fake.authorize(request, user_id)
        fake.count("history.list")
        fake.fail_if_programmed("history.list")
        query = request.query_params
        start = query.get("startHistoryId")
        if not start or not str(start).isdigit():
            raise GoogleError(400, "Invalid startHistoryId", "invalidArgument")
        types = query.getall("historyTypes") if "historyTypes" in query else []
        if any(t != "messageAdded" for t in types):
            raise GoogleError(400, "The fake only records messageAdded", "invalidArgument")
        try:
            return fake.mailbox.history(
                int(start),
                label_id=query.get("labelId"),
                page_token=query.get("pageToken"),
                max_results=min(500, int(query.get("maxResults") or 100)),
            )
        except HistoryGone as exc:
            raise GoogleError(404, "Requested entity was not found.", "notFound") from exc

    @get(f"{USERS}/messages")
    async def list_messages(request: Request, user_id: FromPath[str]) -> dict[str, Any]:
        fake = _fake(request)
        fake.authorize(request, user_id)
        fake.count("messages.list")
        query = request.query_params
        labels = query.getall("labelIds") if "labelIds" in query else []
        try:
            found = fake.mailbox.search(query.get("q"), label_ids=labels)
        except ValueError as exc:
            raise GoogleError(400, str(exc), "invalidArgument") from exc
        offset = int(query.get("pageToken") or 0)
        size = min(500, int(query.get("maxResults") or 100))
        page = found[offset : offset + size]
        body: dict[str, Any] = {"resultSizeEstimate": len(found)}
        if page:
            body["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in page]
        if offset + size < len(found):
            body["nextPageToken"] = str(offset + size)
        return body

    @get(f"{USERS}/messages/{{message_id:str}}")
    async def get_message(request: Request, user_id: FromPath[str], message_id: FromPath[str]) -> dict[str, Any]:
        fake = _fake(request)
        fake.authorize(request, user_id)
        fake.count("messages.get")
        fake.fail_if_programmed("messages.get")
        fmt = request.query_params.get("format") or "full"
        headers = request.query_params.getall("metadataHeaders") if "metadataHeaders" in request.query_params else []
        return fake.message(message_id).resource(fmt, headers)

    @post(f"{USERS}/messages/send", status_code=200)
    async def send(request: Request, user_id: FromPath[str]) -> dict[str, Any]:
        fake = _fake(request)
        fake.authorize(request, user_id)
        fake.count("messages.send")
        fake.fail_if_programmed("messages.send")
        body = await request.json()
        try:
            raw = base64.urlsafe_b64decode(str(body.get("raw", "")) + "=" * (-len(str(body.get("raw", ""))) % 4))
            stored = fake.mailbox.send(raw, thread_id=body.get("threadId"))
        except (binascii.Error, ValueError, AttributeError) as exc:
            reason = str(exc) if isinstance(exc, BadMessage) else "Invalid raw message"
            raise GoogleError(400, reason, "invalidArgument") from exc
        except UnknownThread as exc:
            raise GoogleError(404, "Requested entity was not found.", "notFound") from exc
        fake.count("messages.sent")
        await fake.after_send()
        return {"id": stored.id, "threadId": stored.thread_id, "labelIds": stored.labels}

    @get(f"{USERS}/threads/{{thread_id:str}}")
    async def get_thread(request: Request, user_id: FromPath[str], thread_id: FromPath[str]) -> dict[str, Any]:
        fake = _fake(request)
        fake.authorize(request, user_id)
        messages = fake.mailbox.thread(thread_id)
        if not messages:
            raise GoogleError(404, "Requested entity was not found.", "notFound")
        fmt = request.query_params.get("format") or "full"
        headers = request.query_params.getall("metadataHeaders") if "metadataHeaders" in request.query_params else []
        return {
            "id": thread_id,
            "historyId": str(max(m.history_id for m in messages)),
            "messages": [m.resource(fmt, headers) for m in messages],
        }

    return [token, certs, profile, watch, stop, history, list_messages, get_message, send, get_thread]


# ---------------------------------------------------------------------- admin


def _admin_handlers() -> list[Any]:
    @post("/_fake/deliver", status_code=201)
    async def deliver(request: Request) -> dict[str, Any]:
        """A customer mail arrives: JSON fields, or ``{"raw": RFC 822 text or base64url}``."""
        fake = _fake(request)
        data = await request.json()
        if not isinstance(data, dict):
            raise GoogleError(400, "expected a JSON object", "invalidArgument")
        raw = data.get("raw")
        content = _raw_bytes(raw) if raw else fake.customer_mail(data)
        stored = fake.mailbox.deliver(content, thread_id=data.get("thread_id"))
        fake.announce(stored.history_id)
        return {
            "id": stored.id,
            "threadId": stored.thread_id,
            "historyId": str(stored.history_id),
            "messageId": stored.message_id,
        }

    @get("/_fake/sent")
    async def sent(request: Request) -> dict[str, Any]:
        messages = _fake(request).mailbox.sent()
        return {
            "messages": [
                {"id": m.id, "threadId": m.thread_id, "labelIds": m.labels, "rfc822": m.raw.decode("utf-8", "replace")}
                for m in messages
            ]
        }

    @post("/_fake/push", status_code=200)
    async def push_now(request: Request) -> dict[str, Any]:
        """Announce ``history_id`` (default: the current one) now, whether or not a watch is registered."""
        data = await request.json() if await request.body() else {}
        history_id = int(data.get("history_id") or 0) or None
        status = await _fake(request).push(history_id, retries=())
        return {"status": status}

    @post("/_fake/history/expire", status_code=200)
    async def expire(request: Request) -> dict[str, Any]:
        box = _fake(request).mailbox
        box.expire_history()
        return {"oldest_history_id": str(box.oldest_history_id)}

    @post("/_fake/config", status_code=200)
    async def config(request: Request) -> dict[str, Any]:
        fake = _fake(request)
        data = await request.json()
        if "auto_push" in data:
            fake.auto_push = bool(data["auto_push"])
        return {"auto_push": fake.auto_push}

    @post("/_fake/failures", status_code=200)
    async def program_failure(request: Request) -> dict[str, Any]:
        data = await request.json()
        mode = data.get("mode")
        if mode not in ("error", "rate_limit", "hang", "down"):
            raise GoogleError(400, "mode: error, rate_limit, hang or down", "invalidArgument")
        count = data.get("count")
        _fake(request).failure = ProgrammedFailure(
            mode=mode,
            api=str(data.get("api") or "messages.send"),
            remaining=None if mode == "down" or count is None else int(count),
            status=int(data.get("status") or 500),
            retry_after=None if data.get("retry_after") is None else float(data["retry_after"]),
            seconds=float(data.get("seconds") or 30.0),
        )
        return {"mode": mode}

    @delete("/_fake/failures", status_code=204)
    async def clear_failures(request: Request) -> None:
        _fake(request).failure = None

    @get("/_fake/state")
    async def state(request: Request) -> dict[str, Any]:
        fake = _fake(request)
        return {
            "mailbox": fake.mailbox.address,
            "history_id": str(fake.mailbox.history_id),
            "watching": fake.watch_topic is not None,
            "watch_calls": fake.watch_calls,
            "auto_push": fake.auto_push,
            "failure": None if fake.failure is None else fake.failure.mode,
            "counters": dict(fake.counters),
            "pushes": list(fake.pushes),
        }

    return [deliver, sent, push_now, expire, config, program_failure, clear_failures, state]


def _raw_bytes(raw: str) -> bytes:
    text = raw.strip()
    if ":" in text:  # RFC 822 headers always have one; base64url never does
        return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---------------------------------------------------------------------- start


async def start_fake_gmail(
    *, host: str = "127.0.0.1", webhook_base_url: str, mailbox: str = DEFAULT_MAILBOX
) -> RunningFake:
    """Serve the stand-in on a free port; ``env`` points ingress-gmail and the dispatcher at it."""
    webhook_url = webhook_base_url.rstrip("/") + "/webhooks/gmail"
    fake = FakeGmail(
        mailbox=mailbox, webhook_url=webhook_url, audience=webhook_url, service_account=PUSH_SERVICE_ACCOUNT
    )
    port = free_port(host)
    base_url = f"http://{host}:{port}"
    folder = Path(tempfile.mkdtemp(prefix="fte-fake-gmail-"))
    credentials = folder / "authorized_user.json"
    credentials.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": fake.client_id,
                "client_secret": fake.client_secret,
                "refresh_token": fake.refresh_token,
                "token_uri": f"{base_url}/token",
            }
        ),
        encoding="utf-8",
    )
    credentials.chmod(0o600)
    url, stop_server = await serve(fake.app(), host=host, port=port)
    unregister = register("gmail", webhook_base_url, {"base_url": url, "mailbox": mailbox})

    async def stop() -> None:
        await fake.close()
        await stop_server()
        unregister()
        shutil.rmtree(folder, ignore_errors=True)

    env = {
        "GMAIL_CREDENTIALS_FILE": str(credentials),
        "GMAIL_MAILBOX": mailbox,
        "GMAIL_API_BASE_URL": url,
        "GMAIL_PUBSUB_AUDIENCE": webhook_url,
        "GMAIL_PUBSUB_SERVICE_ACCOUNT": PUSH_SERVICE_ACCOUNT,
        "GMAIL_PUBSUB_CERTS_URL": f"{url}/oauth2/v1/certs",
        "GMAIL_PUBSUB_TOPIC": PUBSUB_TOPIC,
    }
    return RunningFake(name="gmail", base_url=url, env=env, stop=stop, state=fake)
