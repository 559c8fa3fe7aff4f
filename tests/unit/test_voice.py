"""Unit and property tests for services.agent.voice (channel voice after the brain)."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.agent.voice import (
    CUT_NOTE,
    EMAIL_CLOSING,
    EMAIL_MAX_WORDS,
    FALLBACK_BRAND,
    MORE_NOTE,
    WEB_CLOSING,
    WEB_MAX_WORDS,
    WHATSAPP_MAX_CHARS,
    WHATSAPP_MAX_PARTS,
    FormattedReply,
    VoiceInput,
    check_format,
    format_reply,
)

PROPERTY_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CHANNELS = ("email", "whatsapp", "web")
PRIOR = "I see you emailed us on 20 November about the Slack integration."
CITATION = "Account and Login > Reset a forgotten password"
PREFIX = re.compile(r"^\((\d)/(\d)\) ")
ALLOWED_TAGS = {"!DOCTYPE", "html", "head", "meta", "body", "p", "br", "ol", "ul", "li"}


def make(channel: str = "email", answer: str = "You can reset it under Settings.", **overrides: object) -> VoiceInput:
    values: dict[str, object] = {
        "channel": channel,
        "answer": answer,
        "customer_name": "Ana Souza",
        "ticket_ref": "T-8F3K2",
        "brand": "Orbitly Support",
    }
    values.update(overrides)
    return VoiceInput(**values)  # type: ignore[arg-type]


def sentence(index: int, words: int = 12) -> str:
    return " ".join(f"word{index}x{j}" for j in range(words)) + "."


def paragraph(count: int, words: int = 12) -> str:
    return " ".join(sentence(i, words) for i in range(count))


def numbered(count: int, words: int = 25) -> str:
    return "\n".join(f"{i}. " + " ".join(f"item{i}w{j}" for j in range(words)) for i in range(1, count + 1))


def word_count(text: str) -> int:
    return len(text.split())


def unprefixed(part: str) -> str:
    return PREFIX.sub("", part)


# --------------------------------------------------------------------------- email


def test_email_greets_by_first_name_and_has_every_section_in_order() -> None:
    reply = format_reply(make(citations=(CITATION,), prior_contact=PRIOR))
    assert reply.channel == "email"
    assert reply.text.startswith("Dear Ana,\n\n" + PRIOR + "\n\nYou can reset it under Settings.")
    order = ["Dear Ana,", PRIOR, "You can reset it", f"Source: {CITATION}", EMAIL_CLOSING,
             "Kind regards,\nOrbitly Support", "Ticket reference: T-8F3K2"]
    positions = [reply.text.index(piece) for piece in order]
    assert positions == sorted(positions)
    assert reply.text.endswith("Ticket reference: T-8F3K2")
    assert reply.parts == (reply.text,)
    assert reply.subject_prefix == "[T-8F3K2]"
    assert check_format(reply) == []


@pytest.mark.parametrize("name", [None, "", "   ", "\t\n", "**"])
def test_email_falls_back_to_dear_customer(name: str | None) -> None:
    reply = format_reply(make(customer_name=name))
    assert reply.text.startswith("Dear customer,\n\n")


@pytest.mark.parametrize(("name", "first"), [("Dr. Ana Souza", "Ana"), ("ana", "ana"), ("Souza, Ana", "Souza"),
                                             ("  Ana\nSouza ", "Ana"), ("Mr", "Mr")])
def test_first_name_is_picked_from_the_display_name(name: str, first: str) -> None:
    assert format_reply(make(customer_name=name)).text.startswith(f"Dear {first},")


def test_email_without_citations_or_prior_contact_has_no_such_lines() -> None:
    reply = format_reply(make())
    assert "Source:" not in reply.text
    assert reply.text.split("\n\n")[1] == "You can reset it under Settings."


def test_email_lists_every_citation_once() -> None:
    reply = format_reply(make(citations=(CITATION, "Billing > Invoices", CITATION, "  ")))
    assert reply.text.count(f"Source: {CITATION}") == 1
    assert "Source: Billing > Invoices" in reply.text
    assert "<p>Source: Account and Login &gt; Reset a forgotten password<br>Source: Billing &gt; Invoices</p>" in (
        reply.html or ""
    )


def test_email_html_escapes_script_and_loads_nothing() -> None:
    answer = 'Do not paste <script>alert("x")</script> into the form & retry.'
    reply = format_reply(make(answer=answer, customer_name="<b>Eve</b>", brand="Acme <Support>"))
    assert reply.html is not None
    assert "<script>" not in reply.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in reply.html
    assert "&amp; retry." in reply.html
    assert "<p>Dear &lt;b&gt;Eve&lt;/b&gt;,</p>" in reply.html
    assert "Acme &lt;Support&gt;" in reply.html
    assert "http" not in reply.html and "src=" not in reply.html
    assert answer in reply.text
    assert check_format(reply) == []


def test_email_html_uses_paragraphs_and_lists() -> None:
    answer = "To reset it:\n\n1. Open Settings.\n2. Click Reset.\n\n- works on web\n- works on mobile\n\nDone."
    reply = format_reply(make(answer=answer))
    assert reply.html is not None
    assert "<p>To reset it:</p>" in reply.html
    assert "<ol><li>Open Settings.</li><li>Click Reset.</li></ol>" in reply.html
    assert "<ul><li>works on web</li><li>works on mobile</li></ul>" in reply.html
    assert "<p>Kind regards,<br>Orbitly Support</p>" in reply.html
    assert "1. Open Settings.\n2. Click Reset.\n\n- works on web\n- works on mobile" in reply.text


def test_ordered_list_keeps_its_start_number_and_renumbers_repeated_markers() -> None:
    reply = format_reply(make(answer="3. three\n3. four"))
    assert "3. three\n4. four" in reply.text
    assert '<ol start="3">' in (reply.html or "")
    assert "1. a\n2. b\n3. c" in format_reply(make(answer="1. a\n1. b\n1. c")).text


def test_list_items_survive_blank_lines_and_indented_continuations() -> None:
    answer = "1. Open Settings.\n   It is the gear icon.\n\n2. Click Reset.\nThat is all."
    reply = format_reply(make(answer=answer))
    assert "1. Open Settings. It is the gear icon.\n2. Click Reset.\n\nThat is all." in reply.text


def test_long_email_is_cut_at_a_sentence_with_the_note_before_the_closing() -> None:
    reply = format_reply(make(answer=paragraph(80), citations=(CITATION,)))
    assert word_count(reply.text) <= EMAIL_MAX_WORDS
    assert reply.text.index(CUT_NOTE) < reply.text.index(EMAIL_CLOSING)
    body = reply.text.split("\n\n")[1]
    assert body.endswith(".")
    assert body == paragraph(body.count("."))
    assert reply.text.endswith("Ticket reference: T-8F3K2")
    assert check_format(reply) == []


def test_email_that_fits_is_not_cut() -> None:
    reply = format_reply(make(answer=paragraph(20)))
    assert CUT_NOTE not in reply.text
    assert paragraph(20) in reply.text


def test_long_numbered_list_is_cut_between_whole_items_in_order() -> None:
    reply = format_reply(make(answer="Steps:\n" + numbered(40)))
    lines = [line for line in reply.text.split("\n") if re.match(r"^\d+\. ", line)]
    assert 5 < len(lines) < 40
    assert lines == numbered(len(lines)).split("\n")
    assert word_count(reply.text) <= EMAIL_MAX_WORDS
    assert CUT_NOTE in reply.text


def test_one_endless_sentence_is_cut_at_a_word() -> None:
    answer = " ".join(f"w{i}" for i in range(2000))
    reply = format_reply(make(answer=answer))
    body = reply.text.split("\n\n")[1]
    assert body.startswith("w0 w1 w2") and body.endswith("…")
    assert word_count(reply.text) <= EMAIL_MAX_WORDS
    assert check_format(reply) == []


def test_markdown_is_cleaned_on_email_too() -> None:
    reply = format_reply(make(answer="# Reset\nUse **Settings** and [the guide](https://x.test/a)."))
    assert "Reset\n\nUse Settings and the guide (https://x.test/a)." in reply.text


def test_control_characters_and_crlf_are_normalised() -> None:
    reply = format_reply(make(answer="First line.\r\nSecond\x00 line.\r\n\r\nNew\tparagraph."))
    assert "First line. Second line.\n\nNew paragraph." in reply.text


def test_blank_brand_falls_back() -> None:
    reply = format_reply(make(brand="  "))
    assert f"Kind regards,\n{FALLBACK_BRAND}" in reply.text


# --------------------------------------------------------------------------- WhatsApp


def test_whatsapp_short_answer_is_one_plain_message_with_source_and_ref() -> None:
    reply = format_reply(make("whatsapp", citations=(CITATION, "Other"), prior_contact=PRIOR))
    assert reply.parts == (
        f"Hi Ana!\n{PRIOR}\nYou can reset it under Settings.\nSource: {CITATION}\nRef: T-8F3K2",
    )
    assert reply.text == reply.parts[0]
    assert reply.html is None
    assert check_format(reply) == []


def test_whatsapp_without_name_says_hi() -> None:
    assert format_reply(make("whatsapp", customer_name=None)).text.startswith("Hi!\n")


def test_whatsapp_strips_markdown() -> None:
    answer = "## Reset\nUse **Settings** then `Security` and __Reset__.\nSee [the guide](https://x.test/r) now."
    reply = format_reply(make("whatsapp", answer=answer))
    text = reply.text
    assert "Reset\nUse Settings then Security and Reset. See the guide (https://x.test/r) now." in text
    for marker in ("**", "__", "`", "](", "#"):
        assert marker not in text
    assert check_format(reply) == []


def test_whatsapp_removes_stray_emphasis_markers() -> None:
    reply = format_reply(make("whatsapp", answer="a ***b** c*__*d ____ e #f\n  # g"))
    assert "**" not in reply.text and "__" not in reply.text
    assert not any(line.lstrip().startswith("#") for line in reply.text.split("\n"))


def test_whatsapp_long_answer_is_numbered_and_split_between_sentences() -> None:
    answer = paragraph(6)
    reply = format_reply(make("whatsapp", answer=answer))
    count = len(reply.parts)
    assert 2 <= count <= WHATSAPP_MAX_PARTS
    for index, part in enumerate(reply.parts, start=1):
        assert part.startswith(f"({index}/{count}) ")
        assert len(part) <= WHATSAPP_MAX_CHARS
    bodies = [unprefixed(part) for part in reply.parts]
    assert bodies[0].startswith("Hi Ana!\n")
    assert all(body.split("\n")[-1].endswith(".") for body in bodies[:-1])
    joined = " ".join(" ".join(bodies).replace("Hi Ana!\n", "").replace("\nRef: T-8F3K2", "").split())
    assert joined == answer
    assert reply.parts[-1].endswith("Ref: T-8F3K2")
    assert MORE_NOTE not in reply.text
    assert check_format(reply) == []


def test_whatsapp_very_long_answer_stops_at_four_parts_with_reply_more() -> None:
    reply = format_reply(make("whatsapp", answer=paragraph(200)))
    assert len(reply.parts) == WHATSAPP_MAX_PARTS
    assert reply.parts[-1].endswith("\n" + MORE_NOTE)
    assert all(len(part) <= WHATSAPP_MAX_CHARS for part in reply.parts)
    assert check_format(reply) == []


def test_whatsapp_one_long_sentence_is_split_at_word_boundaries() -> None:
    words = [f"token{i}" for i in range(120)]
    reply = format_reply(make("whatsapp", answer=" ".join(words)))
    assert len(reply.parts) > 1
    tokens = " ".join(unprefixed(part) for part in reply.parts).split()
    assert [token for token in tokens if token.startswith("token")] == words


def test_whatsapp_one_giant_word_is_broken_but_fits() -> None:
    reply = format_reply(make("whatsapp", answer="x" * 5000))
    assert len(reply.parts) == WHATSAPP_MAX_PARTS
    assert all(len(part) <= WHATSAPP_MAX_CHARS for part in reply.parts)
    assert reply.parts[-1].endswith(MORE_NOTE)


def test_whatsapp_cut_that_leaves_three_full_parts_still_has_room_for_more() -> None:
    long_word = "x" * 40
    sentences = [
        " ".join(["reset"] * 15 + [long_word]) + ".",
        " ".join(["reset"] * 27) + ".",
        " ".join(["reset"] * 25 + [long_word] * 3) + ".",
        " ".join(["reset"] * 22 + [long_word] * 4) + ".",
    ]
    reply = format_reply(make("whatsapp", answer=" ".join(sentences), customer_name=None, ticket_ref="0"))
    assert all(len(part) <= WHATSAPP_MAX_CHARS for part in reply.parts)
    assert reply.parts[-1].endswith(MORE_NOTE)
    assert sentences[3] not in " ".join(reply.parts)
    assert check_format(reply) == []


def test_whatsapp_ref_is_omitted_when_it_does_not_fit() -> None:
    ref = "R" * 60
    answer = "y" * 280
    reply = format_reply(make("whatsapp", answer=answer, ticket_ref=ref, customer_name=None))
    assert reply.parts == (f"Hi!\n{answer}",)


def test_whatsapp_ref_with_markdown_markers_is_omitted() -> None:
    reply = format_reply(make("whatsapp", ticket_ref="T__1"))
    assert "Ref:" not in reply.text
    assert check_format(reply) == []


def test_whatsapp_keeps_list_items_whole_when_cutting() -> None:
    answer = numbered(30, words=12)
    reply = format_reply(make("whatsapp", answer=answer))
    assert reply.parts[-1].endswith(MORE_NOTE)
    lines = [line for part in reply.parts for line in unprefixed(part).split("\n") if re.match(r"^\d+\. ", line)]
    assert lines == answer.split("\n")[: len(lines)]


def test_whatsapp_cut_drops_an_item_it_would_break() -> None:
    items = [[f"i{i}w{j}" for j in range(45)] for i in range(1, 12)]
    answer = "\n".join(f"{i}. " + " ".join(words) for i, words in enumerate(items, start=1))
    reply = format_reply(make("whatsapp", answer=answer))
    assert reply.parts[-1].endswith(MORE_NOTE)
    shown = [token for token in reply.text.split() if re.fullmatch(r"i\d+w\d+", token)]
    assert shown and len(shown) % 45 == 0
    assert shown == [word for words in items for word in words][: len(shown)]


def test_whatsapp_cut_drops_a_sentence_it_would_break() -> None:
    answer = "Short first sentence. " + " ".join(f"long{i}" for i in range(400)) + "."
    reply = format_reply(make("whatsapp", answer=answer, customer_name=None))
    assert reply.parts == ("Hi!\nShort first sentence.\nRef: T-8F3K2\nReply MORE for the rest.",)
    assert check_format(reply) == []


def test_whatsapp_keeps_part_of_a_giant_first_sentence_rather_than_nothing() -> None:
    answer = " ".join(f"long{i}" for i in range(400)) + "."
    reply = format_reply(make("whatsapp", answer=answer))
    assert len(reply.parts) == WHATSAPP_MAX_PARTS
    assert "long0 long1" in reply.parts[0]
    assert reply.parts[-1].endswith(MORE_NOTE)


# --------------------------------------------------------------------------- web


def test_web_is_semi_formal_with_sources_closing_and_brand() -> None:
    reply = format_reply(make("web", citations=(CITATION,), prior_contact=PRIOR))
    assert reply.text == (
        f"Hi Ana,\n\n{PRIOR}\n\nYou can reset it under Settings.\n\nSource: {CITATION}\n\n{WEB_CLOSING}\n\n"
        "Orbitly Support"
    )
    assert reply.html is None
    assert reply.parts == (reply.text,)
    assert check_format(reply) == []


def test_web_without_name_says_hi_there() -> None:
    assert format_reply(make("web", customer_name=None)).text.startswith("Hi there,\n\n")


def test_long_web_answer_is_cut_to_300_words() -> None:
    reply = format_reply(make("web", answer=paragraph(60), citations=(CITATION,)))
    assert word_count(reply.text) <= WEB_MAX_WORDS
    assert reply.text.index(CUT_NOTE) < reply.text.index(WEB_CLOSING)
    assert reply.text.endswith(f"{WEB_CLOSING}\n\nOrbitly Support")
    assert check_format(reply) == []


def test_web_list_is_cut_between_whole_items() -> None:
    reply = format_reply(make("web", answer=numbered(30)))
    lines = [line for line in reply.text.split("\n") if re.match(r"^\d+\. ", line)]
    assert lines == numbered(len(lines)).split("\n")
    assert word_count(reply.text) <= WEB_MAX_WORDS


# --------------------------------------------------------------------------- errors and check_format


@pytest.mark.parametrize("ref", ["", "   ", "\x00\x01"])
def test_blank_ticket_reference_is_refused(ref: str) -> None:
    with pytest.raises(ValueError, match="ticket reference"):
        format_reply(make(ticket_ref=ref))


def test_unknown_channel_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown channel"):
        format_reply(make("sms"))


def test_empty_answer_still_gives_a_compliant_reply() -> None:
    for channel in CHANNELS:
        assert check_format(format_reply(make(channel, answer=""))) == []


def test_check_format_flags_email_problems() -> None:
    good = format_reply(make())
    assert check_format(replace(good, html=None)) == ["email has no HTML alternative"]
    assert check_format(replace(good, html="<p>x</p><img src='https://t.test/p.gif'>")) == [
        "email HTML loads external resources or scripts"
    ]
    no_greeting = replace(good, text=good.text.replace("Dear", "Hey"), parts=(good.text.replace("Dear", "Hey"),))
    assert check_format(no_greeting) == ["email has no greeting"]
    no_ref = good.text.replace("Ticket reference", "Ticket")
    assert check_format(replace(good, text=no_ref, parts=(no_ref,))) == ["email has no ticket reference"]
    long_text = good.text + " word" * EMAIL_MAX_WORDS
    problems = check_format(replace(good, text=long_text, parts=(long_text,)))
    assert len(problems) == 1 and "more than 500" in problems[0]
    assert check_format(replace(good, parts=("x",))) == ["email parts must be exactly (text,)"]


def test_check_format_flags_web_and_generic_problems() -> None:
    good = format_reply(make("web"))
    long_text = good.text + " word" * WEB_MAX_WORDS
    assert "more than 300" in check_format(replace(good, text=long_text, parts=(long_text,)))[0]
    assert check_format(replace(good, text="Yo", parts=("Yo",))) == ["web reply has no greeting"]
    assert "text is empty" in check_format(replace(good, text=" ", parts=(" ",)))
    assert check_format(FormattedReply("fax", "hello", None, ("hello",))) == ["unknown channel: 'fax'"]


def test_check_format_flags_whatsapp_problems() -> None:
    def whatsapp(*parts: str) -> FormattedReply:
        return FormattedReply("whatsapp", "\n\n".join(parts), None, parts)

    assert check_format(whatsapp("Hi!")) == []
    assert check_format(whatsapp("x" * 301)) == ["whatsapp part 1 has 301 characters, more than 300"]
    assert check_format(whatsapp("Hi **there**")) == ["whatsapp part 1 contains Markdown"]
    assert check_format(whatsapp("Hi\n  # Title")) == ["whatsapp part 1 contains Markdown"]
    assert check_format(whatsapp("a", "snake__case")) == ["whatsapp part 2 contains Markdown"]
    assert check_format(whatsapp(*["a"] * 5)) == ["whatsapp needs 1 to 4 parts, got 5"]
    assert check_format(whatsapp("a", " ")) == ["whatsapp part 2 is empty"]
    unjoined = FormattedReply("whatsapp", "a b", None, ("a", "b"))
    assert check_format(unjoined) == ["whatsapp text is not its parts joined"]
    assert check_format(FormattedReply("whatsapp", "a", "<p>a</p>", ("a",))) == ["whatsapp must be plain text"]


# --------------------------------------------------------------------------- properties

VOCABULARY = ["reset", "password", "Settings", "billing", "invoice", "Slack", "export", "CSV", "account", "login",
              "the", "a", "your", "click", "open", "naïve", "résumé", "日本語", "emoji🙂", "<b>", "&", "**bold**",
              "`code`", "[link](https://x.test)", "e.g.", "#tag", "__init__", "x" * 40]
WORD = st.sampled_from(VOCABULARY)
SENTENCE = st.builds(
    lambda words, end: " ".join(words) + end,
    st.lists(WORD, min_size=1, max_size=40),
    st.sampled_from([".", "!", "?", ""]),
)
LINE = st.one_of(
    st.lists(SENTENCE, min_size=1, max_size=8).map(" ".join),
    st.builds(lambda n, s: f"{n}. {s}", st.integers(1, 30), SENTENCE),
    st.builds(lambda m, s: f"{m} {s}", st.sampled_from(["-", "*", "•"]), SENTENCE),
    st.builds(lambda s: f"# {s}", SENTENCE),
    st.just(""),
    st.just("```"),
)
SENTENCE_LIKE = st.lists(LINE, max_size=120).map("\n".join).map(lambda text: text[:6000])
ANSWERS = st.one_of(SENTENCE_LIKE, st.text(max_size=6000), st.text(alphabet=st.characters(codec="utf-8"), max_size=800))
NAMES = st.one_of(st.none(), st.text(max_size=80), st.sampled_from(["Ana Souza", "Dr. Ana", "李 雷", "<script>"]))
BRANDS = st.one_of(st.text(max_size=300), st.just("Orbitly Support"))
REFS = st.text(min_size=1, max_size=120).filter(lambda ref: "".join(ch for ch in ref if ch.isprintable()).strip())
INPUTS = st.builds(
    VoiceInput,
    channel=st.sampled_from(CHANNELS),
    answer=ANSWERS,
    customer_name=NAMES,
    ticket_ref=st.one_of(REFS, st.just("T-8F3K2")),
    brand=BRANDS,
    citations=st.lists(st.one_of(st.text(max_size=300), st.just(CITATION)), max_size=6).map(tuple),
    prior_contact=st.one_of(st.none(), st.just(PRIOR), st.text(max_size=2000)),
)


@PROPERTY_SETTINGS
@given(INPUTS)
def test_every_reply_is_compliant(item: VoiceInput) -> None:
    reply = format_reply(item)
    assert check_format(reply) == []
    assert reply.channel == item.channel


@PROPERTY_SETTINGS
@given(INPUTS.map(lambda item: replace(item, channel="whatsapp")))
def test_whatsapp_parts_fit_and_are_at_most_four(item: VoiceInput) -> None:
    reply = format_reply(item)
    assert 1 <= len(reply.parts) <= WHATSAPP_MAX_PARTS
    assert all(len(part) <= WHATSAPP_MAX_CHARS for part in reply.parts)
    assert reply.text == "\n\n".join(reply.parts)
    if len(reply.parts) > 1:
        assert [PREFIX.match(part).groups() for part in reply.parts] == [  # type: ignore[union-attr]
            (str(i), str(len(reply.parts))) for i in range(1, len(reply.parts) + 1)
        ]
    assert check_format(reply) == []


@settings(PROPERTY_SETTINGS, max_examples=400)
@given(SENTENCE_LIKE, NAMES, st.lists(st.text(max_size=200), max_size=3).map(tuple))
def test_whatsapp_sentence_like_answers_fit(answer: str, name: str | None, citations: tuple[str, ...]) -> None:
    reply = format_reply(make("whatsapp", answer=answer, customer_name=name, citations=citations))
    assert all(len(part) <= WHATSAPP_MAX_CHARS for part in reply.parts)
    assert len(reply.parts) <= WHATSAPP_MAX_PARTS
    assert check_format(reply) == []


@PROPERTY_SETTINGS
@given(INPUTS.map(lambda item: replace(item, channel="email")))
def test_email_stays_within_500_words_and_html_matches_text(item: VoiceInput) -> None:
    reply = format_reply(item)
    assert word_count(reply.text) <= EMAIL_MAX_WORDS
    assert reply.html is not None
    tags = {match.group(1) for match in re.finditer(r"</?([!\w]+)", reply.html)}
    assert tags <= ALLOWED_TAGS
    html_words = html.unescape(re.sub(r"<[^>]*>", " ", reply.html)).split()
    text_words = re.sub(r"^(\d+\.|-) ", "", reply.text, flags=re.MULTILINE).split()
    assert html_words == text_words
    assert reply.text.rstrip().split("\n")[-1].startswith("Ticket reference: ")


@PROPERTY_SETTINGS
@given(INPUTS.map(lambda item: replace(item, channel="web")))
def test_web_stays_within_300_words(item: VoiceInput) -> None:
    reply = format_reply(item)
    assert word_count(reply.text) <= WEB_MAX_WORDS
    assert reply.text.startswith("Hi ")
    assert reply.text.endswith(WEB_CLOSING + "\n\n" + reply.text.split("\n\n")[-1])


@PROPERTY_SETTINGS
@given(st.lists(st.lists(st.sampled_from(VOCABULARY[:15]), min_size=1, max_size=30), min_size=1, max_size=80),
       st.sampled_from(CHANNELS))
def test_sentences_are_kept_whole_and_in_order(sentences: list[list[str]], channel: str) -> None:
    texts = [" ".join(words) + "." for words in sentences]
    reply = format_reply(make(channel, answer=" ".join(texts), customer_name=None, citations=()))
    bodies = [unprefixed(part) for part in reply.parts]
    kept = " ".join(" ".join(bodies).split())
    for fixed in (CUT_NOTE, MORE_NOTE, EMAIL_CLOSING, WEB_CLOSING):
        kept = kept.replace(fixed, "")
    answer_words = " ".join(texts).split()
    body_words = [w for w in kept.split() if w in set(VOCABULARY[:15]) or w.rstrip(".") in set(VOCABULARY[:15])]
    assert body_words == answer_words[: len(body_words)]
    if body_words:
        assert body_words[-1].endswith(".")


@PROPERTY_SETTINGS
@given(st.lists(st.integers(1, 60), min_size=1, max_size=60), st.sampled_from(CHANNELS))
def test_numbered_lists_keep_whole_items_in_order(lengths: list[int], channel: str) -> None:
    items = [[f"i{i}w{j}" for j in range(n)] for i, n in enumerate(lengths, start=1)]
    answer = "\n".join(f"{i}. " + " ".join(words) for i, words in enumerate(items, start=1))
    reply = format_reply(make(channel, answer=answer))
    shown = [token for token in reply.text.split() if re.fullmatch(r"i\d+w\d+", token)]
    every = [word for words in items for word in words]
    assert shown == every[: len(shown)]
    boundaries = {sum(lengths[:k]) for k in range(len(lengths) + 1)}
    assert len(shown) in boundaries
    assert len(shown) >= lengths[0]  # the first step always fits
    lines = [line for part in reply.parts for line in unprefixed(part).split("\n")]
    markers = [line.split(" ", 1)[0] for line in lines if re.match(r"^\d+\. i", line)]
    assert markers == [f"{i}." for i in range(1, len(markers) + 1)]


@pytest.mark.parametrize("channel", ["email", "web"])
def test_a_handover_does_not_invite_a_retry(channel: str) -> None:
    item = VoiceInput(
        channel=channel,  # type: ignore[arg-type]
        answer="I have passed your request to our team. A person will reply within 2 business hours.",
        customer_name="Ana",
        ticket_ref="T-1",
        brand="Orbitly Support",
        handover=True,
    )
    reply = format_reply(item)
    assert "If this does not solve it" not in reply.text
    assert "simply reply and it will reach the same person" in reply.text
    assert check_format(reply) == []
