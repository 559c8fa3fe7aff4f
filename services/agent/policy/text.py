"""Text normalisation shared by the trigger, guardrail and injection matchers."""

from __future__ import annotations

import re
import unicodedata

# NFKC leaves typographic quotes alone; the patterns are written with ASCII ones.
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u02bc": "'",
        "\u00b4": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
    }
)
_WHITESPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """NFKC, drop invisible format characters, ASCII quotes, case-fold, collapse whitespace."""
    text = unicodedata.normalize("NFKC", text)
    # Zero-width and other format characters are a cheap way to split a keyword ("ref\u200bund").
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = text.translate(_QUOTES).casefold()
    return _WHITESPACE.sub(" ", text).strip()
