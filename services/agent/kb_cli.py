"""`fte kb ingest` and `fte kb search`, against DATABASE_URL or the embedded store of a data dir."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from services.agent.embeddings import shared_embedder
from services.agent.kb import collect_documents, ingest, source_of
from services.agent.retrieval import HybridRetriever
from shared.db import create_pool, migrate
from shared.embedded import EmbeddedPostgres
from shared.settings import Settings


@contextlib.asynccontextmanager
async def _pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    postgres = None
    dsn = settings.database_url
    if not dsn:
        # Shares the server of a running `fte up` on the same data dir, or starts it for this command.
        postgres = EmbeddedPostgres(Path(settings.data_dir).resolve() / "postgres").start()
        dsn = postgres.url
    await migrate(dsn)
    pool = await create_pool(dsn, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()
        if postgres:
            postgres.stop()


async def run(args: argparse.Namespace, settings: Settings) -> int:
    async with _pool(settings) as pool:
        embedder = shared_embedder(settings)
        if args.kb_command == "ingest":
            for path in args.paths:
                report = await ingest(pool, collect_documents([path]), source=source_of(path), embedder=embedder)
                print(
                    f"{path}: {report.chunks} sections; {report.added} document(s) loaded, {report.unchanged} "
                    f"unchanged, {report.removed_documents} removed; {report.embedded} sections embedded"
                )
            return 0
        hits = await HybridRetriever(pool, embedder).search(args.query, limit=args.limit)
        if not hits:
            print("no hits")
        for rank, hit in enumerate(hits, 1):
            text = "-" if hit.text_score is None else f"{hit.text_score:.3f}"
            vector = "-" if hit.vector_score is None else f"{hit.vector_score:.3f}"
            print(f"{rank}. relevance {hit.score:.3f} (text {text}, vector {vector})  {hit.document}")
            print(f"   [{hit.heading_path}] {hit.content[:140].replace(chr(10), ' ')}")
        return 0
