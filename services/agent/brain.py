"""Brains write the reply. The offline default composes it from retrieved passages only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from services.agent.retrieval import Hit, query_terms

MIN_SCORE = 0.5  # Hit.score is scaled so that 0.5 is the relevance threshold (retrieval.relevance)
MAX_UNITS = 4


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One earlier message of the customer's, on any channel."""

    channel: str
    role: str  # customer | agent | staff | system
    content: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    subject: str | None = None
    customer_name: str | None = None
    channel: str = "web"
    ticket_id: str = ""
    category: str | None = None
    #: The customer's last messages across all channels, oldest first (this one excluded).
    history: tuple[HistoryEntry, ...] = ()

    @property
    def search_text(self) -> str:
        return f"{self.subject or ''}\n{self.text}".strip()


@dataclass(frozen=True, slots=True)
class Citation:
    chunk_id: int
    document: str
    heading_path: str
    score: float


@dataclass(frozen=True, slots=True)
class Draft:
    """What a brain proposes. Brains do no writes: escalation and ticket changes are requests that
    the agent applies in its one transaction (and that policy may override, never the reverse)."""

    answer: str
    grounded: bool
    brain: str
    confidence: float
    citations: list[Citation] = field(default_factory=list)
    tokens: int | None = None
    escalate: bool = False
    reason_code: str | None = None
    priority: str | None = None
    category: str | None = None
    escalation_summary: str | None = None
    #: Why another brain answered instead (the provider was down, ...).
    fallback: str | None = None
    tool_calls: list[str] = field(default_factory=list)
    retrieval_scores: list[float] = field(default_factory=list)


class AgentTools(Protocol):
    """Read-only capabilities a brain may use while it thinks."""

    async def search_knowledge_base(self, query: str, limit: int = 5) -> list[Hit]: ...

    async def customer_history(self, limit: int = 20) -> list[HistoryEntry]: ...

    async def heartbeat(self) -> None:
        """Tell JetStream the message is still being worked on (call while waiting on a model)."""
        ...


class Brain(Protocol):
    name: str

    async def answer(self, question: Question, tools: AgentTools) -> Draft: ...


class GroundedBrain:
    """Answers with the sentences or steps of the best passage that match the question."""

    name = "grounded"

    def __init__(self, *, min_score: float = MIN_SCORE) -> None:
        self.min_score = min_score

    async def answer(self, question: Question, tools: AgentTools) -> Draft:
        hits = await tools.search_knowledge_base(question.search_text, limit=5)
        relevant = [h for h in hits if h.score >= self.min_score]
        if not relevant:
            return Draft(
                answer="", grounded=False, brain=self.name, confidence=0.0, retrieval_scores=[h.score for h in hits]
            )
        best = relevant[0]
        extract = extract_answer(best.content, query_terms(question.search_text))
        citations = [Citation(h.chunk_id, h.document, h.heading_path, h.score) for h in relevant[:3]]
        return Draft(
            answer=f"{extract}\n\nSource: {best.heading_path}",
            grounded=True,
            brain=self.name,
            confidence=round(best.score, 3),
            citations=citations,
            retrieval_scores=[h.score for h in hits],
        )


_LIST_ITEM = re.compile(r"^\s*(?:\d+[.)]|[-*+])\s+")


def _units(content: str) -> list[str]:
    """A passage as answer units: a whole list stays one unit, prose splits into sentences."""
    units: list[str] = []
    for block in re.split(r"\n\s*\n", content.strip()):
        lines = [ln for ln in block.splitlines() if ln.strip()]
        if lines and all(_LIST_ITEM.match(ln) or ln.startswith("   ") for ln in lines):
            units.append("\n".join(lines))
        else:
            text = " ".join(ln.strip() for ln in lines)
            units += [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9*])", text) if s]
    return units


def _stem(word: str) -> str:
    return word[:5]


def extract_answer(content: str, terms: list[str]) -> str:
    """The units of a passage that share the most words with the question, in their order."""
    units = _units(content)
    if not units:
        return content.strip()
    stems = {_stem(t) for t in terms}

    def overlap(unit: str) -> int:
        return len(stems & {_stem(w) for w in query_terms(unit)})

    scores = [overlap(u) for u in units]
    best = max(scores)
    if best == 0:
        chosen = list(range(min(2, len(units))))
    else:
        top = sorted(range(len(units)), key=lambda i: (-scores[i], i))[:MAX_UNITS]
        chosen = sorted(i for i in top if scores[i] >= max(1, best // 2))
        # A step list is usually the answer: keep the list that follows a matching sentence.
        for i in list(chosen):
            if i + 1 < len(units) and _LIST_ITEM.match(units[i + 1]) and i + 1 not in chosen:
                chosen.append(i + 1)
        chosen = sorted(chosen)[:MAX_UNITS]
    return "\n\n".join(_clean(units[i]) for i in chosen)


def _clean(unit: str) -> str:
    return unit.replace("**", "").strip()
