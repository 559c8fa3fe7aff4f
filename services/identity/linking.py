"""Identity rules as plain functions (no I/O). docs/identity.md explains them for people.

- A message *proves together* the identifiers in its own fields (the form's email and phone; the
  WhatsApp sender's phone; the Gmail sender's address): unknown ones are linked to its customer.
- The channel decides what is *verified*: Twilio authenticates a WhatsApp sender's phone, the
  mailbox a Gmail sender's address; nothing on the web form is verified.
- Identifiers mentioned in the text ("my email is ...") and the same full name on two channels are
  only *suggestions*. Two identifiers of one message owned by two customers are a *conflict*: the
  message goes to the owner of the channel's strongest identifier and a suggestion is recorded.
- A suggestion "customer A claimed Y" is *confirmed* when a message whose channel verifies Y
  self-mentions an identifier verified on A (each side vouches for the other), or when Y becomes
  A's through a rule that links automatically (the form giving Y together with A's identifier).
- Email domains are never evidence (colleagues share them); a first name alone is never evidence.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from services.identity.normalize import InvalidIdentifier, normalize_email, normalize_phone

Kind = Literal["email", "phone"]
Key = tuple[str, str]

# Which identifier kinds a channel's provider authenticates.
VERIFIED_BY_CHANNEL: Mapping[str, frozenset[str]] = {
    "whatsapp": frozenset({"phone"}),  # Twilio: the sender's WhatsApp number
    "email": frozenset({"email"}),  # Gmail: the mailbox received it from that address
    "web": frozenset(),  # anyone can type anything into a form
}
# The strongest identifier of each channel first: it decides a conflict.
PREFERENCE: Mapping[str, tuple[str, ...]] = {
    "whatsapp": ("phone", "email"),
    "email": ("email", "phone"),
    "web": ("email", "phone"),
}


@dataclass(frozen=True, slots=True)
class Claim:
    """A normalised identifier a message carries in its own fields."""

    kind: Kind
    value: str
    verified: bool

    @property
    def key(self) -> Key:
        return (self.kind, self.value)


@dataclass(frozen=True, slots=True)
class Owner:
    customer_id: UUID
    verified: bool


@dataclass(frozen=True, slots=True)
class Resolution:
    """Whose message it is. ``customer_id`` None means a new customer."""

    customer_id: UUID | None
    attach: tuple[Claim, ...] = ()  # unowned claims: linked to the customer (given together)
    conflicts: tuple[tuple[Claim, UUID], ...] = ()  # claims another customer owns: suggestion only


@dataclass(frozen=True, slots=True)
class Mention:
    """An identifier the customer says is theirs in the text ("my email is ...")."""

    kind: Kind
    value: str
    excerpt: str

    @property
    def key(self) -> Key:
        return (self.kind, self.value)


@dataclass(frozen=True, slots=True)
class OpenSuggestion:
    id: int
    customer_id: UUID  # who made the claim
    identifier: Key  # what they claimed
    kind: str = "mention"
    sender_verified: bool = False  # the claiming message came from a verified identifier


def claims_of(
    channel: str, *, email: str | None, phone: str | None, default_region: str
) -> tuple[list[Claim], list[InvalidIdentifier]]:
    """Normalised identifiers of a message's own fields, with the channel's verified flag; and
    the identifiers that could not be normalised (dropped)."""
    verified = VERIFIED_BY_CHANNEL.get(channel, frozenset())
    claims: list[Claim] = []
    dropped: list[InvalidIdentifier] = []
    if email:
        try:
            claims.append(Claim("email", normalize_email(email), "email" in verified))
        except InvalidIdentifier as exc:
            dropped.append(exc)
    if phone:
        try:
            claims.append(Claim("phone", normalize_phone(phone, default_region=default_region), "phone" in verified))
        except InvalidIdentifier as exc:
            dropped.append(exc)
    return claims, dropped


def strongest_first(claims: Iterable[Claim], channel: str) -> list[Claim]:
    """Verified claims first, then in the channel's order of preference."""
    order = PREFERENCE.get(channel, ("email", "phone"))
    return sorted(claims, key=lambda c: (not c.verified, order.index(c.kind) if c.kind in order else len(order)))


def resolve(claims: Sequence[Claim], owners: Mapping[Key, Owner], channel: str) -> Resolution:
    """The customer of a message: the owner of its strongest owned identifier, else a new one.

    Unowned claims are attached (the message gave them together). A claim owned by another
    customer is never moved: that is a conflict, recorded as a suggestion.
    """
    ranked = strongest_first(claims, channel)
    owned = [c for c in ranked if c.key in owners]
    unowned = tuple(c for c in ranked if c.key not in owners)
    if not owned:
        return Resolution(None, attach=unowned)
    customer_id = owners[owned[0].key].customer_id
    conflicts = tuple((c, owners[c.key].customer_id) for c in owned if owners[c.key].customer_id != customer_id)
    return Resolution(customer_id, attach=unowned, conflicts=conflicts)


def confirming(
    suggestions: Iterable[OpenSuggestion],
    claims: Sequence[Claim],
    mentions: Sequence[Mention],
    owners: Mapping[Key, Owner],
) -> list[OpenSuggestion]:
    """Suggestions this message confirms by mutual verified claims.

    A suggestion "A claimed Y" (a mention written from a verified identifier of A) is confirmed
    when this message is *verified* from Y and its text self-mentions an identifier that is
    *verified* on A: both ends are proven by their channel and each points at the other. A claim
    typed into the web form (or a conflict it caused) is never confirmed this way. A one-sided
    claim never links (it would let anyone who types someone else's address read their history).
    """
    verified_keys = {c.key for c in claims if c.verified}
    vouched = {owners[m.key].customer_id for m in mentions if m.key in owners and owners[m.key].verified}
    return [
        s
        for s in suggestions
        if s.kind == "mention" and s.sender_verified and s.identifier in verified_keys and s.customer_id in vouched
    ]


def linked_by_message(suggestions: Iterable[OpenSuggestion], customer_id: UUID, attached: Iterable[Key]) -> list[int]:
    """Suggestions whose claimed identifier this message has just linked to the claimant (the
    form giving it together with the claimant's own identifier)."""
    keys = set(attached)
    return [s.id for s in suggestions if s.customer_id == customer_id and s.identifier in keys]


def mention_suggestions(
    mentions: Iterable[Mention], owners: Mapping[Key, Owner], customer_id: UUID
) -> list[tuple[Mention, UUID | None]]:
    """Self-mentions that are not already the customer's: (mention, its current owner or None)."""
    found: list[tuple[Mention, UUID | None]] = []
    for mention in mentions:
        owner = owners.get(mention.key)
        if owner is None or owner.customer_id != customer_id:
            found.append((mention, owner.customer_id if owner else None))
    return found


def name_key(name: str | None) -> str | None:
    """The comparable form of a full name (accents, case and punctuation dropped), or None when it
    has fewer than two words of two letters or more: a first name alone is never evidence."""
    if not name:
        return None
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch) and ch not in "'\u2019").casefold()
    words = "".join(ch if ch.isalpha() else " " for ch in letters).split()
    words = [w for w in words if len(w) >= 2]
    if len(words) < 2:
        return None
    return " ".join(words)
