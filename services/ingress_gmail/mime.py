"""Parse Gmail API messages (``users.messages.get(format='raw')``) into what the agent needs.

Pure functions over the stdlib ``email`` package: headers, the customer's text (HTML converted when there is no
text/plain part), attachment metadata, removal of quoted reply history and signatures, and auto-reply detection
(out-of-office, bounces, mailing lists) so the agent never answers a robot.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser

__all__ = [
    "AttachmentMeta",
    "ParsedEmail",
    "html_to_text",
    "is_own_message",
    "parse_message",
    "parse_raw",
    "strip_quoted",
]


@dataclass(frozen=True)
class AttachmentMeta:
    filename: str | None
    content_type: str
    size: int


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str | None
    thread_key: str | None
    from_name: str | None
    from_address: str | None
    to: tuple[str, ...]
    subject: str
    date: datetime | None
    in_reply_to: str | None
    references: tuple[str, ...]
    body: str
    full_text: str
    attachments: tuple[AttachmentMeta, ...]
    is_auto_reply: bool
    auto_reply_reason: str | None


# --------------------------------------------------------------------------- entry points

_B64URL = re.compile(rb"[A-Za-z0-9_\-+/=\s]+")


def parse_raw(raw_b64url: str | bytes) -> ParsedEmail:
    """Parse the Gmail API ``raw`` field (base64url, padding optional) or plain RFC 822 bytes."""
    return parse_message(email.message_from_bytes(_raw_bytes(raw_b64url), policy=email.policy.default))


def _raw_bytes(raw: str | bytes) -> bytes:
    data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else bytes(raw)
    if not data.strip():
        raise ValueError("empty message")
    if not _B64URL.fullmatch(data):
        return data  # RFC 822 always has a ':' in its headers, which base64url never contains
    compact = re.sub(rb"\s+", b"", data).rstrip(b"=").replace(b"+", b"-").replace(b"/", b"_")
    try:
        return base64.urlsafe_b64decode(compact + b"=" * (-len(compact) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not valid base64url: {exc}") from exc


def parse_message(msg: EmailMessage | Message) -> ParsedEmail:
    """Extract headers, text, attachments and auto-reply status from a parsed message."""
    from_name, from_address = _sender(msg)
    subject = _text_header(msg, "Subject") or ""
    full_text = _normalize(_extract_text(msg, allow_html=True) or "")
    reason = _auto_reply_reason(msg, from_address, subject)
    return ParsedEmail(
        message_id=_text_header(msg, "Message-ID"),
        thread_key=None,
        from_name=from_name,
        from_address=from_address,
        to=_addresses(msg, "To"),
        subject=subject,
        date=_date(msg),
        in_reply_to=_first_msg_id(_text_header(msg, "In-Reply-To")),
        references=_msg_ids(_text_header(msg, "References")),
        body=full_text if _is_forward(subject) else strip_quoted(full_text),
        full_text=full_text,
        attachments=tuple(_attachments(msg)),
        is_auto_reply=reason is not None,
        auto_reply_reason=reason,
    )


def is_own_message(parsed: ParsedEmail, mailbox: str) -> bool:
    """True when the message was sent from our own mailbox (so answering it would start a loop)."""
    ours = parseaddr(mailbox)[1] if "<" in mailbox else mailbox
    if not parsed.from_address or not ours.strip():
        return False
    return parsed.from_address.strip().casefold() == ours.strip().casefold()


# --------------------------------------------------------------------------- headers


def _raw_headers(msg: Message, name: str) -> list[str]:
    """Unparsed, unfolded values of every ``name`` header (never raises on malformed values)."""
    wanted = name.lower()
    return [re.sub(r"\r?\n(?=[ \t])", "", str(v)).strip() for k, v in msg.raw_items() if k.lower() == wanted]


def _raw_header(msg: Message, name: str) -> str | None:
    values = _raw_headers(msg, name)
    return values[0] if values else None


def _text_header(msg: Message, name: str) -> str | None:
    """The decoded header value, or None when absent or empty."""
    try:
        value = msg.get(name)
        # policy.default yields decoded header objects (with .defects); compat32 leaves encoded words in place
        text = None if value is None else str(value) if hasattr(value, "defects") else _decode_words(str(value))
    except Exception:  # malformed header the policy cannot parse: decode the raw value ourselves
        raw = _raw_header(msg, name)
        text = None if raw is None else _decode_words(raw)
    text = _unsurrogate(text).strip() if text is not None else None
    return text or None


def _decode_words(text: str) -> str:
    """Decode RFC 2047 encoded words, leaving the text alone when they are broken."""
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except (LookupError, ValueError, UnicodeError):
        return text


def _unsurrogate(text: str) -> str:
    """Undo surrogateescape left by raw 8-bit (RFC 6532 UTF-8 or legacy) header bytes."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    data = text.encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _address_pairs(msg: Message, name: str) -> list[tuple[str, str]]:
    try:
        header = msg.get(name)
        if header is not None and hasattr(header, "addresses"):
            return [(_unsurrogate(a.display_name), _unsurrogate(a.addr_spec)) for a in header.addresses]
    except Exception:  # noqa: S110 - fall back to the lenient parser below
        pass
    value = _text_header(msg, name)
    return getaddresses([value]) if value else []


def _sender(msg: Message) -> tuple[str | None, str | None]:
    pairs = [(n, a) for n, a in _address_pairs(msg, "From") if a]
    if not pairs:
        return None, None
    name, address = pairs[0]
    return (name.strip() or None), address.strip()


def _addresses(msg: Message, name: str) -> tuple[str, ...]:
    return tuple(a.strip() for _, a in _address_pairs(msg, name) if a and a.strip())


def _date(msg: Message) -> datetime | None:
    raw = _raw_header(msg, "Date")
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


_MSG_ID = re.compile(r"<[^<>\s]+>")


def _msg_ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(_MSG_ID.findall(value)) or tuple(value.split())


def _first_msg_id(value: str | None) -> str | None:
    ids = _msg_ids(value)
    return ids[0] if ids else None


# --------------------------------------------------------------------------- body and attachments


def _children(part: Message) -> list[Message]:
    payload = part.get_payload() if part.is_multipart() else None
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _is_attachment(part: Message) -> bool:
    if part.get_content_disposition() == "attachment" or part.get_filename():
        return True
    return part.get_content_maintype() not in ("text", "multipart", "message")


def _extract_text(part: Message, allow_html: bool) -> str | None:
    """The readable text of ``part``: text/plain preferred, HTML converted only when allowed."""
    if part.get_content_maintype() == "multipart":
        return _extract_multipart(part, allow_html)
    if _is_attachment(part):
        return None
    ctype = part.get_content_type()
    if ctype == "text/plain":
        return _decode_text(part)
    if ctype == "text/html" and allow_html:
        return html_to_text(_decode_text(part))
    return None


def _extract_multipart(part: Message, allow_html: bool) -> str | None:
    children = _children(part)
    if part.get_content_subtype() == "alternative":
        for html in (False, True) if allow_html else (False,):
            found = next((t for c in children if (t := _extract_text(c, html)) and t.strip()), None)
            if found is not None:
                return found
        return None
    texts = [t for c in children if (t := _extract_text(c, allow_html)) and t.strip()]
    return "\n\n".join(t.strip("\n") for t in texts) if texts else None


def _decode_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else str(payload or "").encode("utf-8", "surrogateescape")
    charset = (part.get_content_charset() or "").strip().lower()
    if charset in ("", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1"):
        try:  # undeclared or ASCII often means UTF-8 in practice; Latin-1 labels mean Windows-1252
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", errors="replace")
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _attachments(msg: Message) -> Iterator[AttachmentMeta]:
    for part in _leaves(msg):
        if _is_attachment(part):
            yield AttachmentMeta(filename=_filename(part), content_type=part.get_content_type(), size=_size(part))


def _leaves(part: Message) -> Iterator[Message]:
    """Leaf parts, not descending into attached or bounced messages (message/*)."""
    if part.get_content_maintype() == "multipart":
        for child in _children(part):
            yield from _leaves(child)
    elif part.get_content_maintype() != "message" or _is_attachment(part):
        yield part


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    if not name:
        return None
    return _decode_words(name).strip() or None


def _size(part: Message) -> int:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return len(payload)
    inner = _children(part)
    return len(inner[0].as_bytes()) if inner else 0


def _normalize(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip().lstrip("\ufeff").strip()


# --------------------------------------------------------------------------- HTML to text

_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template"})
_LINE_TAGS = frozenset(
    {
        "div", "tr", "dt", "dd", "section", "article", "header", "footer", "nav", "aside", "address",
        "form", "fieldset", "figure", "figcaption", "main", "center", "hr", "caption", "details", "summary",
    }
)  # fmt: skip
_PARA_TAGS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "dl"})
_INDENT = "\x00"  # survives line stripping; becomes a space when rendering
_WS = re.compile(r"\s+")


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str, bool]] = []  # (blockquote depth, text, preformatted)
        self._cur: list[str] = []
        self._depth = 0
        self._skip = 0
        self._pre = 0
        self._quote = 0
        self._lists: list[list[int]] = []  # one entry per open list: [counter], counter < 0 for <ul>
        self._prefix = ""

    # -- output primitives
    def _write(self, text: str) -> None:
        if not self._cur:
            text = text if self._pre else text.lstrip()
            if not text:
                return
            self._depth, self._cur = self._quote, [self._prefix]
            self._prefix = ""
        self._cur.append(text)

    def _end_line(self) -> None:
        if self._cur:
            self.lines.append((self._depth, "".join(self._cur), self._pre > 0))
            self._cur = []

    def _blank(self) -> None:
        self._end_line()
        self.lines.append((self._quote, "", False))

    def _line_break(self, pre: bool) -> None:
        if self._cur:
            self._end_line()
        else:
            self.lines.append((self._quote, "", pre))

    def _list_boundary(self) -> None:
        if self._lists:
            self._end_line()
        else:
            self._blank()

    # -- parser callbacks
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "body":
            self._skip = 0  # an unclosed <head>
        elif not self._skip:
            self._open(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif not self._skip:
            self._close(tag)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        data = data.replace(_INDENT, "")
        if not self._pre:
            self._write(_WS.sub(" ", data))
            return
        for i, chunk in enumerate(data.replace("\r\n", "\n").split("\n")):
            if i:
                self._line_break(pre=True)
            if chunk:
                self._write(chunk)

    def _open(self, tag: str) -> None:
        if tag == "br":
            self._line_break(pre=False)
        elif tag in ("ul", "ol"):
            self._list_boundary()
            self._lists.append([0 if tag == "ol" else -1])
        elif tag == "li":
            self._open_item()
        elif tag in ("td", "th") and self._cur:
            self._write(" ")
        elif tag == "blockquote":
            self._blank()
            self._quote += 1
        elif tag == "pre":
            self._blank()
            self._pre += 1
        else:
            self._block(tag)

    def _close(self, tag: str) -> None:
        if tag in ("ul", "ol") and self._lists:
            self._lists.pop()
            self._list_boundary()
        elif tag == "li":
            self._end_line()
        elif tag == "blockquote":
            self._end_line()
            self._quote = max(0, self._quote - 1)
            self._blank()
        elif tag == "pre":
            self._blank()
            self._pre = max(0, self._pre - 1)
        else:
            self._block(tag)

    def _block(self, tag: str) -> None:
        if tag in _PARA_TAGS and not self._lists:
            self._blank()
        elif tag in _LINE_TAGS or tag in _PARA_TAGS:
            self._end_line()

    def _open_item(self) -> None:
        self._end_line()
        if not self._lists:
            self._prefix = "- "
            return
        counter = self._lists[-1]
        if counter[0] >= 0:
            counter[0] += 1
        bullet = f"{counter[0]}. " if counter[0] >= 0 else "- "
        self._prefix = _INDENT * 2 * (len(self._lists) - 1) + bullet

    def text(self) -> str:
        self.close()
        self._end_line()
        rendered = [_render_line(depth, text, pre) for depth, text, pre in self.lines]
        return "\n".join(_squeeze_blank_lines(rendered)).strip("\n")


def _render_line(depth: int, text: str, pre: bool) -> str:
    if not pre:
        text = re.sub(r"[ \t\f\v\xa0]+", " ", text).strip()
    text = text.replace(_INDENT, " ")
    quote = "> " * depth
    return quote + text if text else quote.rstrip()


def _squeeze_blank_lines(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        blank = not line.strip("> ")
        if blank and out and not out[-1].strip("> "):
            out[-1] = min(out[-1], line, key=len)  # between quote levels the shallower blank wins
        elif out or not blank:
            out.append(line)
    while out and not out[-1].strip("> "):
        out.pop()
    return out


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML body: blocks become lines, lists get bullets, quotes get '> '."""
    parser = _HtmlText()
    parser.feed(html)
    return parser.text()


# --------------------------------------------------------------------------- quoted history and signatures

_ATTRIBUTION = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^On\s.+\swrote\s*:$",  # Gmail, Apple Mail, Thunderbird
        r"^Le\s.+\sa\s+écrit\s*:$",  # French
        r"^Am\s.+\sschrieb\b.*:$",  # German
        r"^El\s.+\sescribió\s*:$",  # Spanish
        r"^Em\s.+\sescreveu\s*:$",  # Portuguese
        r"^Il\s.+\sha\s+scritto\s*:$",  # Italian
        r"^Op\s.+\sschreef\b.*:$",  # Dutch
    )
]
_ORIGINAL = re.compile(
    r"^-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original|"
    r"messaggio originale|mensagem original|oorspronkelijk bericht)\s*-{2,}$",
    re.IGNORECASE,
)
_FORWARD = re.compile(
    r"^(-{2,}\s*(forwarded message|weitergeleitete nachricht|message transféré|mensaje reenviado|"
    r"messaggio inoltrato|mensagem encaminhada)\s*-{2,}|begin forwarded message:|"
    r"anfang der weitergeleiteten nachricht:|début du message réexpédié\s*:|inicio del mensaje reenviado:)$",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^_{10,}$")
_HEADER_FROM = re.compile(r"^\*?(from|von|de|da|van|från|fra)\s?:", re.IGNORECASE)
_HEADER_SENT = re.compile(
    r"^\*?(sent|date|gesendet|datum|envoyé|enviado|enviado el|fecha|inviato|data|verzonden|skickat)\s?:",
    re.IGNORECASE,
)
_HEADER_TO_SUBJECT = re.compile(
    r"^\*?(to|an|à|a|para|aan|till|til|subject|betreff|objet|asunto|oggetto|assunto|onderwerp|ämne|emne)\s?:",
    re.IGNORECASE,
)
_SIG_DELIMITERS = frozenset({"-- ", "--"})
_MOBILE_SIGNATURE = re.compile(
    r"^(sent from my \S.{0,40}|get outlook for (ios|android)\b.{0,60}|sent from mail for windows\b.{0,20}|"
    r"sent from outlook( for (ios|android))?\b.{0,60}|sent from yahoo mail\b.{0,60}|envoyé de mon \S.{0,30}|"
    r"von meinem \S.{0,30} gesendet|enviado desde mi \S.{0,30})$",
    re.IGNORECASE,
)
_FORWARD_SUBJECT = re.compile(r"^\s*(fwd?|fw|wg|tr|rv|enc)\s*:", re.IGNORECASE)


def strip_quoted(text: str) -> str:
    """Only what the sender wrote now: drop reply history, '>' lines and signatures; keep forwarded content."""
    original = _normalize(text)
    lines = original.split("\n")
    forward = next((i for i, line in enumerate(lines) if _FORWARD.match(line.strip())), len(lines))
    head, tail = lines[:forward], lines[forward:]
    cut = _reply_cut(head)
    if cut is not None:
        head, tail = head[:cut], []
    head = _strip_signature([line for line in head if not line.startswith(">")])
    parts = ["\n".join(_squeeze_blank_lines([line.rstrip() for line in head])), "\n".join(tail)]
    result = "\n\n".join(part.strip() for part in parts if part.strip())
    return result or original


def _reply_cut(lines: list[str]) -> int | None:
    """Index of the first line of quoted reply history, if any."""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(">"):
            continue
        if _is_attribution(lines, i) or _ORIGINAL.match(stripped):
            return i
        if _is_header_block(lines, i):
            return _underscores_above(lines, i)
    return None


def _is_attribution(lines: list[str], i: int) -> bool:
    """'On <date>, <someone> wrote:' on one line or wrapped over up to three."""
    candidate = lines[i].strip()
    for extra in range(3):
        if extra:
            if i + extra >= len(lines) or not lines[i + extra].strip() or lines[i + extra].startswith(">"):
                return False
            candidate = f"{candidate} {lines[i + extra].strip()}"
        if len(candidate) <= 400 and re.search(r"[\d@]", candidate) and any(p.match(candidate) for p in _ATTRIBUTION):
            return True
    return False


def _is_header_block(lines: list[str], i: int) -> bool:
    """Outlook's 'From: / Sent: / To: / Subject:' block."""
    if not _HEADER_FROM.match(lines[i].strip()):
        return False
    following = [line.strip() for line in lines[i + 1 : i + 7]]
    has_sent = any(_HEADER_SENT.match(line) for line in following)
    return has_sent and any(_HEADER_TO_SUBJECT.match(line) for line in following)


def _underscores_above(lines: list[str], i: int) -> int:
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    return j if j >= 0 and _UNDERSCORES.match(lines[j].strip()) else i


def _strip_signature(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if line in _SIG_DELIMITERS or _MOBILE_SIGNATURE.match(line.strip()):
            return lines[:i]
    return lines


def _is_forward(subject: str) -> bool:
    return bool(_FORWARD_SUBJECT.match(subject))


# --------------------------------------------------------------------------- auto-replies

_ROBOT_LOCAL_PARTS = frozenset(
    {"mailer-daemon", "postmaster", "no-reply", "noreply", "donotreply", "do-not-reply", "no_reply"}
)
_AUTO_SUBJECTS = tuple(
    unicodedata.normalize("NFC", s).casefold()
    for s in (
        "Out of Office",
        "Automatic reply",
        "Auto:",
        "Autoreply",
        "Auto-reply",
        "Auto reply",
        "Automatische Antwort",
        "Abwesenheitsnotiz",
        "Réponse automatique",
        "Respuesta automática",
        "Undeliverable:",
        "Undelivered Mail Returned to Sender",
        "Delivery Status Notification",
        "Mail delivery failed",
    )
)
_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_SUPPRESS = frozenset({"all", "oof", "autoreply"})


def _auto_reply_reason(msg: Message, from_address: str | None, subject: str) -> str | None:
    checks = (
        lambda: _bounce_reason(msg),
        lambda: _sender_reason(from_address),
        lambda: _auto_header_reason(msg),
        lambda: _list_reason(msg),
        lambda: _subject_reason(subject),
    )
    return next((reason for check in checks if (reason := check()) is not None), None)


def _bounce_reason(msg: Message) -> str | None:
    if msg.get_content_type() == "multipart/report":
        return "Content-Type: multipart/report"
    if any(value.replace(" ", "") == "<>" for value in _raw_headers(msg, "Return-Path")):
        return "Return-Path: <>"
    return None


def _sender_reason(from_address: str | None) -> str | None:
    local = (from_address or "").rpartition("@")[0] or (from_address or "")
    return f"From: {local}" if local.strip().lower() in _ROBOT_LOCAL_PARTS else None


def _auto_header_reason(msg: Message) -> str | None:
    submitted = _text_header(msg, "Auto-Submitted")
    if _raw_header(msg, "Auto-Submitted") is not None and (submitted or "").lower().split(None, 1)[:1] != ["no"]:
        return f"Auto-Submitted: {submitted or ''}".rstrip()
    for name in ("X-Autoreply", "X-Autorespond"):
        value = _text_header(msg, name)
        if _raw_header(msg, name) is not None and (value or "").lower() not in ("no", "false", "0"):
            return f"{name}: {value or ''}".rstrip()
    suppress = _text_header(msg, "X-Auto-Response-Suppress") or ""
    if _SUPPRESS & {token.lower() for token in re.split(r"[\s,;]+", suppress)}:
        return f"X-Auto-Response-Suppress: {suppress}"
    precedence = (_text_header(msg, "Precedence") or "").lower()
    return f"Precedence: {precedence}" if precedence in _PRECEDENCE else None


def _list_reason(msg: Message) -> str | None:
    return next((name for name in ("List-Id", "List-Unsubscribe") if _raw_header(msg, name) is not None), None)


def _subject_reason(subject: str) -> str | None:
    folded = unicodedata.normalize("NFC", subject).strip().casefold()
    return f"Subject: {subject.strip()}" if folded.startswith(_AUTO_SUBJECTS) else None
