"""Compilation of the trigger rules' phrases, patterns and word lists into regular expressions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import groupby
from typing import TYPE_CHECKING

from services.agent.policy.text import normalise

if TYPE_CHECKING:
    from services.agent.policy.config import TriggerRule

# Characters that stand in for a letter in obfuscated profanity ("f*ck", "sh!t", "a$$hole").
_LEET: dict[str, str] = {
    "a": "@4",
    "b": "8",
    "e": "3",
    "g": "9",
    "i": "1!|",
    "l": "1|",
    "o": "0",
    "s": "$5",
    "t": "7+",
    "u": "v",
}
_MASKS = "*#%?"
_SEPARATOR = r"[-._]?"
_SUFFIXES = r"(?:s|es|ed|er|ers|ing|in|y|ty|head|heads)?"
# Replacement for a span removed by a negative pattern: the "." stops windows like [^.!?]{0,40}.
_BLANK = " . "


@dataclass(frozen=True, slots=True)
class CompiledRule:
    positives: tuple[re.Pattern[str], ...]
    negatives: tuple[re.Pattern[str], ...]
    bare_messages: frozenset[str]
    bare_channels: frozenset[str]


def phrase_regex(phrase: str) -> str:
    """A literal phrase matched on word boundaries, any run of spaces between its words."""
    words = normalise(phrase).split(" ")
    body = r"\s+".join(re.escape(word) for word in words)
    head = r"\b" if re.match(r"\w", words[0]) else ""
    tail = r"\b" if re.search(r"\w$", words[-1]) else ""
    return head + body + tail


def obfuscated_word_regex(word: str) -> str:
    """A whole word that tolerates repeated letters, leetspeak, masks and separators.

    The first and last letters must be a letter or its leet form so that "****" never matches;
    every alternative consumes a bounded or single-letter run, which keeps matching linear.
    """
    runs = [(letter, len(list(group))) for letter, group in groupby(normalise(word))]
    parts: list[str] = []
    for index, (letter, count) in enumerate(runs):
        edge = index in (0, len(runs) - 1)
        stand_ins = _LEET.get(letter, "") + ("" if edge else _MASKS)
        token = re.escape(letter) + "+"
        if stand_ins:
            token = f"(?:{token}|[{re.escape(stand_ins)}]{{1,{count}}})"
        parts.append(token)
    return _SEPARATOR.join(parts)


def words_regex(words: tuple[str, ...]) -> str:
    alternatives = "|".join(obfuscated_word_regex(word) for word in words)
    return rf"(?<![a-z0-9])(?:{alternatives}){_SUFFIXES}(?![a-z0-9])"


def bare_form(text: str) -> str:
    """The words of an already normalised message without punctuation or emoji."""
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


@lru_cache(maxsize=256)
def compile_rule(rule: TriggerRule) -> CompiledRule:
    """Compile a rule; raises re.error on an invalid pattern."""
    sources = [phrase_regex(phrase) for phrase in rule.phrases if normalise(phrase)]
    sources += list(rule.patterns)
    words = tuple(word for word in rule.words if normalise(word))
    if words:
        sources.append(words_regex(words))
    return CompiledRule(
        positives=tuple(re.compile(source) for source in sources),
        negatives=tuple(re.compile(source) for source in rule.negative_patterns),
        bare_messages=frozenset(filter(None, (bare_form(normalise(text)) for text in rule.bare_messages))),
        bare_channels=frozenset(channel.casefold() for channel in rule.bare_channels),
    )


def blank_out(text: str, negatives: tuple[re.Pattern[str], ...]) -> str:
    for pattern in negatives:
        text = pattern.sub(_BLANK, text)
    return text


def first_match(text: str, positives: tuple[re.Pattern[str], ...]) -> str | None:
    for pattern in positives:
        match = pattern.search(text)
        if match and match.group(0).strip():
            return match.group(0).strip()
    return None
