"""The fake Gmail's mailbox: messages with labels and threads, a history log, and the search subset we use.

Behaves like Gmail where the mesh depends on it: ids are opaque strings, history ids grow (not by one), a
``startHistoryId`` older than what is kept is refused (the API's 404), received mail joins the thread its
References name, sent mail gets the SENT label only, and ``messages.list`` returns the newest first.
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

_MSG_ID = re.compile(r"<[^<>\s]+>")
_UNITS_MS = {"d": 86_400_000, "m": 30 * 86_400_000, "y": 365 * 86_400_000}


class HistoryGone(Exception):
    """The start history id is older than the history kept (the API answers 404)."""


class UnknownThread(LookupError):
    pass


class BadMessage(ValueError):
    pass


@dataclass
class StoredMessage:
    id: str
    thread_id: str
    labels: list[str]
    raw: bytes
    history_id: int
    internal_ms: int
    parsed: EmailMessage = field(repr=False)

    @property
    def message_id(self) -> str | None:
        value = self.parsed.get("Message-ID")
        found = _MSG_ID.findall(str(value)) if value else []
        return found[0] if found else None

    def header(self, name: str) -> str | None:
        value = self.parsed.get(name)
        return None if value is None else str(value)

    def snippet(self) -> str:
        try:
            body = self.parsed.get_body(preferencelist=("plain", "html"))
            text = body.get_content() if body is not None else ""
        except (KeyError, LookupError):
            text = ""
        return " ".join(str(text).split())[:100]

    def resource(self, fmt: str = "full", headers: list[str] | None = None) -> dict[str, Any]:
        found: dict[str, Any] = {
            "id": self.id,
            "threadId": self.thread_id,
            "labelIds": list(self.labels),
            "snippet": self.snippet(),
            "historyId": str(self.history_id),
            "internalDate": str(self.internal_ms),
            "sizeEstimate": len(self.raw),
        }
        if fmt == "raw":
            found["raw"] = base64.urlsafe_b64encode(self.raw).decode("ascii")
        elif fmt in ("metadata", "full"):
            wanted = {h.lower() for h in headers or []}
            found["payload"] = {
                "mimeType": self.parsed.get_content_type(),
                "headers": [
                    {"name": k, "value": str(v)}
                    for k, v in self.parsed.items()
                    if fmt == "full" or not wanted or k.lower() in wanted
                ],
            }
        return found


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


class FakeMailbox:
    def __init__(self, address: str, *, first_history_id: int = 1000, step: int = 3) -> None:
        self.address = address
        self.history_id = first_history_id
        self.oldest_history_id = first_history_id
        self.step = step
        self.messages: dict[str, StoredMessage] = {}
        self._records: list[tuple[int, str]] = []  # (history id, message id): messageAdded
        self._threads_by_msg_id: dict[str, str] = {}

    # ------------------------------------------------------------------ changes

    def deliver(self, raw: bytes, *, thread_id: str | None = None) -> StoredMessage:
        """Mail from outside lands in the INBOX, in the thread its In-Reply-To / References name."""
        parsed = parse(raw)
        thread = thread_id if thread_id in self._thread_ids() else self._thread_of(parsed)
        return self._add(raw, parsed, labels=["INBOX", "UNREAD"], thread_id=thread)

    def send(self, raw: bytes, *, thread_id: str | None = None) -> StoredMessage:
        parsed = parse(raw)
        recipients = [addr for _, addr in getaddresses([str(v) for v in parsed.get_all("To", [])]) if "@" in addr]
        if not recipients:
            raise BadMessage("Invalid To header")
        if thread_id and thread_id not in self._thread_ids():
            raise UnknownThread(thread_id)
        labels = ["SENT"] + (["INBOX", "UNREAD"] if self.address.lower() in (a.lower() for a in recipients) else [])
        return self._add(raw, parsed, labels=labels, thread_id=thread_id)

    def expire_history(self) -> None:
        """Forget the history so far: any older start history id now gets 404 (as after a week of silence)."""
        self.oldest_history_id = self.history_id

    def _add(self, raw: bytes, parsed: EmailMessage, *, labels: list[str], thread_id: str | None) -> StoredMessage:
        gmail_id = secrets.token_hex(8)
        self.history_id += self.step
        stored = StoredMessage(
            id=gmail_id,
            thread_id=thread_id or gmail_id,
            labels=labels,
            raw=raw,
            history_id=self.history_id,
            internal_ms=int(time.time() * 1000),
            parsed=parsed,
        )
        self.messages[gmail_id] = stored
        self._records.append((self.history_id, gmail_id))
        if stored.message_id:
            self._threads_by_msg_id.setdefault(stored.message_id, stored.thread_id)
        return stored

    def _thread_ids(self) -> set[str]:
        return {m.thread_id for m in self.messages.values()}

    def _thread_of(self, parsed: EmailMessage) -> str | None:
        refs = _MSG_ID.findall(" ".join(str(parsed.get(h, "")) for h in ("References", "In-Reply-To")))
        return next((self._threads_by_msg_id[r] for r in reversed(refs) if r in self._threads_by_msg_id), None)

    # ------------------------------------------------------------------ reads

    def history(
        self, start: int, *, label_id: str | None = None, page_token: str | None = None, max_results: int = 100
    ) -> dict[str, Any]:
        if start < self.oldest_history_id:
            raise HistoryGone(start)
        records = [
            (hid, self.messages[mid])
            for hid, mid in self._records
            if hid > start and (label_id is None or label_id in self.messages[mid].labels)
        ]
        offset = int(page_token or 0)
        page = records[offset : offset + max_results]
        found: dict[str, Any] = {"historyId": str(self.history_id)}
        if page:
            found["history"] = [
                {
                    "id": str(hid),
                    "messages": [{"id": m.id, "threadId": m.thread_id}],
                    "messagesAdded": [{"message": {"id": m.id, "threadId": m.thread_id, "labelIds": list(m.labels)}}],
                }
                for hid, m in page
            ]
        if offset + max_results < len(records):
            found["nextPageToken"] = str(offset + max_results)
        return found

    def search(self, query: str | None, *, label_ids: list[str] | None = None) -> list[StoredMessage]:
        """Gmail search, the terms we use: in:, label:, rfc822msgid:, newer_than:, after:, before:, from:."""
        checks = [_term(term) for term in (query or "").split()]
        wanted = [label.upper() for label in label_ids or []]
        found = [
            m
            for m in self.messages.values()
            if all(label in m.labels for label in wanted) and all(check(m) for check in checks)
        ]
        return sorted(found, key=lambda m: (m.internal_ms, m.history_id), reverse=True)

    def thread(self, thread_id: str) -> list[StoredMessage]:
        return [m for m in self.messages.values() if m.thread_id == thread_id]

    def sent(self) -> list[StoredMessage]:
        return [m for m in self.messages.values() if "SENT" in m.labels]


def _term(term: str) -> Any:
    key, _, value = term.partition(":")
    key, value = key.lower(), value.strip()
    if not value:
        raise ValueError(f"unsupported search term {term!r}")
    if key == "in":
        return lambda m: value.lower() == "anywhere" or value.upper() in m.labels
    if key == "label":
        return lambda m: value.upper() in m.labels
    if key == "rfc822msgid":
        wanted = value.strip("<>").casefold()
        return lambda m: (m.message_id or "").strip("<>").casefold() == wanted
    if key == "newer_than" and re.fullmatch(r"\d+[dmy]", value):
        since = time.time() * 1000 - int(value[:-1]) * _UNITS_MS[value[-1]]
        return lambda m: m.internal_ms >= since
    if key in ("after", "before"):
        ms = _when_ms(value)
        return (lambda m: m.internal_ms >= ms) if key == "after" else (lambda m: m.internal_ms < ms)
    if key == "from":
        return lambda m: value.lower() in (m.header("From") or "").lower()
    raise ValueError(f"unsupported search term {term!r}")


def _when_ms(value: str) -> int:
    if value.isdigit():
        return int(value) * 1000
    try:
        return int(datetime.strptime(value, "%Y/%m/%d").replace(tzinfo=UTC).timestamp() * 1000)
    except ValueError as exc:
        raise ValueError(f"unsupported date {value!r}") from exc
