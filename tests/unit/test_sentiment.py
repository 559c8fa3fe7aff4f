"""The lexicon-based sentiment score."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.agent.policy import sentiment_score
from services.agent.policy.lexicon import PHRASES, WORDS

ANGRY = [
    "This is absolutely terrible, I am furious!",
    "Worst support ever. Useless!",
    "I HATE this app",
    "What a waste of money, total garbage!",
    "Disgusting service, a complete disaster!!!",
    "I'm so disappointed and frustrated.",
]
NEUTRAL = [
    "How do I export my data to CSV?",
    "Where is the settings page?",
    "Please send the invoice to accounts@example.com.",
    "The meeting is on Tuesday at 10.",
    "",
    "12345",
]
HAPPY = [
    "Thanks so much, this is great!",
    "I love the new timeline view \U0001F60D",
    "You guys are amazing, thank you!!",
    "Excellent support, very helpful :)",
    "Wonderful, it works perfectly now.",
    "Great job, much appreciated!",
]


@pytest.mark.parametrize("angry", ANGRY)
@pytest.mark.parametrize("neutral", NEUTRAL)
def test_angry_below_neutral(angry: str, neutral: str) -> None:
    assert sentiment_score(angry) < sentiment_score(neutral)


@pytest.mark.parametrize("happy", HAPPY)
@pytest.mark.parametrize("neutral", NEUTRAL)
def test_happy_above_neutral(happy: str, neutral: str) -> None:
    assert sentiment_score(neutral) < sentiment_score(happy)


@pytest.mark.parametrize("text", NEUTRAL)
def test_neutral_is_zero(text: str) -> None:
    assert sentiment_score(text) == 0.0


@pytest.mark.parametrize("text", ANGRY)
def test_angry_is_clearly_negative(text: str) -> None:
    assert sentiment_score(text) < -0.6


@pytest.mark.parametrize("text", HAPPY)
def test_happy_is_clearly_positive(text: str) -> None:
    assert sentiment_score(text) > 0.5


@pytest.mark.parametrize(("plain", "negated"), [
    ("I am happy", "I am not happy"),
    ("This is good", "This is not good"),
    ("The app is great", "The app isn't great"),
    ("It was helpful", "It wasn't helpful at all"),
    ("I love it", "I don't love it"),
    ("This is useful", "This is never useful"),
    ("I am satisfied", "I am not very satisfied"),
])
def test_negation_flips_positive(plain: str, negated: str) -> None:
    assert sentiment_score(plain) > 0 > sentiment_score(negated)


@pytest.mark.parametrize(("plain", "negated"), [
    ("This is bad", "This is not bad"),
    ("I am angry", "I am not angry"),
    ("That was terrible", "That wasn't terrible"),
    ("There is a problem", "No problem"),
])
def test_negation_flips_negative(plain: str, negated: str) -> None:
    assert sentiment_score(plain) < 0 < sentiment_score(negated)


@pytest.mark.parametrize(("base", "amplified"), [
    ("This is bad", "This is very bad"),
    ("This is bad", "This is BAD"),
    ("This is bad", "This is bad!!!"),
    ("This is good", "This is extremely good"),
    ("This is good", "This is GOOD"),
    ("This is good", "This is good!!!"),
    ("I am annoyed", "I am REALLY annoyed"),
])
def test_intensifiers_caps_and_exclamations_amplify(base: str, amplified: str) -> None:
    assert abs(sentiment_score(amplified)) > abs(sentiment_score(base))
    assert (sentiment_score(amplified) > 0) == (sentiment_score(base) > 0)


def test_dampener_softens() -> None:
    assert 0 > sentiment_score("It is slightly annoying") > sentiment_score("It is annoying")


def test_clause_after_but_dominates() -> None:
    assert sentiment_score("The app is great but support is terrible") < 0
    assert sentiment_score("Support was slow but the app is excellent") > 0


def test_negation_does_not_cross_clauses() -> None:
    assert sentiment_score("Not sure why, but great job") > 0
    assert sentiment_score("No. Happy now") > 0


def test_phrases_and_emoji() -> None:
    assert sentiment_score("Thanks for nothing") < 0
    assert sentiment_score("This is a waste of time") < -0.5
    assert sentiment_score("It is not working :(") < -0.5
    assert sentiment_score("\U0001F621\U0001F621") < -0.5
    assert sentiment_score("\U0001F44D") > 0


def test_typographic_apostrophe() -> None:
    assert sentiment_score("I don\u2019t like it, it isn\u2019t good") == sentiment_score(
        "I don't like it, it isn't good")


def test_deterministic() -> None:
    text = "Honestly the app is GREAT but the billing is a nightmare!!!"
    assert len({sentiment_score(text) for _ in range(20)}) == 1


def test_lexicon_is_compact_and_on_vader_scale() -> None:
    assert 150 <= len(WORDS) + len(PHRASES) <= 400
    assert all(-4 <= value <= 4 and value != 0 for value in [*WORDS.values(), *PHRASES.values()])
    assert all(key == key.casefold() for key in WORDS)


@settings(max_examples=500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=500))
def test_score_in_range_for_any_text(text: str) -> None:
    score = sentiment_score(text)
    assert -1.0 <= score <= 1.0


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["TERRIBLE", "great", "not", "very", "!!!", "but", "hate", "LOVE", ":(",
                                 "\U0001F621", "never", "so", "thanks", "?", "awful"]), max_size=400))
def test_score_in_range_for_extreme_text(words: list[str]) -> None:
    assert -1.0 <= sentiment_score(" ".join(words)) <= 1.0
