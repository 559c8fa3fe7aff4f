"""Who sends each ticket, and what that customer types into each channel. Plain rules, no I/O.

- Every ticket gets its own customer, unless the dataset reuses an identifier on purpose: the same email
  address or phone number under the same name is one person writing again. The same identifier under
  different names is taken as a placeholder, and the later tickets get an address of their own.
- Missing or unusable identifiers are replaced by reserved ones (``eval-<id>@example.com``; UK drama
  numbers ``+44 7700 900xxx``), so that every ticket reaches the agent.
- The web form has rules a customer meets in the browser: a subject of 5 to 200 characters (a short one is
  taken from the first words of the message), a message of 10 to 5000 characters (a short one is prefixed
  with its subject), one of the form's categories (anything else is "general").
- WhatsApp has no subject: only the message is sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.eval.dataset import Ticket
from services.identity.normalize import InvalidIdentifier, normalize_email, normalize_phone
from services.ingress_web.form import CATEGORIES, MESSAGE_MAX, MESSAGE_MIN, validate_submission
from subjects import InboundMessage

SUBJECT_MIN, SUBJECT_MAX = 5, 200
SUBJECT_FROM_MESSAGE_CHARS = 60
FALLBACK_SUBJECT = "Support request"
FALLBACK_PADDING = "(no further details)"
CATEGORY_ALIASES = {"bug": "bug_report", "bugs": "bug_report", "payment": "billing", "payments": "billing"}
_SYNTHETIC_PHONE_BASE = 447700900000  # Ofcom's range for drama: never a real subscriber
_SYNTHETIC_PHONES = 1000


@dataclass(frozen=True, slots=True)
class Customer:
    name: str
    email: str | None  # on the web form and email
    phone: str | None  # E.164; on WhatsApp, and on the web form when the dataset gives one


def assign_customers(tickets: Sequence[Ticket], *, default_region: str = "US") -> dict[str, Customer]:
    """The customer who sends each ticket, by ticket id, with only the identifiers its channel carries."""
    owners: dict[tuple[str, str], str] = {}  # identifier -> the name that first used it
    phones = _PhoneBook()
    customers: dict[str, Customer] = {}
    for ticket in tickets:
        name = _name(ticket)
        email = phone = None
        if ticket.channel in ("email", "web"):
            email = _usable_email(ticket.customer_email)
            if email is None or _claimed(owners, ("email", email), name):
                email = _synthetic_email(ticket.id, owners)
            owners.setdefault(("email", email), name.casefold())
        if ticket.channel in ("whatsapp", "web"):
            phone = _usable_phone(ticket.customer_phone, default_region)
            if phone is not None and _claimed(owners, ("phone", phone), name):
                phone = None
            if phone is None and ticket.channel == "whatsapp":
                phone = phones.next_free(owners)
            if phone is not None:
                owners.setdefault(("phone", phone), name.casefold())
        customers[ticket.id] = Customer(name=name, email=email, phone=phone)
    return customers


def _name(ticket: Ticket) -> str:
    name = " ".join(ticket.customer_name.split())[:200]
    return name if len(name) >= 2 else f"Customer {ticket.id}"


def _claimed(owners: dict[tuple[str, str], str], key: tuple[str, str], name: str) -> bool:
    owner = owners.get(key)
    return owner is not None and owner != name.casefold()


def _usable_email(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        email = normalize_email(raw)
    except InvalidIdentifier:
        return None
    _, errors = validate_submission({"name": "xx", "email": email, "subject": "xxxxx", "message": "x" * MESSAGE_MIN})
    return None if "email" in errors else email


def _usable_phone(raw: str | None, default_region: str) -> str | None:
    if not raw:
        return None
    try:
        return normalize_phone(raw, default_region=default_region)
    except InvalidIdentifier:
        return None


def _synthetic_email(ticket_id: str, owners: dict[tuple[str, str], str]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", ticket_id.lower()).strip("-")[:40] or "ticket"
    candidate, n = f"eval-{slug}@example.com", 1
    while ("email", candidate) in owners:
        n += 1
        candidate = f"eval-{slug}-{n}@example.com"
    return candidate


class _PhoneBook:
    def __init__(self) -> None:
        self.cursor = 0

    def next_free(self, owners: dict[tuple[str, str], str]) -> str:
        while True:
            n = self.cursor
            self.cursor += 1
            base = _SYNTHETIC_PHONE_BASE + n if n < _SYNTHETIC_PHONES else 15550000000 + n  # then US 555 numbers
            phone = f"+{base}"
            if ("phone", phone) not in owners:
                return phone


@dataclass(frozen=True, slots=True)
class WebForm:
    body: dict[str, str]
    notes: tuple[str, ...] = ()


def web_form(ticket: Ticket, customer: Customer) -> WebForm:
    """The support-form submission; raises ValueError when even the adjusted fields are refused."""
    notes: list[str] = []
    subject = " ".join(ticket.subject.split())
    if len(subject) < SUBJECT_MIN:
        subject = first_words(ticket.message, SUBJECT_FROM_MESSAGE_CHARS)
        if len(subject) < SUBJECT_MIN:
            subject = FALLBACK_SUBJECT
        notes.append("subject taken from the message (the form needs 5 characters)")
    elif len(subject) > SUBJECT_MAX:
        subject = first_words(subject, SUBJECT_MAX)
        notes.append(f"subject cut to {SUBJECT_MAX} characters")
    message = ticket.message
    if len(message) < MESSAGE_MIN:
        own_subject = len(ticket.subject.strip()) >= SUBJECT_MIN
        message = f"{subject}: {message}" if own_subject else f"{message} {FALLBACK_PADDING}"
        notes.append(f"message padded to the form's {MESSAGE_MIN} characters")
    elif len(message) > MESSAGE_MAX:
        message = first_words(message, MESSAGE_MAX)
        notes.append(f"message cut to {MESSAGE_MAX} characters")
    body = {
        "name": customer.name,
        "email": customer.email or "",
        "subject": subject,
        "category": form_category(ticket.category),
        "message": message,
    }
    if customer.phone:
        body["phone"] = customer.phone
    _, errors = validate_submission(body)
    if errors:
        raise ValueError("the form refuses it: " + "; ".join(f"{k}: {v}" for k, v in sorted(errors.items())))
    return WebForm(body, tuple(notes))


def form_category(category: str | None) -> str:
    known = {value for value, _ in CATEGORIES}
    if category in known:
        return category
    return CATEGORY_ALIASES.get(category or "", "general")


def first_words(text: str, limit: int) -> str:
    """At most ``limit`` characters of ``text`` on one line, cut between words when it is longer."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    cut = line[: limit + 1].rsplit(" ", 1)[0] if " " in line[: limit + 1] else ""
    return (cut if len(cut) >= limit // 2 else line[:limit]).rstrip(" ,;:-")


def whatsapp_inbound(ticket: Ticket, customer: Customer, *, sid: str, now: datetime) -> InboundMessage:
    """What ingress-whatsapp publishes for a Twilio webhook with this MessageSid."""
    return InboundMessage(
        event_id=f"twilio:{sid}",
        channel="whatsapp",
        received_at=now,
        body=ticket.message,
        sender_name=customer.name,
        phone=customer.phone,
        provider_message_id=sid,
    )


def email_inbound(ticket: Ticket, customer: Customer, *, gmail_id: str, now: datetime) -> InboundMessage:
    """What ingress-gmail publishes for a new inbound Gmail message with this id."""
    subject = " ".join(ticket.subject.split()) or first_words(ticket.message, SUBJECT_FROM_MESSAGE_CHARS)
    return InboundMessage(
        event_id=f"gmail:{gmail_id}",
        channel="email",
        received_at=now,
        body=ticket.message,
        sender_name=customer.name,
        email=customer.email,
        subject=subject,
        provider_message_id=gmail_id,
    )
