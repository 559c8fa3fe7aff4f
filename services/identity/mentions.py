"""Identifiers a customer says are theirs in the text of a message ("my email is ana@x.com").

Only first-person claims count: "my colleague's email is ..." or "our office number is ..." are
not about the sender. Pure functions, no I/O; what a mention may lead to is decided in linking.py.
"""

from __future__ import annotations

import re

from services.identity.linking import Mention
from services.identity.normalize import InvalidIdentifier, normalize_email, normalize_phone

_EMAIL = re.compile(r"(?<![\w.+'-])[\w.+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
# A sentence ends at . ! ? or a line break followed by space (dots inside addresses do not end one).
_SENTENCE_END = re.compile(r"[.!?;](?=\s)|\n")
_WINDOW = 60
# A phone-looking run (what normalize_phone accepts: prefixes, +, 00, brackets, separators); the
# normaliser decides whether it is a possible number.
_PHONE = re.compile(r"(?<![\w+@.])(?:(?:whatsapp|tel):)?\+?\(?\d[\d \t().\-/]{5,22}\d(?![\w@])", re.IGNORECASE)

_SELF = frozenset({"my", "me", "mine", "myself", "i", "i'm", "im", "i've", "i'd", "i'll"})
# Words that make the identifier someone else's, an old one, or not an identifier at all.
_NOT_MINE = frozenset(
    {
        "colleague",
        "colleagues",
        "coworker",
        "coworkers",
        "workmate",
        "boss",
        "manager",
        "wife",
        "husband",
        "partner",
        "friend",
        "son",
        "daughter",
        "mother",
        "father",
        "mom",
        "mum",
        "dad",
        "brother",
        "sister",
        "assistant",
        "team",
        "his",
        "her",
        "their",
        "our",
        "he",
        "she",
        "they",
        "company",
        "office",
        "client",
        "customer",
        "not",
        "old",
        "former",
        "previous",
        "longer",
        "order",
        "invoice",
        "account",
        "ticket",
        "reference",
        "card",
    }
)


def self_mentions(text: str, *, default_region: str, limit: int = 5) -> list[Mention]:
    """Normalised identifiers the sender claims as their own, in order of appearance, deduplicated."""
    if not text:
        return []
    found: list[tuple[int, Mention]] = []
    for match in _EMAIL.finditer(text):
        try:
            value = normalize_email(match.group(0))
        except InvalidIdentifier:
            continue
        if _claimed(text, match.start(), match.end()):
            found.append((match.start(), Mention("email", value, _excerpt(text, match.start(), match.end()))))
    emails = [(m.start(), m.end()) for m in _EMAIL.finditer(text)]
    for match in _PHONE.finditer(text):
        if any(start <= match.start() < end for start, end in emails):
            continue
        try:
            value = normalize_phone(match.group(0), default_region=default_region)
        except InvalidIdentifier:
            continue
        if _claimed(text, match.start(), match.end()):
            found.append((match.start(), Mention("phone", value, _excerpt(text, match.start(), match.end()))))
    seen: set[tuple[str, str]] = set()
    mentions: list[Mention] = []
    for _, mention in sorted(found, key=lambda item: item[0]):
        if mention.key not in seen:
            seen.add(mention.key)
            mentions.append(mention)
    return mentions[:limit]


def _claimed(text: str, start: int, end: int) -> bool:
    """A first-person cue before it ("my email is", "reach me at", "I wrote from") or just after it
    ("... is mine"), in the same sentence, and nothing that makes it someone else's."""
    before = _words(_sentence_before(text, start))
    after = _words(_sentence_after(text, end))[:4]
    if _NOT_MINE & set(before) or _NOT_MINE & set(after):
        return False
    return bool(_SELF & set(before)) or bool({"my", "mine"} & set(after))


def _sentence_before(text: str, start: int) -> str:
    window = text[max(0, start - _WINDOW) : start]
    ends = list(_SENTENCE_END.finditer(window))
    return window[ends[-1].end() :] if ends else window


def _sentence_after(text: str, end: int) -> str:
    window = text[end : end + _WINDOW]
    stop = _SENTENCE_END.search(window)
    return window[: stop.start()] if stop else window


def _words(text: str) -> list[str]:
    words = (w.casefold() for w in _WORD.findall(text.replace("\u2019", "'")))
    return [w.removesuffix("'s") for w in words]


def _excerpt(text: str, start: int, end: int) -> str:
    """The claim in its context, for the staff who decide on the suggestion."""
    left = _sentence_before(text, start)
    right = _sentence_after(text, end)
    return " ".join((left + text[start:end] + right).split())[:200]
