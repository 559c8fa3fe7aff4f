"""Retrieval from the knowledge base: PostgreSQL full-text search ranked by cover density."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import asyncpg

from services.agent.embeddings import Embedder, as_vector

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
    #: Relevance in [0, 1] that the no-answer threshold applies to (see ``relevance``).
    score: float
    text_score: float | None = None
    vector_score: float | None = None


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
            Hit(
                r["id"],
                r["document"],
                r["title"],
                r["heading_path"],
                r["content"],
                relevance(float(r["score"]), None),
                text_score=float(r["score"]),
            )
            for r in rows
        ]


RRF_K = 60
CANDIDATES = 20
# Thresholds, measured on the demo knowledge base with on- and off-topic questions (docs/evaluation.md):
# all-MiniLM-L6-v2 cosine similarity, and ts_rank_cd normalised as rank / (rank + 1).
VECTOR_RELEVANT = 0.45  # with a keyword match
VECTOR_ALONE = 0.55  # without any keyword match
TEXT_RELEVANT = 0.6  # with a semantic match
TEXT_ALONE = 0.7  # full-text only (no embedding model)


def relevance(text_score: float | None, vector_score: float | None) -> float:
    """One number in [0, 1] per passage, 0.5 at the no-answer threshold. Both signals must agree when
    both exist: keywords alone match off-topic questions that share words with an article, and the
    embedding alone rates "Can <product> do my taxes?" close to the product's overview."""
    if text_score is not None and vector_score is not None:
        ratio = min(text_score / TEXT_RELEVANT, max(vector_score, 0.0) / VECTOR_RELEVANT)
    elif vector_score is not None:
        ratio = max(vector_score, 0.0) / VECTOR_ALONE
    elif text_score is not None:
        ratio = text_score / TEXT_ALONE
    else:
        return 0.0
    return round(min(1.0, 0.5 * ratio), 4)


class HybridRetriever:
    """Full text and pgvector cosine (HNSW), fused by reciprocal rank; each hit keeps both signals."""

    def __init__(self, pool: asyncpg.Pool, embedder: Embedder | None) -> None:
        self.pool = pool
        self.embedder = embedder
        self.text = FullTextRetriever(pool)

    async def search(self, query: str, *, limit: int = 5) -> list[Hit]:
        text_hits = await self.text.search(query, limit=CANDIDATES)
        vector_hits, similarity = await self._vector_search(query, [h.chunk_id for h in text_hits])
        fused: dict[int, float] = {}
        by_id: dict[int, Hit] = {}
        text_scores = {h.chunk_id: h.text_score for h in text_hits}
        # Every candidate's similarity, also for keyword hits outside the vector top list: a keyword
        # match alone is not trusted when the passage is semantically far from the question.
        vector_scores = {**similarity, **{h.chunk_id: h.score for h in vector_hits}}
        for ranked in (text_hits, vector_hits):
            for rank, hit in enumerate(ranked):
                fused[hit.chunk_id] = fused.get(hit.chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
                by_id.setdefault(hit.chunk_id, hit)
        order = sorted(fused, key=lambda cid: -fused[cid])[:limit]
        return [
            Hit(
                by_id[cid].chunk_id,
                by_id[cid].document,
                by_id[cid].title,
                by_id[cid].heading_path,
                by_id[cid].content,
                relevance(text_scores.get(cid), vector_scores.get(cid)),
                text_scores.get(cid),
                vector_scores.get(cid),
            )
            for cid in order
        ]

    async def _vector_search(self, query: str, also: list[int]) -> tuple[list[Hit], dict[int, float]]:
        """The sections nearest to the question (a section is as near as its nearest passage), and
        the similarity of the ``also`` sections (when embedded)."""
        if self.embedder is None:
            return [], {}
        [vector] = await self.embedder.embed([query])
        query_vector = as_vector(vector)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL hnsw.ef_search = 100")
            nearest = await conn.fetch(
                """SELECT chunk_id, 1 - (embedding <=> $1) AS similarity FROM knowledge_passages
                   WHERE embedding IS NOT NULL ORDER BY embedding <=> $1 LIMIT $2""",
                query_vector,
                CANDIDATES * 4,
            )
            whole = await conn.fetch(
                """SELECT id AS chunk_id, 1 - (embedding <=> $1) AS similarity FROM knowledge_chunks
                   WHERE embedding IS NOT NULL ORDER BY embedding <=> $1 LIMIT $2""",
                query_vector,
                CANDIDATES,
            )
            extra = await conn.fetch(
                """SELECT chunk_id, max(similarity) AS similarity FROM (
                       SELECT chunk_id, 1 - (embedding <=> $1) AS similarity FROM knowledge_passages
                       WHERE chunk_id = ANY($2::bigint[]) AND embedding IS NOT NULL
                       UNION ALL
                       SELECT id, 1 - (embedding <=> $1) FROM knowledge_chunks
                       WHERE id = ANY($2::bigint[]) AND embedding IS NOT NULL) s
                   GROUP BY chunk_id""",
                query_vector,
                also,
            )
            best: dict[int, float] = {}
            for row in [*nearest, *whole]:
                best[row["chunk_id"]] = max(best.get(row["chunk_id"], -1.0), float(row["similarity"]))
            top = sorted(best, key=lambda cid: -best[cid])[:CANDIDATES]
            rows = await conn.fetch(
                "SELECT id, document, title, heading_path, content FROM knowledge_chunks WHERE id = ANY($1::bigint[])",
                top,
            )
        by_id = {r["id"]: r for r in rows}
        hits = [
            Hit(
                cid,
                by_id[cid]["document"],
                by_id[cid]["title"],
                by_id[cid]["heading_path"],
                by_id[cid]["content"],
                best[cid],
            )
            for cid in top
            if cid in by_id
        ]
        return hits, {r["chunk_id"]: float(r["similarity"]) for r in extra}
