"""Sending the tickets into the running stack as customers would, one channel ingress at a time.

- web: a real ``POST /support/submit``;
- WhatsApp / email: the channel's simulator (a signed Twilio webhook, a Gmail push against the fake Gmail API)
  when that module exists and the stack talks to the fake providers; otherwise the event is published to the
  channel's inbound subject exactly as its ingress does (``twilio:<MessageSid>``, ``gmail:<id>``).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

from services.eval.customers import Customer, email_inbound, web_form, whatsapp_inbound
from services.eval.dataset import Ticket
from shared.bus import Bus
from shared.settings import Settings
from subjects import InboundMessage, Subjects

log = logging.getLogger(__name__)

Simulator = Callable[..., Awaitable[object]]
_SIMULATORS = {
    "whatsapp": ("services.ingress_whatsapp.simulate", "simulate_whatsapp"),
    "email": ("services.ingress_gmail.simulate", "simulate_email"),
}


@dataclass(slots=True)
class Sent:
    """How a ticket went in, and what finds its inbound message in the database."""

    ticket: Ticket
    customer: Customer
    at: float  # wall clock, seconds
    via: str = ""
    ticket_id: str | None = None  # web: the ticket the form answered with
    event_id: str | None = None  # published events: the inbound message's event id
    error: str | None = None
    notes: list[str] = field(default_factory=list)


class TicketSender:
    def __init__(self, client: httpx.AsyncClient, bus: Bus, settings: Settings, *, simulate: bool) -> None:
        self.client = client
        self.bus = bus
        self.settings = settings
        self.simulators = {ch: _simulator(ch) for ch in _SIMULATORS} if simulate else {}
        self.notes: list[str] = []  # run-level notes for the report

    def route(self, channel: str) -> str:
        if channel == "web":
            return "web form"
        return "simulator" if self.simulators.get(channel) else "inbound subject"

    async def send(self, ticket: Ticket, customer: Customer) -> Sent:
        sent = Sent(ticket, customer, at=time.time(), via=self.route(ticket.channel))
        try:
            if ticket.channel == "web":
                await self._web(sent)
            elif self.simulators.get(ticket.channel):
                await self._simulate(sent)
            else:
                await self._publish(sent)
        except Exception as exc:  # one ticket that cannot be sent must not stop the run
            sent.error = f"{type(exc).__name__}: {exc}"[:300]
        return sent

    async def _web(self, sent: Sent) -> None:
        form = web_form(sent.ticket, sent.customer)
        sent.notes.extend(form.notes)
        response = await self.client.post("/support/submit", json=form.body)
        if response.status_code != 201:
            raise RuntimeError(f"the form answered {response.status_code}: {response.text[:200]}")
        sent.ticket_id = response.json()["ticket_id"]

    async def _simulate(self, sent: Sent) -> None:
        ticket, customer = sent.ticket, sent.customer
        simulator = self.simulators[ticket.channel]
        assert simulator is not None
        kwargs: dict[str, Any] = {"name": customer.name, "text": ticket.message}
        if ticket.channel == "whatsapp":
            kwargs["sender"] = customer.phone
        else:
            kwargs.update(sender=customer.email, subject=ticket.subject or ticket.message[:60])
        try:
            await simulator(self.client, self.settings, **kwargs)
        except Exception as exc:
            # Fall back to the inbound subject for this channel from now on, and say so in the report.
            self.simulators[ticket.channel] = None
            failure = f"{type(exc).__name__}: {exc}"
            note = f"{ticket.channel}: the simulator failed ({failure}); published to the inbound subject instead"
            self.notes.append(note[:300])
            log.warning("%s", note)
            sent.via = self.route(ticket.channel)
            await self._publish(sent)

    async def _publish(self, sent: Sent) -> None:
        now = datetime.now(UTC)
        event: InboundMessage
        if sent.ticket.channel == "whatsapp":
            event = whatsapp_inbound(sent.ticket, sent.customer, sid=f"SM{secrets.token_hex(16)}", now=now)
        else:
            event = email_inbound(sent.ticket, sent.customer, gmail_id=secrets.token_hex(8), now=now)
        await self.bus.publish_raw(Subjects.inbound(event.channel), msgspec.json.encode(event), msg_id=event.event_id)
        sent.event_id = event.event_id


def _simulator(channel: str) -> Simulator | None:
    module_name, function = _SIMULATORS[channel]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return None
    return getattr(module, function, None)


async def send_paced(sender: TicketSender, tickets: Sequence[tuple[Ticket, Customer]], *, rate: float) -> list[Sent]:
    """Send in the dataset's order (a customer writing twice writes in that order), at most ``rate`` per second."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    sent: list[Sent] = []
    for i, (ticket, customer) in enumerate(tickets):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sent.append(await sender.send(ticket, customer))
    return sent
