"""Retrieval from the knowledge base: PostgreSQL full-text search ranked by cover density."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import asyncpg

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'+-]*")
STOPWORDS = frozenset(
    """a about after again all also am an and any are as at be because been before being but by can
    could did do does doing don for from had has have having he her here hers him his how i if in into
    is it its just me more most my myself no nor not now of off on once only or other our ours out
    over own please same she should so some such than thank thanks that the their them then there
    these they this those through to too under until up very was we were what when where which while
    who whom why will with would you your yours hi hello hey dear regards team help need want get""".split()
)


@dataclass(frozen=True, slots=True)
class Hit:
    chunk_id: int
    document: str
    title: str
    heading_path: str
    content: str
    score: float


class Retriever(Protocol):
    async def search(self, query: str, *, limit: int = 5) -> list[Hit]: ...


def query_terms(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        word = word.strip("'-+")
        if len(word) >= 2 and word not in STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)


class FullTextRetriever:
    """Any of the question's words may match (``or``); ranking rewards sections that match many."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def search(self, query: str, *, limit: int = 5) -> list[Hit]:
        terms = query_terms(query)[:40]
        if not terms:
            return []
        rows = await self.pool.fetch(
            """SELECT id, document, title, heading_path, content,
                      ts_rank_cd(tsv, q, 32) AS score
               FROM knowledge_chunks, websearch_to_tsquery('english', $1) AS q
               WHERE tsv @@ q
               ORDER BY score DESC, id
               LIMIT $2""",
            " or ".join(terms),
            limit,
        )
        return [
            Hit(r["id"], r["document"], r["title"], r["heading_path"], r["content"], float(r["score"])) for r in rows
        ]
