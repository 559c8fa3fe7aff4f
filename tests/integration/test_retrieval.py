"""Hybrid retrieval on the demo knowledge base: the right section for real questions, and an
explicit no-answer for questions it does not cover."""

from __future__ import annotations

import pytest

from services.agent.brain import MIN_SCORE
from services.agent.embeddings import shared_embedder
from services.agent.kb import embed_missing
from services.agent.retrieval import HybridRetriever

ANSWERABLE = [
    ("How do I reset my password?", "Account and Login > Reset a forgotten password"),
    ("How can I connect Slack to my workspace?", "Slack Integration > Connect Slack"),
    ("Where can I download my invoices?", "Invoices and Payments > Find and download invoices"),
    ("How do I invite a teammate to my workspace?", "Invite your teammat"),
    ("Can I export all my boards to CSV?", "Data Export and Privacy > Export your data"),
    ("what is the API rate limit", "API and Webhooks > Rate limits"),
    ("Can I change the email address on my account?", "Account and Login > Change your email address"),
    ("how to set up SSO with Okta", "Security and Single Sign-On"),
]
NOT_COVERED = [
    "What is the weather in Paris tomorrow?",
    "Do you sell pizza?",
    "Can you recommend a good movie?",
    "How do I bake bread?",
    "who won the football match",
    "How do I train a neural network?",
]


@pytest.fixture
async def retriever(stack: object) -> HybridRetriever:
    runtime = stack.runtime  # type: ignore[attr-defined]
    embedder = shared_embedder(runtime.settings)
    if embedder is not None:
        await embed_missing(runtime.pool, embedder)
    return HybridRetriever(runtime.pool, embedder)


@pytest.mark.parametrize(("question", "expected"), ANSWERABLE)
async def test_questions_find_their_section(retriever: HybridRetriever, question: str, expected: str) -> None:
    hits = await retriever.search(question, limit=5)
    relevant = [h for h in hits if h.score >= MIN_SCORE]
    assert relevant, [(h.heading_path, h.score) for h in hits]
    assert expected in relevant[0].heading_path
    if retriever.embedder is not None:
        assert relevant[0].text_score is not None and relevant[0].vector_score is not None


@pytest.mark.parametrize("question", NOT_COVERED)
async def test_uncovered_questions_get_no_answer(retriever: HybridRetriever, question: str) -> None:
    hits = await retriever.search(question, limit=5)
    assert all(h.score < MIN_SCORE for h in hits), [(h.heading_path, h.score) for h in hits]
