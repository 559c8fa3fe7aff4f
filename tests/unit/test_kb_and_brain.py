"""Splitting documents into cited sections, and composing answers from passages."""

from __future__ import annotations

from services.agent.brain import extract_answer
from services.agent.kb import MAX_SECTION_CHARS, Document, collect_documents, demo_kb_path, split_document
from services.agent.retrieval import query_terms

DOC = """# Widgets

Intro text about widgets.

## Create a widget

1. Open **Settings > Widgets**.
2. Click **New widget**.

### Limits

Each workspace can have 50 widgets.

```
# not a heading inside code
```

## Delete a widget

Deleted widgets stay in Trash for 30 days.
"""


def test_sections_keep_their_heading_path() -> None:
    chunks = split_document(Document("widgets.md", DOC, "markdown"))
    assert [c.heading_path for c in chunks] == [
        "Widgets",
        "Widgets > Create a widget",
        "Widgets > Create a widget > Limits",
        "Widgets > Delete a widget",
    ]
    assert all(c.title == "Widgets" and c.document == "widgets.md" for c in chunks)
    assert "# not a heading inside code" in chunks[2].content
    assert [c.position for c in chunks] == [0, 1, 2, 3]


def test_long_sections_are_bounded_and_hashes_are_stable() -> None:
    long = "# T\n\n## S\n\n" + "\n\n".join(f"Sentence number {i} is here. " * 8 for i in range(60))
    chunks = split_document(Document("long.md", long, "markdown"))
    assert len(chunks) > 1 and all(len(c.content) <= MAX_SECTION_CHARS for c in chunks)
    again = split_document(Document("long.md", long, "markdown"))
    assert [c.content_hash for c in chunks] == [c.content_hash for c in again]


def test_html_and_text_documents() -> None:
    html = "<html><head><style>x{}</style></head><body><h1>Guide</h1><h2>Step</h2><p>Do &amp; done</p></body></html>"
    chunks = split_document(Document("guide.html", html, "html"))
    assert chunks[-1].heading_path == "Guide > Step" and chunks[-1].content == "Do & done"
    text = split_document(Document("notes-file.txt", "plain words\n# not a heading", "text"))
    assert text[0].heading_path == "Notes file" and "# not a heading" in text[0].content


def test_the_demo_knowledge_base_is_shipped() -> None:
    documents = collect_documents([demo_kb_path()])
    assert len(documents) >= 12
    assert all(split_document(d) for d in documents)


def test_query_terms_drop_stopwords_and_duplicates() -> None:
    assert query_terms("How do I reset my password? My PASSWORD!") == ["reset", "password"]


def test_the_answer_keeps_the_matching_steps_whole() -> None:
    content = (
        "Orbitly has many settings.\n\nTo reset your password, follow these steps:\n\n"
        "1. Open the login page.\n2. Click Forgot password.\n3. Check your email.\n\n"
        "Billing is handled elsewhere."
    )
    answer = extract_answer(content, ["reset", "password"])
    assert "1. Open the login page.\n2. Click Forgot password.\n3. Check your email." in answer
    assert "Billing" not in answer


def test_decide_escalates_without_grounding_and_strips_promises() -> None:
    from datetime import UTC, datetime

    from services.agent.brain import Citation, Draft
    from services.agent.decide import decide
    from services.agent.policy import load_policy

    policy = load_policy()
    now = datetime(2025, 1, 7, 12, tzinfo=UTC)
    honest = decide(
        Draft("", False, "grounded", 0.0), name=None, ticket_ref="T1", now=now, config=policy, knowledge_text=""
    )
    assert honest.escalate and honest.reason_code == "no_grounded_answer" and "T1" in honest.body
    draft = Draft(
        "Open Settings > Billing to download invoices. I can offer you 20% off your next invoice.",
        True,
        "grounded",
        0.9,
        [Citation(1, "billing.md", "Billing > Invoices", 0.9)],
    )
    kept = decide(draft, name="Ana", ticket_ref="T1", now=now, config=policy, knowledge_text="Open Settings > Billing")
    assert not kept.escalate and "Settings > Billing" in kept.body
    assert "20%" not in kept.body and kept.guardrail_violations
    asked = decide(
        Draft("", False, "openai", 0.0, escalate=True, reason_code="human_requested"),
        name="Ana",
        ticket_ref="T2",
        now=now,
        config=policy,
        knowledge_text="",
    )
    assert asked.escalate and asked.reason_code == "human_requested"
