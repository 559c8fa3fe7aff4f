"""Brains write the reply. The offline default composes it from retrieved passages only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from services.agent.retrieval import Retriever, query_terms

MIN_SCORE = 0.05  # ts_rank_cd normalised (rank / (rank + 1)); below it, nothing relevant was found
MAX_UNITS = 4


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    subject: str | None = None
    customer_name: str | None = None
    channel: str = "web"

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
    """What a brain proposes. ``grounded`` is False when nothing relevant was found."""

    answer: str
    grounded: bool
    brain: str
    confidence: float
    citations: list[Citation] = field(default_factory=list)
    tokens: int | None = None


class Brain(Protocol):
    name: str

    async def answer(self, question: Question) -> Draft: ...


class GroundedBrain:
    """Answers with the sentences or steps of the best passage that match the question."""

    name = "grounded"

    def __init__(self, retriever: Retriever, *, min_score: float = MIN_SCORE) -> None:
        self.retriever = retriever
        self.min_score = min_score

    async def answer(self, question: Question) -> Draft:
        hits = await self.retriever.search(question.search_text, limit=5)
        relevant = [h for h in hits if h.score >= self.min_score]
        if not relevant:
            return Draft(answer="", grounded=False, brain=self.name, confidence=0.0)
        best = relevant[0]
        extract = extract_answer(best.content, query_terms(question.search_text))
        citations = [Citation(h.chunk_id, h.document, h.heading_path, h.score) for h in relevant[:3]]
        return Draft(
            answer=f"{extract}\n\nSource: {best.heading_path}",
            grounded=True,
            brain=self.name,
            confidence=round(min(1.0, best.score * 2), 3),
            citations=citations,
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
