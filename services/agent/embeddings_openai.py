"""Embeddings from any OpenAI-compatible endpoint, asked for the knowledge base's 384 dimensions."""

from __future__ import annotations

import openai

from services.agent.embeddings import DIMENSION
from shared.settings import Settings

MAX_BATCH = 256  # inputs per request; OpenAI accepts 2048, smaller servers much fewer


class EmbeddingError(RuntimeError):
    """The endpoint answered with something that does not fit the knowledge base's vector column."""


class OpenAIEmbedder:
    name = "openai"
    dimension = DIMENSION

    def __init__(
        self, settings: Settings, *, client: openai.AsyncOpenAI | None = None, batch_size: int = MAX_BATCH
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH}")
        self.model = settings.embedding_model
        self.batch_size = batch_size
        self.client = client or openai.AsyncOpenAI(
            api_key=settings.openai_api_key or "unused",
            base_url=settings.openai_base_url,
            max_retries=3,
            timeout=60.0,
        )

    async def embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors += await self._embed_batch(texts[start : start + self.batch_size])
        return vectors

    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        response = await self.client.embeddings.create(
            model=self.model,
            # The API refuses empty strings; a blank text embeds as a single space.
            input=[text if text.strip() else " " for text in texts],
            dimensions=self.dimension,
            encoding_format="float",
        )
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != len(texts):
            raise EmbeddingError(f"embedding endpoint returned {len(data)} vectors for {len(texts)} texts")
        for item in data:
            if len(item.embedding) != self.dimension:
                raise EmbeddingError(
                    f"embedding model {self.model!r} returned {len(item.embedding)} dimensions, expected "
                    f"{self.dimension}: choose a model that supports the `dimensions` parameter "
                    "(FTE_EMBEDDING_MODEL, e.g. text-embedding-3-small)"
                )
        return [list(item.embedding) for item in data]
