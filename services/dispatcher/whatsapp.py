"""The WhatsApp sender: the real ``twilio`` client (async), one provider message per part.

Never a part twice: each part has a row (``provider_message_parts``) that is ``sending`` before
its call and ``sent`` with Twilio's sid after. A part left ``sending`` (the call timed out or the
process died, so Twilio may have accepted it) is looked up in Twilio's message list (To, From, the
day it was attempted, the same text) before anything is sent again; a part Twilio refused outright
goes back to ``pending``.

Outside WhatsApp's 24-hour window only an approved template may be sent: the configured
``TWILIO_TEMPLATE_SID`` with variables, or a permanent failure so that the dispatcher escalates.
"""

from __future__ import annotations

import base64
import contextvars
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import aiohttp
import asyncpg
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client

from services.dispatcher.senders import SendError
from services.dispatcher.whatsapp_rules import (
    classify_error,
    normalise_parts,
    parse_retry_after,
    template_variables,
    whatsapp_address,
    within_window,
)
from services.ingress_whatsapp.twilio_form import STATUS_PATH
from shared.redact import redact
from shared.settings import Settings
from subjects import OutboundMessage

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 15.0
DEFAULT_RETRY_AFTER = 5.0
# How far around an attempt a lookup accepts Twilio's timestamps (clocks differ a little).
LOOKUP_SLACK = timedelta(minutes=5)

# The twilio client drops response headers on errors; its HTTP client leaves Retry-After here.
_retry_after: contextvars.ContextVar[float | None] = contextvars.ContextVar("twilio_retry_after", default=None)
# The twilio client logs every request with its parameters (phone numbers) at INFO: keep it quiet.
_http_log = logging.getLogger("services.dispatcher.whatsapp.http")
_http_log.setLevel(logging.WARNING)


class _HttpClient(AsyncTwilioHttpClient):
    """aiohttp for the twilio client, with a default timeout and the Retry-After of a 429 kept."""

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        timeout = timeout if timeout is not None else self.timeout
        if auth is not None:  # as a header: aiohttp deprecates its BasicAuth helper
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {token}"}
        response = await super().request(method, url, params, data, headers, None, timeout, allow_redirects)
        retry_after = response.headers.get("Retry-After") if response.status_code == 429 else None
        _retry_after.set(parse_retry_after(retry_after))
        return response


@dataclass(frozen=True)
class Outgoing:
    """One provider message: a text part, or the approved template."""

    kind: Literal["text", "template"]
    body: str = ""
    variables: dict[str, str] | None = None


class PartStore:
    """The per-part send state in PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def kind_of(self, message_id: UUID) -> str | None:
        return await self.pool.fetchval(
            "SELECT kind FROM provider_message_parts WHERE message_id = $1 ORDER BY part_index LIMIT 1", message_id
        )

    async def prepare(self, message_id: UUID, kind: str, count: int) -> list[asyncpg.Record]:
        """Every part's row (created on the first attempt, all at once so that the reply's delivery
        status counts the parts not yet sent)."""
        await self.pool.execute(
            """INSERT INTO provider_message_parts (message_id, part_index, channel, kind)
               SELECT $1, i, 'whatsapp', $2 FROM generate_series(0, $3 - 1) AS i
               ON CONFLICT DO NOTHING""",
            message_id,
            kind,
            count,
        )
        return await self.rows(message_id)

    async def rows(self, message_id: UUID) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            """SELECT part_index, send_state, provider_message_id, sending_since
               FROM provider_message_parts WHERE message_id = $1 ORDER BY part_index""",
            message_id,
        )

    async def mark_sending(self, message_id: UUID, index: int) -> None:
        await self.pool.execute(
            """UPDATE provider_message_parts SET send_state = 'sending', sending_since = now(),
                   attempts = attempts + 1, updated_at = now()
               WHERE message_id = $1 AND part_index = $2""",
            message_id,
            index,
        )

    async def mark_sent(self, message_id: UUID, index: int, sid: str) -> None:
        await self.pool.execute(
            """UPDATE provider_message_parts SET send_state = 'sent', provider_message_id = $3, updated_at = now()
               WHERE message_id = $1 AND part_index = $2""",
            message_id,
            index,
            sid,
        )

    async def mark_pending(self, message_id: UUID, index: int) -> None:
        await self.pool.execute(
            """UPDATE provider_message_parts SET send_state = 'pending', updated_at = now()
               WHERE message_id = $1 AND part_index = $2 AND send_state = 'sending'""",
            message_id,
            index,
        )

    async def known(self, sids: list[str]) -> set[str]:
        """Which of these provider ids are already recorded as some part."""
        rows = await self.pool.fetch(
            """SELECT provider_message_id FROM provider_message_parts
               WHERE channel = 'whatsapp' AND provider_message_id = ANY($1::text[])""",
            sids,
        )
        return {row["provider_message_id"] for row in rows}

    async def last_inbound(self, customer_id: UUID) -> datetime | None:
        return await self.pool.fetchval(
            """SELECT max(created_at) FROM messages
               WHERE customer_id = $1 AND channel = 'whatsapp' AND direction = 'inbound'""",
            customer_id,
        )


class WhatsAppSender:
    channel = "whatsapp"
    # Twilio accepted it; its status callbacks move it on (sent, delivered, read).
    accepted_status = "queued"

    def __init__(
        self,
        settings: Settings,
        *,
        pool: asyncpg.Pool,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not settings.whatsapp_configured or not settings.twilio_whatsapp_from:
            raise ValueError("WhatsApp needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_WHATSAPP_FROM")
        self.client = Client(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            http_client=_HttpClient(timeout=timeout, logger=_http_log),
        )
        if settings.twilio_api_base_url:  # a staging or local stand-in instead of api.twilio.com
            self.client.api.base_url = settings.twilio_api_base_url.rstrip("/")
            self.client.edge = self.client.region = None  # they would rewrite the host name
        self.messages = self.client.api.v2010.account.messages
        self.sender = whatsapp_address(settings.twilio_whatsapp_from)
        base = settings.public_base_url
        self.status_callback = f"{base.rstrip('/')}{STATUS_PATH}" if base else None
        self.template_sid = settings.twilio_template_sid
        self.brand = settings.brand
        self.public_base_url = settings.public_base_url
        self.store = PartStore(pool)
        self.clock = clock

    async def aclose(self) -> None:
        await self.client.http_client.close()  # type: ignore[attr-defined]

    async def send(self, message: OutboundMessage) -> str:
        to = self._recipient(message)
        items = await self._plan(message)
        rows = await self.store.prepare(UUID(message.message_id), items[0].kind, len(items))
        if len(rows) != len(items):  # only if the way replies are cut changed between two attempts
            raise SendError(f"the reply has {len(items)} parts now and {len(rows)} before", permanent=True)
        sids = await self._reconcile(message, to, items, rows)
        for index, (item, sid) in enumerate(zip(items, sids, strict=True)):
            if sid is None:
                sids[index] = await self._create(message, index, to, item)
        return str(sids[0])

    async def find_sent(self, message: OutboundMessage) -> str | None:
        """The first part's sid when every part is known to have gone out (looking up the parts
        whose call had an unknown outcome), else ``None`` and ``send`` does the rest."""
        rows = await self.store.rows(UUID(message.message_id))
        if not rows:
            return None
        items = await self._plan(message)
        if len(rows) != len(items):
            return None  # send() explains
        sids = await self._reconcile(message, self._recipient(message), items, rows)
        return sids[0] if all(sids) else None

    def _recipient(self, message: OutboundMessage) -> str:
        if not message.recipient:
            raise SendError("the customer has no phone number to answer on WhatsApp", permanent=True)
        return whatsapp_address(message.recipient)

    async def _plan(self, message: OutboundMessage) -> list[Outgoing]:
        """Free-form parts inside the 24-hour window, else the template; an earlier attempt's choice stands."""
        kind = await self.store.kind_of(UUID(message.message_id))
        if kind is None:
            last = message.customer_last_message_at or await self.store.last_inbound(UUID(message.customer_id))
            kind = "text" if within_window(last, self.clock()) else "template"
        if kind == "text":
            parts = normalise_parts(message.parts, message.body_text)
            if not parts:
                raise SendError("the reply is empty", permanent=True)
            return [Outgoing("text", body=part) for part in parts]
        if not self.template_sid:
            raise SendError(
                "outside WhatsApp's 24-hour window and no approved template is configured (TWILIO_TEMPLATE_SID)",
                permanent=True,
            )
        variables = template_variables(
            brand=self.brand, ticket_id=message.ticket_id, public_base_url=self.public_base_url
        )
        return [Outgoing("template", variables=variables)]

    async def _reconcile(
        self, message: OutboundMessage, to: str, items: list[Outgoing], rows: list[asyncpg.Record]
    ) -> list[str | None]:
        """Each part's sid if it went out: recorded, or found at Twilio after an unknown outcome."""
        sids: list[str | None] = [row["provider_message_id"] if row["send_state"] == "sent" else None for row in rows]
        for index, (item, row) in enumerate(zip(items, rows, strict=True)):
            if row["send_state"] != "sending":
                continue
            since = (row["sending_since"] or self.clock()).astimezone(UTC)
            found = await self._find(message, to, item, since=since, exclude={s for s in sids if s})
            if found:
                await self.store.mark_sent(UUID(message.message_id), index, found)
                sids[index] = found
            else:
                await self.store.mark_pending(UUID(message.message_id), index)
        return sids

    async def _find(
        self, message: OutboundMessage, to: str, item: Outgoing, *, since: datetime, exclude: set[str]
    ) -> str | None:
        try:
            found = await self.messages.list_async(
                to=to, from_=self.sender, date_sent_after=(since - LOOKUP_SLACK).date().isoformat(), limit=200
            )
        except (TwilioException, aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SendError(f"could not look up an earlier attempt at Twilio: {_describe(exc)}") from exc
        taken = exclude | await self.store.known([str(record.sid) for record in found])
        for record in reversed(found):  # oldest first: the attempt's own message
            if record.sid in taken:  # another part, or another reply with the same text
                continue
            created = record.date_created
            if isinstance(created, datetime) and created < since - LOOKUP_SLACK:
                continue
            body = record.body or ""
            if (item.kind == "text" and body == item.body) or (item.kind == "template" and message.ticket_id in body):
                return str(record.sid)
        return None

    async def _create(self, message: OutboundMessage, index: int, to: str, item: Outgoing) -> str:
        message_id = UUID(message.message_id)
        fields: dict[str, Any] = {"to": to, "from_": self.sender}
        if self.status_callback:
            fields["status_callback"] = self.status_callback
        if item.kind == "text":
            fields["body"] = item.body
        else:
            fields["content_sid"] = self.template_sid
            fields["content_variables"] = json.dumps(item.variables)
        await self.store.mark_sending(message_id, index)
        _retry_after.set(None)
        try:
            created = await self.messages.create_async(**fields)
        except TwilioException as exc:
            status = int(getattr(exc, "status", 0) or 0)
            if 0 < status < 500:  # Twilio refused it: certainly not sent
                await self.store.mark_pending(message_id, index)
            kind = classify_error(status) if status else "retry"
            retry_after = (_retry_after.get() or DEFAULT_RETRY_AFTER) if kind == "rate_limited" else None
            raise SendError(_describe(exc), retry_after=retry_after, permanent=kind == "permanent") from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # No answer: Twilio may have accepted it. The part stays 'sending' and is looked up first.
            raise SendError(f"Twilio did not answer: {_describe(exc)}") from exc
        await self.store.mark_sent(message_id, index, str(created.sid))
        return str(created.sid)


def _describe(exc: BaseException) -> str:
    """An error for logs, spans and the outbox: Twilio's status, code and message, with any phone
    number or email in it masked."""
    status = getattr(exc, "status", None)
    if status is not None:
        code = getattr(exc, "code", None)
        text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", None) or ""
        return redact(f"Twilio answered {status} (error {code}): {text}")
    return redact(f"{type(exc).__name__}: {exc}") if str(exc) else type(exc).__name__
