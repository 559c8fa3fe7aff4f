"""A company's evaluation folder: its knowledge-base files and its labelled tickets. Plain rules, file reads only.

The folder holds ``sample-tickets.json`` (at the top or in ``context/``) and Markdown files (``product-docs.md``
and any other ``.md``, at the top or anywhere under ``context/``). A top-level ``README.md`` describes the folder
and is not part of the knowledge base.

Tickets are read leniently, because every company writes them a little differently: the list may be the whole
document or sit under a key (``tickets``, ``samples``...); common aliases of the field names are accepted; a
ticket that cannot be sent (no message, unknown channel) is skipped with its reason instead of stopping the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Channel = Literal["email", "whatsapp", "web"]
Action = Literal["escalate", "resolve"]

TICKETS_FILE = "sample-tickets.json"
CONTEXT_DIR = "context"
KB_SUFFIX = ".md"
ESCALATION_CATEGORY = "escalation"

_CHANNELS: dict[str, Channel] = {
    "email": "email",
    "e_mail": "email",
    "mail": "email",
    "gmail": "email",
    "whatsapp": "whatsapp",
    "whats_app": "whatsapp",
    "wa": "whatsapp",
    "web_form": "web",
    "webform": "web",
    "web": "web",
    "form": "web",
    "support_form": "web",
}
_RESOLVE_WORDS = frozenset(
    {"resolve", "resolved", "answer", "answered", "respond", "reply", "auto_resolve", "self_serve", "deflect"}
)
_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "ticket_id", "ticketId", "number", "ref"),
    "channel": ("channel", "source_channel"),
    "name": ("customer_name", "name", "sender_name", "from_name"),
    "email": ("customer_email", "email", "from_email"),
    "phone": ("customer_phone", "phone", "whatsapp_number", "from_phone"),
    "subject": ("subject", "title"),
    "message": ("message", "body", "content", "text"),
    "action": ("expected_action", "action"),
    "category": ("expected_category", "category"),
    "reason": ("escalation_reason", "expected_escalation_reason"),
    "resolution": ("expected_resolution", "resolution", "expected_answer"),
    "sentiment": ("sentiment", "expected_sentiment"),
}
_ESCALATE_FLAGS = ("should_escalate", "requires_escalation", "needs_escalation", "expected_escalation", "escalate")
_LIST_KEYS = ("tickets", "samples", "sample_tickets", "items", "data", "inquiries")


class DatasetError(Exception):
    """The folder cannot be evaluated (no tickets file, unreadable JSON, no usable ticket)."""


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    channel: Channel
    customer_name: str
    customer_email: str | None
    customer_phone: str | None
    subject: str
    message: str
    expected_action: Action | None = None  # None: unlabelled, left out of the escalation figures
    category: str | None = None
    escalation_reason: str | None = None
    expected_resolution: str | None = None
    sentiment: str | None = None

    @property
    def expects_escalation(self) -> bool | None:
        return None if self.expected_action is None else self.expected_action == "escalate"


@dataclass(frozen=True, slots=True)
class Skipped:
    id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Dataset:
    root: Path
    kb_files: tuple[Path, ...]
    tickets: tuple[Ticket, ...]
    skipped: tuple[Skipped, ...] = ()
    warnings: tuple[str, ...] = ()


def load_dataset(root: Path) -> Dataset:
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder")
    path = tickets_path(root)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path} is not valid JSON: {exc}") from exc
    tickets, skipped, warnings = parse_tickets(raw)
    if not tickets:
        raise DatasetError(f"{path} holds no ticket that can be sent ({len(skipped)} skipped)")
    kb = knowledge_base_files(root)
    if not kb:
        warnings.append("no knowledge-base files (.md at the top or in context/): every answer will lack grounding")
    return Dataset(root, tuple(kb), tuple(tickets), tuple(skipped), tuple(warnings))


def tickets_path(root: Path) -> Path:
    for candidate in (root / TICKETS_FILE, root / CONTEXT_DIR / TICKETS_FILE):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"no {TICKETS_FILE} in {root} or {root / CONTEXT_DIR}")


# Files that describe the evaluation itself (expected behaviour ticket by ticket): ingesting them would
# leak the labels into the knowledge base the agent answers from.
EVALUATION_NOTES = re.compile(r"readme|edge[-_ ]?cases?|test[-_ ]?cases?|expected|evaluation|sample[-_ ]?tickets", re.I)


def knowledge_base_files(root: Path) -> list[Path]:
    """Top-level ``.md`` files and every ``.md`` under ``context/``, in a stable order, without the folder's
    README and notes about the evaluation itself."""
    top = [p for p in root.iterdir() if _is_markdown(p)]
    context = root / CONTEXT_DIR
    nested = [p for p in context.rglob("*") if _is_markdown(p)] if context.is_dir() else []
    return sorted(top) + sorted(nested)


def _is_markdown(path: Path) -> bool:
    return (
        path.is_file()
        and path.suffix.lower() == KB_SUFFIX
        and not path.name.startswith(".")
        and not EVALUATION_NOTES.search(path.stem)
    )


def parse_tickets(raw: object) -> tuple[list[Ticket], list[Skipped], list[str]]:
    """Tickets from the decoded JSON, the ones skipped with their reason, and warnings about the labels."""
    items = _ticket_list(raw)
    tickets: list[Ticket] = []
    skipped: list[Skipped] = []
    warnings: list[str] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            skipped.append(Skipped(f"#{index + 1}", "not a JSON object"))
            continue
        ticket_id = _unique_id(_text(_field(item, "id")) or f"T{index + 1:03d}", seen)
        channel = _CHANNELS.get(_token(_text(_field(item, "channel"))))
        message = _text(_field(item, "message"))
        if channel is None:
            skipped.append(Skipped(ticket_id, f"unknown channel {_text(_field(item, 'channel'))!r}"))
            continue
        if not message:
            skipped.append(Skipped(ticket_id, "no message"))
            continue
        action, conflict = expected_action(item)
        if conflict:
            warnings.append(f"{ticket_id}: {conflict}")
        category = _token(_text(_field(item, "category"))) or None
        tickets.append(
            Ticket(
                id=ticket_id,
                channel=channel,
                customer_name=_text(_field(item, "name")),
                customer_email=_text(_field(item, "email")) or None,
                customer_phone=_text(_field(item, "phone")) or None,
                subject=_text(_field(item, "subject")),
                message=message,
                expected_action=action,
                category=category,
                escalation_reason=_text(_field(item, "reason")) or None,
                expected_resolution=_text(_field(item, "resolution")) or None,
                sentiment=_text(_field(item, "sentiment")) or None,
            )
        )
    return tickets, skipped, warnings


def expected_action(item: Mapping[str, object]) -> tuple[Action | None, str | None]:
    """The labelled action and, when the labels disagree, a note saying which one won.

    An explicit action (``expected_action`` or a boolean such as ``should_escalate``) wins; otherwise the
    category ``escalation`` or an ``escalation_reason`` means escalate, and any other category means resolve.
    """
    category = _token(_text(_field(item, "category")))
    explicit = _explicit_action(item)
    implied: Action | None = None
    if category == ESCALATION_CATEGORY or _text(_field(item, "reason")):
        implied = "escalate"
    elif category:
        implied = "resolve"
    if explicit is not None:
        conflict = None
        if implied is not None and implied != explicit:
            conflict = f"expected_action {explicit!r} overrides the other labels ({implied!r})"
        return explicit, conflict
    return implied, None


def _explicit_action(item: Mapping[str, object]) -> Action | None:
    word = _token(_text(_field(item, "action")))
    if word.startswith("escalat"):
        return "escalate"
    if word in _RESOLVE_WORDS:
        return "resolve"
    for key in _ESCALATE_FLAGS:
        value = item.get(key)
        if isinstance(value, bool):
            return "escalate" if value else "resolve"
    return None


def _ticket_list(raw: object) -> Sequence[object]:
    if isinstance(raw, list):
        return raw
    if isinstance(raw, Mapping):
        for key in _LIST_KEYS:
            if isinstance(raw.get(key), list):
                return raw[key]
        lists = [value for value in raw.values() if isinstance(value, list)]
        if len(lists) == 1:
            return lists[0]
    raise DatasetError("the tickets file must hold a list of tickets (or an object with one list of them)")


def _field(item: Mapping[str, object], name: str) -> object:
    for key in _ALIASES[name]:
        value = item.get(key)
        if value not in (None, ""):
            return value
    customer = item.get("customer")  # {"customer": {"name": ..., "email": ..., "phone": ...}}
    if name in ("name", "email", "phone") and isinstance(customer, Mapping):
        return customer.get(name)
    return None


def _text(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _token(text: str) -> str:
    """``"Web Form"`` / ``"web-form"`` -> ``"web_form"``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _unique_id(ticket_id: str, seen: dict[str, int]) -> str:
    count = seen.get(ticket_id, 0) + 1
    seen[ticket_id] = count
    return ticket_id if count == 1 else f"{ticket_id}-{count}"
