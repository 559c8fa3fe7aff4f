"""`fte bench identity`: customers writing over 7 simulated days on three channels, through a fresh stack.

A generator makes N people with realistic identifiers (emails in varying case and whitespace, phone
numbers from eight countries in five formats, the ``whatsapp:`` prefix and Mexico's legacy
``+52 1`` form, colleagues sharing a company domain, people sharing a first name or even a full
name) and journeys across the web form, WhatsApp and Gmail. Web messages go through HTTP
(``POST /support/submit``); WhatsApp and email are published as ``InboundMessage`` events exactly
as their ingress does, with ``received_at`` spread over 7 days. Each person's messages are sent in
order (the next once identity has handled the previous, as minutes or hours apart in real life);
people write concurrently. The figures come from the database afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import msgspec
import phonenumbers
from phonenumbers import PhoneNumberFormat

from services.bench_e2e import QUESTIONS, RunningStack, percentile
from shared.bus import Bus, Publication
from subjects import InboundMessage, Subjects, WorkItem

DAYS = 7
FIRST_NAMES = (
    "Ana", "Ben", "Chen", "Dara", "Elif", "Femi", "Greta", "Hugo", "Ines", "Jonas", "Kiri", "Lena", "Mateo",
    "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vera", "Wei", "Ximena", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Ruiz", "Okafor", "Nakamura", "Schmidt", "Dubois", "Rossi", "Silva", "Kowalski", "Haddad", "Novak", "Patel",
    "Andersen", "Murphy", "Garcia", "Ivanova", "Kim", "Mensah", "Lopez", "Berg", "Costa", "Yilmaz", "Singh",
)  # fmt: skip
SURNAME_ENDINGS = ("", "son", "ez", "ova", "berg", "ini", "sen", "ski", "ard", "et", "ley", "ton", "ner", "ov", "ic")
PUBLIC_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "gmx.de")
REGIONS = (("US", 50), ("GB", 10), ("DE", 8), ("FR", 7), ("ES", 6), ("BR", 7), ("IN", 7), ("MX", 5))
# journey: (weight, linkable by the rules). Unlinkable ones must stay apart (a suggestion at most).
JOURNEYS = {
    "web only": (10, True),
    "whatsapp only": (10, True),
    "email only": (10, True),
    "web, whatsapp, email": (20, True),
    "whatsapp, web, email": (10, True),
    "email, web, whatsapp": (10, True),
    "web, email": (8, True),
    "whatsapp mentions email, email vouches": (8, True),
    "web and whatsapp at the same moment, then email": (8, True),
    "whatsapp then email, nothing links them": (3, False),
    "whatsapp mentions email, email does not vouch": (3, False),
}


@dataclass
class Person:
    index: int
    first: str
    name: str
    email: str  # canonical form
    phone: str  # E.164
    region: str
    journey: str
    linkable: bool
    colleague: bool = False


@dataclass
class Message:
    person: int
    channel: str
    at: datetime
    body: str
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    with_next: bool = False  # sent at the same moment as the next one
    event_id: str = ""


@dataclass
class Workload:
    people: list[Person]
    messages: list[list[Message]]  # per person, in order
    stats: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------- generator


def _phone(rng: random.Random, region: str, used: set[str]) -> str:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    national = str(example.national_number)
    while True:
        keep = max(2, len(national) - 6)
        digits = national[:keep] + "".join(str(rng.randint(0, 9)) for _ in range(len(national) - keep))
        number = phonenumbers.PhoneNumber(country_code=example.country_code, national_number=int(digits))
        e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(number) and e164 not in used:
            used.add(e164)
            return e164


def phone_variants(e164: str, default_region: str = "US") -> list[str]:
    """Five ways people write a number; the national form only where the default region reads it."""
    number = phonenumbers.parse(e164)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    domestic = phonenumbers.region_code_for_number(number) == default_region
    digits = e164[1:]
    return [
        e164,
        international,
        national if domestic else "00 " + international[1:],
        "+" + ".".join((str(number.country_code), digits[len(str(number.country_code)) :])),
        international.replace(" ", "-"),
    ]


def whatsapp_sender(e164: str) -> str:
    """Twilio's ``From``: ``whatsapp:+…``; WhatsApp still reports Mexican mobiles as +52 1 …"""
    if e164.startswith("+52"):
        return f"whatsapp:+521{e164[3:]}"
    return f"whatsapp:{e164}"


def email_variant(rng: random.Random, email: str) -> str:
    local, domain = email.split("@")
    return rng.choice(
        [
            email,
            email.upper(),
            f"{local.title()}@{domain}",
            f"  {email} ",
            f"{local}@{domain.upper()}",
        ]
    )


def _people(rng: random.Random, count: int) -> list[Person]:
    used_phones: set[str] = set()
    used_emails: set[str] = set()
    journeys = list(JOURNEYS)
    weights = [JOURNEYS[j][0] for j in journeys]
    regions, region_weights = zip(*REGIONS, strict=True)
    people: list[Person] = []
    company: tuple[str, int] | None = None  # (domain, colleagues left)
    for index in range(count):
        first = rng.choice(FIRST_NAMES)
        name = f"{first} {rng.choice(LAST_NAMES)}{rng.choice(SURNAME_ENDINGS)}"
        if people and rng.random() < 0.03:  # two different people with the very same full name
            name = rng.choice(people).name
            first = name.split()[0]
        colleague = False
        if company is None and rng.random() < 0.08:
            company = (f"{rng.choice(LAST_NAMES).lower()}-{index}.example", rng.randint(2, 5))
        if company is not None:
            domain, left = company
            colleague = True
            company = (domain, left - 1) if left > 1 else None
        else:
            domain = rng.choice(PUBLIC_DOMAINS)
        local = f"{first}.{name.split()[-1]}".lower()
        email = f"{local}@{domain}"
        n = 2
        while email in used_emails:
            email = f"{local}{n}@{domain}"
            n += 1
        used_emails.add(email)
        region = rng.choices(regions, region_weights)[0]
        journey = rng.choices(journeys, weights)[0]
        people.append(
            Person(index, first, name, email, _phone(rng, region, used_phones), region, journey, JOURNEYS[journey][1])
        )
        people[-1].colleague = colleague
    return people


def _timeline(rng: random.Random, person: Person, start: datetime) -> list[Message]:
    """The person's messages in time order; each step after the first comes minutes to hours later."""
    clock = [start + timedelta(seconds=rng.uniform(0, (DAYS - 1) * 86400))]
    profile = person.first if rng.random() < 0.5 else person.name  # WhatsApp profile names vary
    steps: list[Message] = []

    def at() -> datetime:
        if steps and not steps[-1].with_next:
            clock[0] += timedelta(minutes=rng.uniform(5, 30 * 60))
        return clock[0]

    def web(with_phone: bool = True, with_next: bool = False) -> None:
        phone = rng.choice(phone_variants(person.phone)) if with_phone else None
        email = email_variant(rng, person.email)
        steps.append(Message(person.index, "web", at(), _question(rng), email, phone, person.name, with_next))

    def whatsapp(body: str | None = None) -> None:
        sender = whatsapp_sender(person.phone)
        steps.append(Message(person.index, "whatsapp", at(), body or _question(rng), None, sender, profile))

    def email(body: str | None = None) -> None:
        address = email_variant(rng, person.email)
        steps.append(Message(person.index, "email", at(), body or _question(rng), address, None, person.name))

    mention = f"Hi! My email is {email_variant(rng, person.email).strip()} in case you need it. {_question(rng)}"
    vouch = f"Hello, I also wrote to you on WhatsApp from {rng.choice(phone_variants(person.phone))}. {_question(rng)}"
    journey = person.journey
    if journey == "web only":
        for _ in range(rng.randint(1, 3)):
            web(rng.random() < 0.5)
    elif journey == "whatsapp only":
        for _ in range(rng.randint(1, 4)):
            whatsapp()
    elif journey == "email only":
        for _ in range(rng.randint(1, 3)):
            email()
    elif journey == "web, whatsapp, email":
        web()
        whatsapp()
        email()
    elif journey == "whatsapp, web, email":
        whatsapp()
        web()
        email()
    elif journey == "email, web, whatsapp":
        email()
        web()
        whatsapp()
    elif journey == "web, email":
        web(rng.random() < 0.5)
        email()
    elif journey == "whatsapp mentions email, email vouches":
        whatsapp(mention)
        email(vouch)
    elif journey == "web and whatsapp at the same moment, then email":
        web(with_next=True)
        whatsapp()
        email()
    elif journey == "whatsapp then email, nothing links them":
        whatsapp()
        email()
    else:  # "whatsapp mentions email, email does not vouch"
        whatsapp(mention)
        email()
    if rng.random() < 0.3:  # coming back once more on the last channel
        {"web": web, "whatsapp": whatsapp, "email": email}[steps[-1].channel]()
    return steps


def _question(rng: random.Random) -> str:
    return rng.choice(QUESTIONS)


def generate(count: int, *, seed: int, now: datetime | None = None) -> Workload:
    rng = random.Random(seed)
    start = (now or datetime.now(UTC)) - timedelta(days=DAYS)
    people = _people(rng, count)
    messages = [_timeline(rng, person, start) for person in people]
    firsts = Counter(p.first for p in people)
    names = Counter(p.name for p in people)
    stats = {
        "people": len(people),
        "messages": sum(len(m) for m in messages),
        "multi-channel people": sum(len({m.channel for m in ms}) > 1 for ms in messages),
        "colleagues on a shared company domain": sum(p.colleague for p in people),
        "people sharing a first name with someone": sum(firsts[p.first] > 1 for p in people),
        "people sharing a full name with someone": sum(names[p.name] > 1 for p in people),
        "people whose journey cannot be linked by the rules": sum(not p.linkable for p in people),
    }
    return Workload(people, messages, stats)


# ---------------------------------------------------------------------------------------- sending


class Sender:
    """Sends one person's messages in order, each after identity handled the previous one."""

    def __init__(self, client: httpx.AsyncClient, bus: Bus) -> None:
        self.client = client
        self.bus = bus
        self.done: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.latency_ms: list[float] = []
        self.failures = 0

    async def on_work(self, msg: object) -> None:
        item = msgspec.json.decode(msg.data, type=WorkItem)  # type: ignore[attr-defined]
        self.done[item.inbound_event_id].set()

    async def send(self, message: Message) -> None:
        began = time.perf_counter()
        if message.channel == "web":
            body = {
                "name": message.name,
                "email": message.email,
                "phone": message.phone or "",
                "subject": "A question about my account",
                "message": message.body,
                "category": "general",
            }
            response = await self.client.post("/support/submit", json=body)
            if response.status_code != 201:
                self.failures += 1
                return
            message.event_id = f"web:{response.json()['ticket_id']}"
        else:
            event = _inbound(message)
            message.event_id = event.event_id
            await self.bus.publish(Publication(Subjects.inbound(event.channel), event))
        try:
            await asyncio.wait_for(self.done[message.event_id].wait(), timeout=120)
        except TimeoutError:
            self.failures += 1
            return
        self.latency_ms.append((time.perf_counter() - began) * 1000)

    async def person(self, messages: list[Message], slots: asyncio.Semaphore) -> None:
        async with slots:
            i = 0
            while i < len(messages):
                batch = [messages[i]]
                while batch[-1].with_next and i + len(batch) < len(messages):
                    batch.append(messages[i + len(batch)])
                await asyncio.gather(*(self.send(m) for m in batch))
                i += len(batch)


def _inbound(message: Message) -> InboundMessage:
    """The event as ingress-whatsapp (``twilio:<MessageSid>``) or ingress-gmail (``gmail:<id>``) publishes it."""
    if message.channel == "whatsapp":
        sid = "SM" + uuid.uuid4().hex
        return InboundMessage(
            event_id=f"twilio:{sid}",
            channel="whatsapp",
            received_at=message.at,
            body=message.body,
            sender_name=message.name,
            phone=message.phone,
            provider_message_id=sid,
        )
    gmail_id = uuid.uuid4().hex[:16]
    return InboundMessage(
        event_id=f"gmail:{gmail_id}",
        channel="email",
        received_at=message.at,
        body=message.body,
        sender_name=message.name,
        email=message.email,
        subject="A question about my account",
        provider_message_id=gmail_id,
        thread_id=gmail_id,
    )


# ---------------------------------------------------------------------------------------- scoring


@dataclass
class Score:
    linkable_messages: int = 0
    linkable_correct: int = 0
    cross_channel_messages: int = 0
    cross_channel_correct: int = 0
    all_messages: int = 0
    all_correct: int = 0
    false_merges: int = 0  # customers holding messages of more than one person
    people_falsely_merged: int = 0
    unlinkable_people: int = 0
    unlinkable_kept_apart: int = 0
    unlinkable_with_suggestion: int = 0
    suggestions: dict[str, int] = field(default_factory=dict)
    missed_by_journey: Counter[str] = field(default_factory=Counter)  # linkable messages misplaced


async def score(database_url: str, workload: Workload) -> Score:
    conn = await asyncpg.connect(database_url)
    try:
        ids = [m.event_id for ms in workload.messages for m in ms if m.event_id]
        owner = {
            r["event_id"]: r["customer_id"]
            for r in await conn.fetch(
                "SELECT event_id, customer_id FROM messages WHERE event_id = ANY($1::text[])", ids
            )
        }
        rows = await conn.fetch("SELECT id, merged_into FROM customers WHERE merged_into IS NOT NULL")
        merged = {r["id"]: r["merged_into"] for r in rows}
        rows = await conn.fetch("SELECT kind, value, customer_id FROM customer_identifiers")
        identifiers = {(r["kind"], r["value"]): r["customer_id"] for r in rows}
        suggestions = await conn.fetch(
            "SELECT kind, customer_id, other_customer_id, identifier_kind, identifier_value FROM link_suggestions"
        )
    finally:
        await conn.close()

    def survivor(customer: object) -> object:
        for _ in range(64):
            if customer not in merged:
                return customer
            customer = merged[customer]
        return customer

    result = Score(suggestions=dict(Counter(r["kind"] for r in suggestions)))
    people_of: dict[object, set[int]] = defaultdict(set)
    customers_of: dict[int, list[object]] = {}
    for person, messages in zip(workload.people, workload.messages, strict=True):
        customers_of[person.index] = [survivor(owner.get(m.event_id)) for m in messages]
        for customer in customers_of[person.index]:
            people_of[customer].add(person.index)
    impure = {c for c, persons in people_of.items() if len(persons) > 1 and c is not None}
    result.false_merges = len(impure)
    result.people_falsely_merged = len({p for c in impure for p in people_of[c]})
    pairs = set()
    for r in suggestions:
        other = r["other_customer_id"] or identifiers.get((r["identifier_kind"], r["identifier_value"]))
        if other is not None:
            pairs.add(frozenset((survivor(r["customer_id"]), survivor(other))))
    for person, messages in zip(workload.people, workload.messages, strict=True):
        customers = customers_of[person.index]
        home = customers[0]
        correct = [c == home and c is not None and c not in impure for c in customers]
        result.all_messages += len(messages)
        result.all_correct += sum(correct)
        multi = len({m.channel for m in messages}) > 1
        if person.linkable:
            result.linkable_messages += len(messages)
            result.linkable_correct += sum(correct)
            result.missed_by_journey[person.journey] += len(correct) - sum(correct)
            if multi:
                result.cross_channel_messages += len(messages)
                result.cross_channel_correct += sum(correct)
        else:
            result.unlinkable_people += 1
            distinct = set(customers)
            result.unlinkable_kept_apart += len(distinct) > 1 and not (distinct & impure)
            result.unlinkable_with_suggestion += frozenset(distinct) in pairs
    return result


# ---------------------------------------------------------------------------------------- the run


async def run(args: argparse.Namespace) -> int:
    workload = generate(args.customers, seed=args.seed)
    print("workload:")
    for key, value in workload.stats.items():
        _line(key, value)
    base_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="fte-bench-identity"))
    stack = RunningStack(Path(base_dir) / "data")
    print(f"\nstarting a fresh stack in {stack.data_dir} ...", flush=True)
    stack.start()
    try:
        bus = await Bus.connect(stack.nats_url, name="bench-identity")
        limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
        async with httpx.AsyncClient(base_url=stack.base, timeout=30, limits=limits) as client:
            sender = Sender(client, bus)
            sub = await bus.nc.subscribe(Subjects.work_all, cb=sender.on_work)
            slots = asyncio.Semaphore(args.concurrency)
            total = workload.stats["messages"]
            print(f"sending {total} messages ({args.concurrency} people at a time) ...", flush=True)
            began = time.perf_counter()
            await asyncio.gather(*(sender.person(ms, slots) for ms in workload.messages))
            elapsed = time.perf_counter() - began
            await sub.unsubscribe()
            handler_ms = await _mean_handle_ms(client)
        await bus.close()
        result = await score(stack.database_url, workload)
    finally:
        stack.stop()

    handled = len(sender.latency_ms)
    latency = sender.latency_ms
    print("\nthroughput:")
    _line("messages handled by identity", f"{handled} in {elapsed:.1f} s = {handled / elapsed:.0f} messages/s")
    _line("failures (not sent or not handled)", sender.failures)
    _line("mean time in the identity handler", f"{handler_ms.get('identity', float('nan')):.1f} ms")
    _line("mean time in the agent handler (same process)", f"{handler_ms.get('agent', float('nan')):.1f} ms")
    _line(
        "send -> identity done",
        " ".join(f"p{q} {percentile(latency, q):.0f} ms" for q in (50, 95, 99)),
    )
    print("\nidentification:")
    _line(
        "cross-channel accuracy (multi-channel, linkable)",
        _ratio(result.cross_channel_correct, result.cross_channel_messages),
    )
    _line("accuracy, all linkable journeys", _ratio(result.linkable_correct, result.linkable_messages))
    _line("accuracy, every message incl. unlinkable ones", _ratio(result.all_correct, result.all_messages))
    for journey, missed in sorted(result.missed_by_journey.items()):
        if missed:
            _line(f"  missed in '{journey}'", missed)
    _line("false merges (customers / people)", f"{result.false_merges} / {result.people_falsely_merged}")
    _line("unlinkable journeys kept apart", f"{result.unlinkable_kept_apart}/{result.unlinkable_people}")
    _line("  ... of which joined by a link suggestion", result.unlinkable_with_suggestion)
    _line("link suggestions recorded", ", ".join(f"{k} {v}" for k, v in sorted(result.suggestions.items())))
    return 0 if result.false_merges == 0 and sender.failures == 0 else 1


async def _mean_handle_ms(client: httpx.AsyncClient) -> dict[str, float]:
    """Mean handling time per consumer, from the stack's Prometheus histogram."""
    text = (await client.get("/metrics")).text
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(r'fte_message_handle_seconds_(sum|count)\{consumer="([^"]+)"\} (\S+)', line)
        if match:
            kind, consumer, value = match.groups()
            (sums if kind == "sum" else counts)[consumer] = float(value)
    return {c: 1000 * sums[c] / counts[c] for c in sums if counts.get(c)}


def _line(label: str, value: object) -> None:
    print(f"  {label:50s} {value}")


def _ratio(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f} % ({part}/{whole} messages)" if whole else "n/a"
