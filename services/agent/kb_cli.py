"""`fte kb ingest` and `fte kb search`, against DATABASE_URL or the embedded store of a data dir."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from services.agent.kb import collect_documents, ingest
from services.agent.retrieval import FullTextRetriever
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
        if args.kb_command == "ingest":
            report = await ingest(pool, collect_documents(args.paths), prune=args.prune)
            print(
                f"ingested {report.chunks} sections: {report.added} document(s) loaded, "
                f"{report.unchanged} unchanged, {report.removed_documents} removed"
            )
            return 0
        hits = await FullTextRetriever(pool).search(args.query, limit=args.limit)
        if not hits:
            print("no hits")
        for rank, hit in enumerate(hits, 1):
            print(f"{rank}. {hit.score:.3f}  {hit.document}  [{hit.heading_path}]")
            print(f"   {hit.content[:160].replace(chr(10), ' ')}")
        return 0
