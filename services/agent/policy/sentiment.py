"""A deterministic lexicon-based sentiment score in [-1, 1], after VADER (Hutto & Gilbert, 2014)."""

from __future__ import annotations

import math
import re
import unicodedata

from services.agent.policy.lexicon import BOOSTERS, NEGATORS, PHRASES, WORDS

# VADER's empirically derived constants.
NEGATION_SCALAR = -0.74
CAPS_INCREMENT = 0.733
EXCLAMATION_INCREMENT = 0.292
QUESTION_INCREMENT = 0.18
ALPHA = 15.0
_WINDOW = 3
_LONGEST_PHRASE = max(len(phrase) for phrase in PHRASES)

_TOKEN = re.compile(
    r"[^\W\d_]+(?:'[^\W\d_]+)?"  # words, with one apostrophe ("don't")
    r"|(?:[:;=][-']?[()dDpP/]|<3)(?!\w)"  # emoticons, not "Status:Done" or "a<30"
    r"|[\U0001F300-\U0001FAFF\u2600-\u27BF]"  # emoji
    r"|[.,;!?]"  # clause punctuation
)
_CLAUSE_BREAK = frozenset({".", ",", ";", "!", "?", "but"})


def sentiment_score(text: str) -> float:
    """The compound sentiment of ``text``: -1 most negative, 0 neutral, +1 most positive."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'")
    originals = [match.group(0) for match in _TOKEN.finditer(text)]
    tokens = [token.casefold() for token in originals]
    valences = _valences(tokens, originals)
    total = _but_weighting(tokens, valences)
    if total:
        total += math.copysign(_punctuation_emphasis(text), total)
    score = total / math.sqrt(total * total + ALPHA)
    return max(-1.0, min(1.0, score))


def _valences(tokens: list[str], originals: list[str]) -> list[float]:
    valences = [0.0] * len(tokens)
    # Words inside a matched phrase ("not working") are used up: they negate nothing after them.
    used: set[int] = set()
    index = 0
    while index < len(tokens):
        length, valence = _lookup(tokens, index)
        if valence:
            if any(_is_shouted(originals[i]) for i in range(index, index + length)):
                valence += math.copysign(CAPS_INCREMENT, valence)
            negatable = length == 1 and tokens[index][0].isalpha()
            valence = _apply_context(tokens, originals, index, valence, negatable=negatable, used=used)
            valences[index] = valence
            if length > 1:
                used.update(range(index, index + length))
        index += length
    return valences


def _lookup(tokens: list[str], index: int) -> tuple[int, float]:
    for length in range(min(_LONGEST_PHRASE, len(tokens) - index), 1, -1):
        phrase = tuple(tokens[index : index + length])
        if phrase in PHRASES:
            return length, PHRASES[phrase]
    return 1, WORDS.get(tokens[index], 0.0)


def _apply_context(
    tokens: list[str], originals: list[str], index: int, valence: float, *, negatable: bool, used: set[int]
) -> float:
    """Boosters and negators among the previous words of the same clause."""
    negated = False
    for distance in range(1, _WINDOW + 1):
        position = index - distance
        if position < 0 or position in used or tokens[position] in _CLAUSE_BREAK:
            break
        word = tokens[position]
        if word in BOOSTERS:
            boost = BOOSTERS[word] * (1.0, 0.95, 0.9)[distance - 1]
            if _is_shouted(originals[position]) and boost > 0:
                boost += CAPS_INCREMENT
            # A dampener's negative boost shrinks the magnitude whatever the sign of the word.
            valence += boost if valence > 0 else -boost
        if negatable and _is_negator(word):
            negated = True
    return valence * NEGATION_SCALAR if negated else valence


def _is_negator(word: str) -> bool:
    return word in NEGATORS or word.endswith("n't") or word.replace("'", "") in NEGATORS


def _is_shouted(token: str) -> bool:
    letters = [ch for ch in token if ch.isalpha()]
    return len(letters) >= 2 and all(ch.isupper() for ch in letters)


def _but_weighting(tokens: list[str], valences: list[float]) -> float:
    # Whatever follows "but" carries the message ("nice app but support is terrible").
    if "but" not in tokens:
        return sum(valences)
    pivot = tokens.index("but")
    return sum(v * (0.5 if i < pivot else 1.5) for i, v in enumerate(valences))


def _punctuation_emphasis(text: str) -> float:
    exclamations = min(text.count("!"), 4) * EXCLAMATION_INCREMENT
    questions = text.count("?")
    question_emphasis = 0.0 if questions <= 1 else min(questions, 4) * QUESTION_INCREMENT
    return exclamations + question_emphasis
