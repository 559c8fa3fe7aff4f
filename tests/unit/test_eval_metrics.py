"""The evaluation figures over hand-made outcome records (no stack)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from services.eval.dataset import Ticket
from services.eval.metrics import escalation_counts, grounded_answer_rate, latency, score, trigger_scores
from services.eval.records import Outcome, ReplyRecord
from services.eval.report import RunInfo, render_text, to_json
from services.eval.triggers import codes_for, label_key


def _ticket(tid: str, action: str | None, *, reason: str | None = None, channel: str = "web") -> Ticket:
    return Ticket(
        id=tid,
        channel=channel,  # type: ignore[arg-type]
        customer_name="Ana Ruiz",
        customer_email="ana@example.com",
        customer_phone=None,
        subject="A question",
        message="A message",
        expected_action=action,  # type: ignore[arg-type]
        escalation_reason=reason,
    )


WEB_OK = "Hi Ana,\n\nHere is how.\n\nSupport"


def _reply(*, grounded: bool = True, latency_ms: int = 100, content: str = WEB_OK, **fmt: object) -> ReplyRecord:
    metadata = {"format": fmt} if fmt else {}
    return ReplyRecord(
        channel="web",
        content=content,
        grounding={
            "brain": "grounded",
            "grounded": grounded,
            "confidence": 0.8,
            "citations": [{"chunk_id": 1, "document": "faq.md"}, {"chunk_id": 2, "document": "faq.md"}],
        },
        metadata=metadata,
        latency_ms=latency_ms,
    )


def _answered(ticket: Ticket, **reply: object) -> Outcome:
    return Outcome(ticket, escalated=False, reply=_reply(**reply), e2e_ms=500.0)  # type: ignore[arg-type]


def _escalated(ticket: Ticket, code: str | None) -> Outcome:
    return Outcome(ticket, escalated=True, reason_code=code, reply=_reply(grounded=False), e2e_ms=400.0)


def _timeout(ticket: Ticket) -> Outcome:
    return Outcome(ticket)


def _not_sent(ticket: Ticket) -> Outcome:
    return Outcome(ticket, sent=False, error="the form answered 422")


def test_confusion_counts_precision_recall_accuracy() -> None:
    outcomes = [
        _escalated(_ticket("1", "escalate"), "security"),  # tp
        _escalated(_ticket("2", "escalate"), "pricing_negotiation"),  # tp
        _answered(_ticket("3", "escalate")),  # fn
        _escalated(_ticket("4", "resolve"), "no_grounded_answer"),  # fp
        _answered(_ticket("5", "resolve")),  # tn
        _answered(_ticket("6", "resolve")),  # tn
        _answered(_ticket("7", None)),  # unlabelled: not counted
    ]
    esc = escalation_counts(outcomes)
    assert (esc.true_positive, esc.false_positive, esc.true_negative, esc.false_negative) == (2, 1, 2, 1)
    assert esc.precision.value == pytest.approx(2 / 3)
    assert esc.recall.value == pytest.approx(2 / 3)
    assert esc.accuracy.value == pytest.approx(4 / 6)


def test_tickets_without_outcome_are_never_right() -> None:
    outcomes = [
        _timeout(_ticket("1", "escalate")),  # nobody was told: a miss
        _not_sent(_ticket("2", "escalate")),
        _timeout(_ticket("3", "resolve")),  # not a false escalation, but not right either
        _escalated(_ticket("4", "escalate"), "security"),
    ]
    esc = escalation_counts(outcomes)
    assert (esc.true_positive, esc.false_positive, esc.false_negative, esc.undecided) == (1, 0, 2, 1)
    assert esc.recall.value == pytest.approx(1 / 3)
    assert esc.precision.value == 1.0
    assert esc.accuracy.value == pytest.approx(1 / 4)


def test_empty_denominators_give_no_value() -> None:
    esc = escalation_counts([_answered(_ticket("1", None))])
    assert esc.precision.value is None and esc.recall.value is None and esc.accuracy.value is None
    assert latency([]).p50 is None


def test_accuracy_per_trigger_with_mapped_and_unknown_labels() -> None:
    outcomes = [
        _escalated(_ticket("1", "escalate", reason="Pricing_Negotiation"), "pricing_negotiation"),
        _escalated(_ticket("2", "escalate", reason="pricing negotiation"), "no_grounded_answer"),
        _answered(_ticket("3", "escalate", reason="pricing negotiation")),
        _escalated(_ticket("4", "escalate", reason="angry customer"), "profanity"),
        _escalated(_ticket("5", "escalate", reason="vip account"), "human_requested"),
        _escalated(_ticket("6", "escalate"), "security"),
        _escalated(_ticket("7", "resolve", reason="pricing"), "pricing_negotiation"),  # not expected to escalate
    ]
    scores = {t.label: t for t in trigger_scores(outcomes)}
    assert list(scores) == ["pricing negotiation", "angry customer", "vip account", "(no reason label)"]
    pricing = scores["pricing negotiation"]
    assert (pricing.tickets, pricing.escalated, pricing.right_reason) == (3, 2, 1)
    assert pricing.codes == ("pricing_negotiation",)
    assert scores["angry customer"].right_reason == 1  # profanity counts for an angry customer
    assert scores["vip account"].right_reason is None and scores["vip account"].escalated == 1
    assert scores["(no reason label)"].right_reason is None


@pytest.mark.parametrize(
    ("label", "codes"),
    [
        ("refund", ("refund_or_billing_dispute",)),
        ("billing-dispute", ("refund_or_billing_dispute",)),
        ("Legal / GDPR request", ("legal_compliance",)),
        ("data breach", ("security",)),
        ("human_requested", ("human_requested",)),
        ("asks for a representative", ("human_requested",)),
        ("negative sentiment", ("negative_sentiment", "profanity")),
        ("cancellation", ("cancellation",)),
        ("outage", ("incident",)),
        ("service down", ("incident",)),
        ("downgrade question", None),
        ("", None),
        (None, None),
    ],
)
def test_label_to_reason_codes(label: str | None, codes: tuple[str, ...] | None) -> None:
    assert codes_for(label) == codes


def test_label_key_normalises_spelling() -> None:
    assert label_key("  Human_Requested ") == "human requested"


def test_grounded_answer_rate_counts_answered_expected_resolve_tickets_only() -> None:
    outcomes = [
        _answered(_ticket("1", "resolve"), grounded=True),
        _answered(_ticket("2", "resolve"), grounded=False),
        _answered(_ticket("3", "escalate"), grounded=False),  # a missed escalation, not in this rate
        _escalated(_ticket("4", "resolve"), "no_grounded_answer"),  # escalated: not an answer
        _answered(_ticket("5", None), grounded=False),  # unlabelled
    ]
    rate = grounded_answer_rate(outcomes)
    assert (rate.hits, rate.total) == (1, 2)


def test_format_compliance_uses_the_stored_channel_format() -> None:
    whatsapp = ReplyRecord(
        channel="whatsapp",
        content="(1/2) first\n\n(2/2) second",
        metadata={"format": {"html": None, "parts": ["(1/2) first", "(2/2) second"]}},
    )
    email_without_html = ReplyRecord(channel="email", content="Dear Ana,\n\nText.\n\nTicket reference: X")
    web_too_long = _reply(content="Hi Ana,\n\n" + "word " * 400)
    outcomes = [
        Outcome(_ticket("1", "resolve", channel="whatsapp"), escalated=False, reply=whatsapp),
        Outcome(_ticket("2", "resolve", channel="email"), escalated=False, reply=email_without_html),
        Outcome(_ticket("3", "resolve"), escalated=False, reply=web_too_long),
        _answered(_ticket("4", "resolve")),
    ]
    result = score(outcomes)
    assert (result.format_compliance.hits, result.format_compliance.total) == (2, 4)
    rows = {r.id: r for r in result.rows}
    assert any("HTML" in p for p in rows["2"].format_problems)
    assert any("words" in p for p in rows["3"].format_problems)
    assert rows["1"].format_problems == () and rows["4"].format_problems == ()


def test_wrong_tickets_say_why() -> None:
    outcomes = [
        _answered(_ticket("ok", "resolve")),
        _answered(_ticket("miss", "escalate", reason="refund"), grounded=False),
        _escalated(_ticket("extra", "resolve"), "negative_sentiment"),
        _answered(_ticket("ungrounded", "resolve"), grounded=False),
        _escalated(_ticket("reason", "escalate", reason="legal"), "security"),
        _timeout(_ticket("late", "resolve")),
        _not_sent(_ticket("refused", None)),
    ]
    result = score(outcomes, timeout=30)
    wrong = {r.id: r.wrong for r in result.wrong}
    assert "ok" not in wrong
    assert wrong["miss"][0] == "missed escalation (refund)"
    assert "ungrounded answer" in wrong["miss"]
    assert wrong["extra"] == ("unnecessary escalation (negative_sentiment)",)
    assert wrong["ungrounded"] == ("ungrounded answer",)
    assert wrong["reason"] == ("escalated as security, label says legal",)
    assert wrong["late"] == ("timeout: no outcome within 30 s",)
    assert wrong["refused"] == ("not sent: the form answered 422",)
    assert result.timeouts == 1 and result.not_sent == 1


def test_latency_percentiles_of_the_replies() -> None:
    outcomes = [_answered(_ticket(str(i), "resolve"), latency_ms=ms) for i, ms in enumerate(range(10, 110, 10))]
    result = score(outcomes)
    assert result.agent_latency_ms.count == 10
    assert result.agent_latency_ms.p50 in (50, 60)
    assert result.agent_latency_ms.p95 == 100
    assert result.end_to_end_ms.p50 == 500.0


def test_report_as_text_and_json() -> None:
    outcomes = [
        _escalated(_ticket("A-1", "escalate", reason="refund"), "refund_or_billing_dispute"),
        _answered(_ticket("A-2", "resolve")),
        replace(_answered(_ticket("A-3", "escalate", reason="vip")), notes=("subject taken from the message",)),
        _timeout(_ticket("A-4", "resolve")),
    ]
    info = RunInfo(
        dataset="/data/acme",
        kb_files=2,
        kb_sections=10,
        channels={"web": 4},
        routes={"web": "web form"},
        timeout_s=30,
        rate=10,
        duration_s=12.3,
        skipped=(("A-9", "no message"),),
        notes=("email: the simulator failed",),
    )
    result = score(outcomes, timeout=30)
    text = render_text(info, result)
    for expected in (
        "precision",
        "recall (must-escalate)",
        "accuracy",
        "accuracy per trigger",
        "refund",
        "grounded-answer rate",
        "channel-format compliance",
        "agent latency",
        "tickets we got wrong (2",
        "A-3",
        "missed escalation (vip)",
        "A-9",
        "the simulator failed",
    ):
        assert expected in text, expected
    data = json.loads(json.dumps(to_json(info, result)))
    assert data["escalation"]["recall"] == {"value": 0.5, "hits": 1, "total": 2}
    assert data["escalation"]["must_escalate_recall"] == data["escalation"]["recall"]
    assert data["triggers"][0]["label"] == "refund" and data["triggers"][0]["right_reason"] == 1
    assert [w["id"] for w in data["wrong"]] == ["A-3", "A-4"]
    assert len(data["rows"]) == 4 and data["rows"][2]["notes"] == ["subject taken from the message"]
    assert data["rows"][1]["cited"] == ["faq.md"] and data["rows"][1]["reply"] == WEB_OK
    assert data["rows"][3]["reply"] is None
    assert data["run"]["skipped"] == [{"id": "A-9", "reason": "no message"}]
