"""The evaluation folder loader: JSON variants, labels, skipped tickets and knowledge-base discovery."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.eval.dataset import DatasetError, expected_action, knowledge_base_files, load_dataset, parse_tickets

FIXTURE = Path(__file__).parents[1] / "fixtures" / "eval_company"


def _ticket(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "channel": "email",
        "customer_name": "Ana Ruiz",
        "customer_email": "ana@example.com",
        "subject": "A question",
        "message": "How do I export my data?",
    }
    base.update(fields)
    return base


def _folder(tmp_path: Path, tickets: object, *, where: str = "") -> Path:
    target = tmp_path / where if where else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    (target / "sample-tickets.json").write_text(json.dumps(tickets), encoding="utf-8")
    return tmp_path


def test_the_fixture_folder_loads_with_its_knowledge_base_and_labels() -> None:
    dataset = load_dataset(FIXTURE)
    assert [p.relative_to(FIXTURE).as_posix() for p in dataset.kb_files] == [
        "product-docs.md",
        "context/account.md",
        "context/billing.md",
    ]
    assert {t.channel for t in dataset.tickets} == {"email", "whatsapp", "web"}
    by_id = {t.id: t for t in dataset.tickets}
    assert by_id["SW-01"].expects_escalation is False
    assert by_id["SW-04"].expects_escalation is True and by_id["SW-04"].escalation_reason == "refund"
    assert by_id["SW-06"].expects_escalation is True  # category "escalation"
    assert by_id["SW-07"].expects_escalation is True  # category "Escalation" (any case)
    assert by_id["SW-09"].expects_escalation is None  # no label at all
    assert dataset.skipped == () and dataset.warnings == ()


@pytest.mark.parametrize("key", ["tickets", "samples", "items", "whatever"])
def test_the_list_may_sit_under_a_key(tmp_path: Path, key: str) -> None:
    dataset = load_dataset(_folder(tmp_path, {"company": "X", key: [_ticket(), _ticket()]}))
    assert len(dataset.tickets) == 2


def test_tickets_file_in_context_and_kb_files_on_both_levels(tmp_path: Path) -> None:
    _folder(tmp_path, [_ticket()], where="context")
    (tmp_path / "product-docs.md").write_text("# Docs\n\nText.")
    (tmp_path / "README.md").write_text("# About this folder")
    (tmp_path / "notes.txt").write_text("not markdown")
    (tmp_path / "context" / "faq.md").write_text("# FAQ")
    (tmp_path / "context" / "deep").mkdir()
    (tmp_path / "context" / "deep" / "policy.MD").write_text("# Policy")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "ignored.md").write_text("# Not at the top, not in context/")
    found = [p.relative_to(tmp_path).as_posix() for p in knowledge_base_files(tmp_path)]
    assert found == ["product-docs.md", "context/deep/policy.MD", "context/faq.md"]
    assert len(load_dataset(tmp_path).tickets) == 1


def test_a_folder_without_knowledge_base_still_loads_with_a_warning(tmp_path: Path) -> None:
    dataset = load_dataset(_folder(tmp_path, [_ticket()]))
    assert dataset.kb_files == ()
    assert any("knowledge-base" in w for w in dataset.warnings)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not json", "not valid JSON"),
        ('{"a": 1}', "must hold a list"),
        ('{"a": [], "b": []}', "must hold a list"),
        ("[]", "no ticket that can be sent"),
    ],
)
def test_unusable_files_are_dataset_errors(tmp_path: Path, raw: str, message: str) -> None:
    (tmp_path / "sample-tickets.json").write_text(raw)
    with pytest.raises(DatasetError, match=message):
        load_dataset(tmp_path)


def test_missing_folder_or_file_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a folder"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="no sample-tickets.json"):
        load_dataset(tmp_path)


def test_channel_spellings_and_skipped_tickets() -> None:
    tickets, skipped, _ = parse_tickets(
        [
            _ticket(channel="Web Form"),
            _ticket(channel="web-form"),
            _ticket(channel="WhatsApp"),
            _ticket(channel="gmail"),
            _ticket(channel="fax"),
            _ticket(message="   "),
            "not an object",
        ]
    )
    assert [t.channel for t in tickets] == ["web", "web", "whatsapp", "email"]
    assert [(s.id, s.reason) for s in skipped] == [
        ("T005", "unknown channel 'fax'"),
        ("T006", "no message"),
        ("#7", "not a JSON object"),
    ]


def test_field_aliases_nested_customer_and_ids() -> None:
    tickets, _, _ = parse_tickets(
        [
            {"ticket_id": 7, "channel": "whatsapp", "body": "hi there", "customer": {"name": "Bo", "phone": "+1 555"}},
            {"id": "A", "channel": "email", "content": "one", "title": "Subject", "email": "a@example.com"},
            {"id": "A", "channel": "email", "text": "two"},
        ]
    )
    assert [t.id for t in tickets] == ["7", "A", "A-2"]
    assert tickets[0].message == "hi there" and tickets[0].customer_name == "Bo"
    assert tickets[0].customer_phone == "+1 555"
    assert tickets[1].subject == "Subject" and tickets[1].customer_email == "a@example.com"
    assert tickets[2].customer_email is None and tickets[2].subject == ""


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({}, None),
        ({"expected_action": "escalate"}, "escalate"),
        ({"expected_action": "Escalated"}, "escalate"),
        ({"expected_action": "resolve"}, "resolve"),
        ({"expected_action": "auto-resolve"}, "resolve"),
        ({"expected_category": "escalation"}, "escalate"),
        ({"category": "Escalation"}, "escalate"),
        ({"expected_category": "billing"}, "resolve"),
        ({"escalation_reason": "legal"}, "escalate"),
        ({"should_escalate": True}, "escalate"),
        ({"requires_escalation": False}, "resolve"),
        ({"expected_action": "maybe"}, None),
    ],
)
def test_expected_action_from_the_labels(labels: dict[str, object], expected: str | None) -> None:
    assert expected_action(labels)[0] == expected


def test_an_explicit_action_wins_over_the_category_with_a_warning() -> None:
    action, conflict = expected_action({"expected_action": "resolve", "expected_category": "escalation"})
    assert action == "resolve"
    assert conflict is not None and "overrides" in conflict
    _, _, warnings = parse_tickets([_ticket(id="X1", expected_action="resolve", category="escalation")])
    assert warnings and warnings[0].startswith("X1:")
