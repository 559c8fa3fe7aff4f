"""Channel voice, enforced after the brain whatever wrote the text. Plain functions, no I/O.

``format_reply`` turns an answer into the reply a customer reads on one channel:

* email: formal, at most 500 words, with an HTML alternative (every piece of text escaped, no external resources);
* WhatsApp: short plain-text messages of at most 300 characters each, at most 4 of them, no Markdown;
* web: semi-formal, at most 300 words.

Answers that are too long are cut between sentences or list items (never inside a list item, never reordering).
The fixed pieces (name, brand, prior contact, citations, ticket reference) are normalised and clipped to bounded
sizes first, so the limits hold for any input. Markdown is cleaned on every channel (links become "text (url)").
Emails carry ``subject_prefix`` "[{ticket_ref}]" for the caller to put in front of the subject.
``check_format`` re-checks a finished reply against the same rules.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

Channel = Literal["email", "whatsapp", "web"]
BlockKind = Literal["para", "ol", "ul", "lines"]

EMAIL_MAX_WORDS = 500
WEB_MAX_WORDS = 300
WHATSAPP_MAX_CHARS = 300
WHATSAPP_MAX_PARTS = 4

EMAIL_CLOSING = "If anything is unclear, simply reply to this email."
WEB_CLOSING = "If this does not solve it, reply here and we will take it from there."
HANDOVER_CLOSING = "If there is anything you would like to add, simply reply and it will reach the same person."
CUT_NOTE = "(The full article is linked in our help center.)"
MORE_NOTE = "Reply MORE for the rest."
FALLBACK_BRAND = "Customer Support"

_PREFIX_LEN = len("(1/4) ")
_WA_PART_ROOM = WHATSAPP_MAX_CHARS - _PREFIX_LEN
_WA_CHUNK = _WA_PART_ROOM - len("\n" + MORE_NOTE)
_MAX_NAME_CHARS = 40
_MAX_BRAND_WORDS = 10
_MAX_BRAND_CHARS = 80
_MAX_REF_CHARS = 64
_MAX_PRIOR_WORDS = 60
_MAX_CITATIONS = 3
_MAX_CITATION_WORDS = 20
_MAX_CITATION_CHARS = 160

_HONORIFICS = frozenset({"mr", "mrs", "ms", "mx", "miss", "dr", "prof", "sir", "madam"})
_ABBREVIATIONS = frozenset({"e.g.", "i.e.", "vs.", "mr.", "mrs.", "ms.", "dr.", "no.", "approx.", "incl.", "cf."})
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’)\]]*$")
_LINK = re.compile(r"!?\[([^\]\n]*)\]\(([^)\s]*)\)")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_BACKTICKS = re.compile(r"`+")
_MARKER_RUNS = re.compile(r"\*{2,}|_{2,}")
_LEADING_HASHES = re.compile(r"^[#\s]+")
_ORDERED_ITEM = re.compile(r"^([0-9]{1,3})[.)] (\S.*)$")
_BULLET_ITEM = re.compile(r"^[-*•+‣◦] (\S.*)$")
_EXTERNAL_HTML = re.compile(r"<(script|img|link|iframe|style|object|embed|video|audio|source)\b", re.IGNORECASE)
_CODE_FENCE = re.compile(r"^\s*```[\w+.-]*\s*$")


@dataclass(frozen=True)
class VoiceInput:
    channel: Channel
    answer: str
    customer_name: str | None
    ticket_ref: str
    brand: str
    citations: tuple[str, ...] = ()
    prior_contact: str | None = None
    #: The body hands the conversation to a person: the closing invites details, not a retry.
    handover: bool = False


@dataclass(frozen=True)
class FormattedReply:
    channel: str
    text: str
    html: str | None
    parts: tuple[str, ...]
    subject_prefix: str | None = None


@dataclass(frozen=True)
class _Block:
    """A paragraph (items are its sentences), a list (items are whole list items) or a block of short lines."""

    kind: BlockKind
    items: tuple[str, ...]
    start: int = 1


@dataclass(frozen=True)
class _Fields:
    first_name: str | None
    brand: str
    ticket_ref: str
    citations: tuple[str, ...]
    prior: str | None
    handover: bool = False


@dataclass(frozen=True)
class _Chunk:
    """A WhatsApp packing unit: ``sep`` joins it to the previous chunk of the same message."""

    sep: str
    text: str
    group: int


# --------------------------------------------------------------------------- public API


def format_reply(item: VoiceInput) -> FormattedReply:
    """The reply for ``item.channel``; raises ValueError for an unknown channel or a blank ticket reference."""
    if not _plain(item.ticket_ref):
        raise ValueError("a reply needs a ticket reference")
    formatter = _FORMATTERS.get(item.channel)
    if formatter is None:
        raise ValueError(f"unknown channel: {item.channel!r}")
    return formatter(item)


def check_format(reply: FormattedReply) -> list[str]:
    """Compliance problems of a finished reply; empty when it is compliant."""
    problems = [] if reply.text.strip() else ["text is empty"]
    checker = _CHECKERS.get(reply.channel)
    if checker is None:
        return [*problems, f"unknown channel: {reply.channel!r}"]
    return problems + checker(reply)


# --------------------------------------------------------------------------- cleaning


def _plain(text: str) -> str:
    """One line: control characters dropped (whitespace ones become spaces), whitespace collapsed."""
    kept = (" " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch) not in {"Cc", "Cs"})
    return " ".join("".join(kept).split())


def _demarkdown(line: str) -> str:
    """One line without Markdown: links become "text (url)", emphasis and code markers and headings go."""
    if _CODE_FENCE.match(line):
        return ""
    line = _LINK.sub(_link_text, line)
    line = _BACKTICKS.sub("", _EMPHASIS.sub(r"\2", line))
    while _MARKER_RUNS.search(line):
        line = _MARKER_RUNS.sub("", line)
    return _LEADING_HASHES.sub("", " ".join(line.split()))


def _link_text(match: re.Match[str]) -> str:
    label, url = match.group(1).strip(), match.group(2).strip()
    if label and url and label != url:
        return f"{label} ({url})"
    return label or url


def _clean_line(raw: str) -> str:
    return _demarkdown(_plain(raw))


def _inline(text: str | None) -> str:
    """A whole field as one clean line."""
    return _clean_line(" ".join((text or "").splitlines()))


def _has_markdown(text: str) -> bool:
    return "**" in text or "__" in text or any(line.lstrip().startswith("#") for line in text.split("\n"))


def _words(text: str) -> int:
    return len(text.split())


def _clip_words(text: str, limit: int) -> str:
    words = text.split()
    return text if len(words) <= limit else " ".join(words[:limit]) + "…"


def _clip_chars(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut + "…"


# --------------------------------------------------------------------------- fields


def _fields(item: VoiceInput) -> _Fields:
    brand = _clip_chars(_clip_words(_inline(item.brand), _MAX_BRAND_WORDS), _MAX_BRAND_CHARS) or FALLBACK_BRAND
    prior = _clip_words(_inline(item.prior_contact), _MAX_PRIOR_WORDS) or None
    ref = _clip_chars(_plain(item.ticket_ref), _MAX_REF_CHARS)
    return _Fields(_first_name(item.customer_name), brand, ref, _citations(item.citations), prior, item.handover)


def _first_name(name: str | None) -> str | None:
    tokens = [token.strip(",;:") for token in _inline(name).split()]
    tokens = [token for token in tokens if token]
    if len(tokens) > 1 and tokens[0].lower().rstrip(".") in _HONORIFICS:
        tokens = tokens[1:]
    return _clip_chars(tokens[0], _MAX_NAME_CHARS) if tokens else None


def _citations(citations: Iterable[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for citation in citations:
        cleaned = _clip_chars(_clip_words(_inline(citation), _MAX_CITATION_WORDS), _MAX_CITATION_CHARS)
        if cleaned and cleaned not in seen:
            seen.append(cleaned)
    return tuple(seen[:_MAX_CITATIONS])


# --------------------------------------------------------------------------- parsing the answer


class _Parser:
    """Groups answer lines into paragraphs and lists; lists survive blank lines between their items."""

    def __init__(self) -> None:
        self.blocks: list[_Block] = []
        self.kind: BlockKind | None = None
        self.items: list[str] = []
        self.start = 1
        self.after_blank = False

    def feed(self, raw: str) -> None:
        line = _clean_line(raw)
        if not line:
            self.after_blank = True
            if self.kind == "para":
                self.flush()
            return
        ordered, bullet = _ORDERED_ITEM.match(line), _BULLET_ITEM.match(line)
        if ordered:
            self.list_item("ol", ordered.group(2), int(ordered.group(1)))
        elif bullet:
            self.list_item("ul", bullet.group(1), 1)
        elif _plain(raw).startswith("#"):
            self.heading(line)
        else:
            self.text_line(line, continues=raw[:1].isspace())
        self.after_blank = False

    def heading(self, line: str) -> None:
        self.flush()
        self.kind, self.items = "para", [line]
        self.flush()

    def list_item(self, kind: BlockKind, text: str, number: int) -> None:
        if self.kind != kind:
            self.flush()
            self.kind, self.start = kind, number
        self.items.append(text)

    def text_line(self, line: str, *, continues: bool) -> None:
        if self.kind in ("ol", "ul") and continues and not self.after_blank:
            self.items[-1] = f"{self.items[-1]} {line}"
        elif self.kind == "para":
            self.items.append(line)
        else:
            self.flush()
            self.kind, self.items = "para", [line]

    def flush(self) -> None:
        if self.kind == "para":
            self.blocks.append(_Block("para", _sentences(" ".join(self.items))))
        elif self.kind is not None:
            self.blocks.append(_Block(self.kind, tuple(self.items), self.start))
        self.kind, self.items = None, []


def _parse(answer: str) -> tuple[_Block, ...]:
    parser = _Parser()
    for raw in answer.splitlines():
        parser.feed(raw)
    parser.flush()
    return tuple(parser.blocks)


def _sentences(text: str) -> tuple[str, ...]:
    sentences: list[str] = []
    current: list[str] = []
    for word in text.split():
        current.append(word)
        if _SENTENCE_END.search(word) and word.lower() not in _ABBREVIATIONS:
            sentences.append(" ".join(current))
            current = []
    if current:
        sentences.append(" ".join(current))
    return tuple(sentences)


def _para(*sentences: str) -> _Block:
    return _Block("para", sentences)


# --------------------------------------------------------------------------- rendering blocks


def _item_lines(block: _Block) -> list[str]:
    if block.kind == "ol":
        return [f"{block.start + i}. {item}" for i, item in enumerate(block.items)]
    if block.kind == "ul":
        return [f"- {item}" for item in block.items]
    return list(block.items)


def _block_text(block: _Block) -> str:
    return " ".join(block.items) if block.kind == "para" else "\n".join(_item_lines(block))


def _text(blocks: Sequence[_Block]) -> str:
    return "\n\n".join(_block_text(block) for block in blocks)


def _block_html(block: _Block) -> str:
    escaped = [html.escape(item) for item in block.items]
    if block.kind == "para":
        return f"<p>{' '.join(escaped)}</p>"
    if block.kind == "lines":
        return f"<p>{'<br>'.join(escaped)}</p>"
    items = "".join(f"<li>{item}</li>" for item in escaped)
    if block.kind == "ul":
        return f"<ul>{items}</ul>"
    start = f' start="{block.start}"' if block.start != 1 else ""
    return f"<ol{start}>{items}</ol>"


def _html(blocks: Sequence[_Block]) -> str:
    body = "\n".join(_block_html(block) for block in blocks)
    return f'<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8"></head>\n<body>\n{body}\n</body>\n</html>'


# --------------------------------------------------------------------------- cutting to a word budget

_Build = Callable[[tuple[_Block, ...], bool], list[_Block]]


def _fit(answer: tuple[_Block, ...], build: _Build, limit: int) -> list[_Block]:
    """The sections built around the longest prefix of ``answer`` that keeps the total within ``limit`` words."""
    full = build(answer, False)
    if _words(_text(full)) <= limit:
        return full
    kept = _take_words(answer, limit - _words(_text(build((), True))))
    sections = build(kept, True)
    while kept and _words(_text(sections)) > limit:
        kept = _drop_last_unit(kept)
        sections = build(kept, True)
    return sections


def _unit_words(block: _Block, index: int) -> int:
    return _words(block.items[index]) + (1 if block.kind in ("ol", "ul") else 0)


def _take_words(blocks: tuple[_Block, ...], budget: int) -> tuple[_Block, ...]:
    """Whole sentences and list items, in order, while they fit; a lone first sentence is cut at a word instead."""
    kept: list[_Block] = []
    used = 0
    for block in blocks:
        count = 0
        while count < len(block.items) and used + _unit_words(block, count) <= budget:
            used += _unit_words(block, count)
            count += 1
        if count:
            kept.append(replace(block, items=block.items[:count]))
        if count < len(block.items):
            return tuple(kept) if kept else _first_unit_clipped(block, budget)
    return tuple(kept)


def _first_unit_clipped(block: _Block, budget: int) -> tuple[_Block, ...]:
    room = budget - _unit_words(block, 0) + _words(block.items[0])
    if room < 1:
        return ()
    return (replace(block, items=(_clip_words(block.items[0], room),)),)


def _drop_last_unit(blocks: tuple[_Block, ...]) -> tuple[_Block, ...]:
    last = blocks[-1]
    if len(last.items) == 1:
        return blocks[:-1]
    return (*blocks[:-1], replace(last, items=last.items[:-1]))


# --------------------------------------------------------------------------- email and web


def _sources(fields: _Fields) -> list[_Block]:
    return [_Block("lines", tuple(f"Source: {citation}" for citation in fields.citations))] if fields.citations else []


def _prior(fields: _Fields) -> list[_Block]:
    return [_para(fields.prior)] if fields.prior else []


def _email_sections(fields: _Fields, answer: tuple[_Block, ...], cut: bool) -> list[_Block]:
    return [
        _para(f"Dear {fields.first_name or 'customer'},"),
        *_prior(fields),
        *answer,
        *([_para(CUT_NOTE)] if cut else []),
        *_sources(fields),
        _para(HANDOVER_CLOSING if fields.handover else EMAIL_CLOSING),
        _Block("lines", ("Kind regards,", fields.brand)),
        _para(f"Ticket reference: {fields.ticket_ref}"),
    ]


def _web_sections(fields: _Fields, answer: tuple[_Block, ...], cut: bool) -> list[_Block]:
    return [
        _para(f"Hi {fields.first_name or 'there'},"),
        *_prior(fields),
        *answer,
        *([_para(CUT_NOTE)] if cut else []),
        *_sources(fields),
        _para(HANDOVER_CLOSING if fields.handover else WEB_CLOSING),
        _para(fields.brand),
    ]


def _format_email(item: VoiceInput) -> FormattedReply:
    fields = _fields(item)
    sections = _fit(_parse(item.answer), lambda answer, cut: _email_sections(fields, answer, cut), EMAIL_MAX_WORDS)
    text = _text(sections)
    return FormattedReply("email", text, _html(sections), (text,), subject_prefix=f"[{fields.ticket_ref}]")


def _format_web(item: VoiceInput) -> FormattedReply:
    fields = _fields(item)
    sections = _fit(_parse(item.answer), lambda answer, cut: _web_sections(fields, answer, cut), WEB_MAX_WORDS)
    text = _text(sections)
    return FormattedReply("web", text, None, (text,))


# --------------------------------------------------------------------------- WhatsApp


def _wa_lead(fields: _Fields) -> list[tuple[str, str]]:
    """(separator, text) units before the answer: the greeting and the prior-contact sentences."""
    greeting = f"Hi {fields.first_name}!" if fields.first_name else "Hi!"
    prior = _sentences(fields.prior) if fields.prior else ()
    return [("", greeting), *_units(_para(*prior))] if prior else [("", greeting)]


def _wa_answer_units(answer: tuple[_Block, ...]) -> list[tuple[str, str]]:
    """(separator, text) units of the answer: sentences and whole list items, each block on a new line."""
    return [unit for block in answer for unit in _units(block)]


def _units(block: _Block) -> list[tuple[str, str]]:
    joiner = " " if block.kind == "para" else "\n"
    return [("\n" if i == 0 else joiner, line) for i, line in enumerate(_item_lines(block))]


def _wa_chunks(units: list[tuple[str, str]]) -> list[_Chunk]:
    chunks: list[_Chunk] = []
    for group, (sep, text) in enumerate(units):
        for index, (piece_sep, piece) in enumerate(_split_long(text, _WA_CHUNK)):
            chunks.append(_Chunk(sep if index == 0 else piece_sep, piece, group))
    return chunks


def _split_long(text: str, limit: int) -> list[tuple[str, str]]:
    """Pieces of at most ``limit`` chars, broken between words; a word longer than ``limit`` is broken inside."""
    pieces: list[tuple[str, str]] = []
    for word in text.split(" "):
        for index in range(0, max(len(word), 1), limit):
            sep, bit = ("" if index else " "), word[index : index + limit]
            if pieces and len(pieces[-1][1]) + len(sep) + len(bit) <= limit:
                pieces[-1] = (pieces[-1][0], pieces[-1][1] + sep + bit)
            else:
                pieces.append((sep, bit))
    return pieces


def _join(chunks: Sequence[_Chunk]) -> str:
    return "".join((chunk.sep if i else "") + chunk.text for i, chunk in enumerate(chunks))


def _pack(chunks: list[_Chunk], caps: Sequence[int]) -> tuple[list[list[_Chunk]], int]:
    """Greedy packing of whole chunks into parts of at most ``caps[i]`` chars; returns the parts and chunks used."""
    parts: list[list[_Chunk]] = []
    used = 0
    for cap in caps:
        part: list[_Chunk] = []
        while used < len(chunks) and len(_join([*part, chunks[used]])) <= cap:
            part.append(chunks[used])
            used += 1
        parts.append(part)
        if used == len(chunks):
            break
    return parts, used


def _wa_bodies(chunks: list[_Chunk], lead: int) -> tuple[list[str], bool]:
    """The message bodies (no counters yet) and whether the answer had to be cut.

    The first ``lead`` groups are the greeting and the prior contact. When the answer is cut, a sentence or list
    item that would be broken goes entirely, unless nothing of the answer would be left.
    """
    if len(_join(chunks)) <= WHATSAPP_MAX_CHARS:
        return [_join(chunks)], False
    parts, used = _pack(chunks, [_WA_PART_ROOM] * WHATSAPP_MAX_PARTS)
    if used == len(chunks):
        return [_join(part) for part in parts], False
    _, used = _pack(chunks, [_WA_PART_ROOM] * (WHATSAPP_MAX_PARTS - 1) + [_WA_CHUNK])
    broken = chunks[used].group
    kept = [chunk for chunk in chunks[:used] if chunk.group < broken] if broken > lead else chunks[:used]
    return [_join(part) for part in _pack_leaving_room(kept)], True


def _pack_leaving_room(chunks: list[_Chunk]) -> list[list[_Chunk]]:
    """Parts holding every chunk (which must fit the cut layout) with room for the MORE line in the last one."""
    parts, _ = _pack(chunks, [_WA_PART_ROOM] * (WHATSAPP_MAX_PARTS - 1) + [_WA_CHUNK])
    if len(_join(parts[-1])) > _WA_CHUNK:  # fewer than four parts, the last one too full: its last chunk moves on
        parts = [*parts[:-1], parts[-1][:-1], parts[-1][-1:]]
    return parts


def _wa_finish(body: str, source: str | None, ref: str | None, more: bool) -> str:
    """The last message: body, then the source and the reference if they fit (reference first), then MORE."""
    tail = MORE_NOTE if more else None
    text = body
    for extras in ((source, ref), (None, ref), (source, None), (None, None)):
        text = "\n".join(line for line in (body, *extras, tail) if line)
        if len(text) <= WHATSAPP_MAX_CHARS:
            break
    return text


def _strip_leading_hashes(text: str) -> str:
    """A last guard: no line of a WhatsApp message may start like a Markdown heading."""
    lines = text.split("\n")
    return "\n".join(_LEADING_HASHES.sub("", line) if line.lstrip().startswith("#") else line for line in lines)


def _format_whatsapp(item: VoiceInput) -> FormattedReply:
    fields = _fields(item)
    lead = _wa_lead(fields)
    bodies, cut = _wa_bodies(_wa_chunks(lead + _wa_answer_units(_parse(item.answer))), len(lead))
    if len(bodies) > 1:
        bodies = [f"({i}/{len(bodies)}) {body}" for i, body in enumerate(bodies, start=1)]
    source = f"Source: {fields.citations[0]}" if fields.citations else None
    ref = None if _has_markdown(fields.ticket_ref) else f"Ref: {fields.ticket_ref}"
    bodies[-1] = _wa_finish(bodies[-1], source, ref, cut)
    parts = tuple(_strip_leading_hashes(body) for body in bodies)
    return FormattedReply("whatsapp", "\n\n".join(parts), None, parts)


_FORMATTERS: dict[str, Callable[[VoiceInput], FormattedReply]] = {
    "email": _format_email,
    "whatsapp": _format_whatsapp,
    "web": _format_web,
}


# --------------------------------------------------------------------------- checks


def _check_single(reply: FormattedReply, limit: int) -> list[str]:
    problems = []
    if _words(reply.text) > limit:
        problems.append(f"{reply.channel} has {_words(reply.text)} words, more than {limit}")
    if reply.parts != (reply.text,):
        problems.append(f"{reply.channel} parts must be exactly (text,)")
    return problems


def _check_email(reply: FormattedReply) -> list[str]:
    problems = _check_single(reply, EMAIL_MAX_WORDS)
    if not reply.html or not reply.html.strip():
        problems.append("email has no HTML alternative")
    elif _EXTERNAL_HTML.search(reply.html):
        problems.append("email HTML loads external resources or scripts")
    if not reply.text.startswith("Dear "):
        problems.append("email has no greeting")
    if not re.search(r"^Ticket reference: \S", reply.text, re.MULTILINE):
        problems.append("email has no ticket reference")
    return problems


def _check_web(reply: FormattedReply) -> list[str]:
    problems = _check_single(reply, WEB_MAX_WORDS)
    if not reply.text.startswith("Hi "):
        problems.append("web reply has no greeting")
    return problems


def _check_whatsapp(reply: FormattedReply) -> list[str]:
    problems: list[str] = []
    if not reply.parts or len(reply.parts) > WHATSAPP_MAX_PARTS:
        problems.append(f"whatsapp needs 1 to {WHATSAPP_MAX_PARTS} parts, got {len(reply.parts)}")
    if reply.text != "\n\n".join(reply.parts):
        problems.append("whatsapp text is not its parts joined")
    if reply.html is not None:
        problems.append("whatsapp must be plain text")
    for number, part in enumerate(reply.parts, start=1):
        problems.extend(_check_whatsapp_part(number, part))
    return problems


def _check_whatsapp_part(number: int, part: str) -> list[str]:
    problems = []
    if not part.strip():
        problems.append(f"whatsapp part {number} is empty")
    if len(part) > WHATSAPP_MAX_CHARS:
        problems.append(f"whatsapp part {number} has {len(part)} characters, more than {WHATSAPP_MAX_CHARS}")
    if _has_markdown(part):
        problems.append(f"whatsapp part {number} contains Markdown")
    return problems


_CHECKERS: dict[str, Callable[[FormattedReply], list[str]]] = {
    "email": _check_email,
    "whatsapp": _check_whatsapp,
    "web": _check_web,
}
