"""Who sends each evaluation ticket and what they type into each channel (plain rules, no stack)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.eval.customers import (
    assign_customers,
    email_inbound,
    first_words,
    form_category,
    web_form,
    whatsapp_inbound,
)
from services.eval.dataset import Ticket
from services.ingress_web.form import validate_submission

NOW = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def _ticket(tid: str, channel: str = "web", **fields: object) -> Ticket:
    base: dict[str, object] = {
        "customer_name": "Ana Ruiz",
        "customer_email": f"{tid.lower()}@example.com",
        "customer_phone": None,
        "subject": "Exporting my data",
        "message": "How do I export all my data to CSV?",
    }
    base.update(fields)
    return Ticket(id=tid, channel=channel, **base)  # type: ignore[arg-type]


def test_each_ticket_gets_its_own_customer_with_the_identifiers_of_its_channel() -> None:
    tickets = [
        _ticket("W1", "web", customer_phone="(415) 555-0100"),
        _ticket("E1", "email"),
        _ticket("P1", "whatsapp", customer_phone="+44 7700 900111"),
    ]
    customers = assign_customers(tickets)
    assert customers["W1"].email == "w1@example.com" and customers["W1"].phone == "+14155550100"
    assert customers["E1"].email == "e1@example.com" and customers["E1"].phone is None
    assert customers["P1"].phone == "+447700900111" and customers["P1"].email is None


def test_the_same_identifier_under_the_same_name_is_one_customer_on_purpose() -> None:
    tickets = [
        _ticket("A", "email", customer_email="Sam@Example.com", customer_name="Sam Lee"),
        _ticket("B", "web", customer_email="sam@example.com ", customer_name="sam lee"),
    ]
    customers = assign_customers(tickets)
    assert customers["A"].email == customers["B"].email == "sam@example.com"


def test_a_placeholder_identifier_shared_by_different_names_is_made_distinct() -> None:
    tickets = [
        _ticket("A", "email", customer_email="customer@example.com", customer_name="Sam Lee"),
        _ticket("B", "email", customer_email="customer@example.com", customer_name="Kim Park"),
        _ticket("C", "whatsapp", customer_phone="+447700900222", customer_name="Sam Lee"),
        _ticket("D", "whatsapp", customer_phone="+447700900222", customer_name="Kim Park"),
    ]
    customers = assign_customers(tickets)
    assert customers["A"].email == "customer@example.com"
    assert customers["B"].email == "eval-b@example.com"
    assert customers["C"].phone == "+447700900222"
    assert customers["D"].phone not in (None, "+447700900222")


def test_missing_or_unusable_identifiers_are_replaced_by_reserved_ones() -> None:
    tickets = [
        _ticket("E 1", "email", customer_email=None),
        _ticket("E2", "email", customer_email="not an address"),
        _ticket("P1", "whatsapp", customer_phone=None),
        _ticket("P2", "whatsapp", customer_phone="call me"),
        _ticket("W1", "web", customer_phone="12"),
    ]
    customers = assign_customers(tickets)
    assert customers["E 1"].email == "eval-e-1@example.com"
    assert customers["E2"].email == "eval-e2@example.com"
    phones = {customers["P1"].phone, customers["P2"].phone}
    assert len(phones) == 2 and all(p and p.startswith("+4477009") for p in phones)
    assert customers["W1"].phone is None  # the form does not need one


def test_a_blank_name_gets_one() -> None:
    customers = assign_customers([_ticket("X9", customer_name=" ")])
    assert customers["X9"].name == "Customer X9"


def test_web_form_sends_the_ticket_as_typed_when_the_form_accepts_it() -> None:
    ticket = _ticket("W1", category="billing")
    form = web_form(ticket, assign_customers([ticket])["W1"])
    assert form.body == {
        "name": "Ana Ruiz",
        "email": "w1@example.com",
        "subject": "Exporting my data",
        "category": "billing",
        "message": "How do I export all my data to CSV?",
    }
    assert form.notes == ()


@pytest.mark.parametrize(
    ("subject", "message", "expected_subject", "expected_message"),
    [
        ("Hi", "I forgot my password, how do I reset it?", "I forgot my password, how do I reset it?", None),
        ("", "human", "human", "human (no further details)"),
        ("", "hi", "Support request", "hi (no further details)"),
        ("Refund", "refund!", "Refund", "Refund: refund!"),
        ("Help", "x" * 6000, None, None),
    ],
)
def test_web_form_adjusts_what_the_form_would_refuse(
    subject: str, message: str, expected_subject: str | None, expected_message: str | None
) -> None:
    ticket = _ticket("W1", subject=subject, message=message)
    form = web_form(ticket, assign_customers([ticket])["W1"])
    assert validate_submission(form.body)[1] == {}
    assert form.notes
    if expected_subject is not None:
        assert form.body["subject"] == expected_subject
    if expected_message is not None:
        assert form.body["message"] == expected_message


def test_web_form_subject_from_a_long_message_is_cut_between_words() -> None:
    ticket = _ticket(
        "W1", subject="", message="Please explain how the automatic weekly schedule export works for managers"
    )
    form = web_form(ticket, assign_customers([ticket])["W1"])
    assert form.body["subject"] == "Please explain how the automatic weekly schedule export"
    assert len(form.body["subject"]) <= 60


@pytest.mark.parametrize(
    ("category", "expected"),
    [("billing", "billing"), ("bug", "bug_report"), ("escalation", "general"), (None, "general"), ("x", "general")],
)
def test_form_category(category: str | None, expected: str) -> None:
    assert form_category(category) == expected


def test_first_words() -> None:
    assert first_words("  short\n text ", 60) == "short text"
    assert first_words("alpha beta gamma", 12) == "alpha beta"
    assert first_words("a" * 30, 10) == "a" * 10


def test_inbound_events_look_like_the_ingress_ones() -> None:
    tickets = [_ticket("P1", "whatsapp", customer_phone="+447700900111"), _ticket("E1", "email", subject="")]
    customers = assign_customers(tickets)
    wa = whatsapp_inbound(tickets[0], customers["P1"], sid="SMabc", now=NOW)
    assert (wa.event_id, wa.channel, wa.phone, wa.email, wa.subject) == (
        "twilio:SMabc",
        "whatsapp",
        "+447700900111",
        None,
        None,
    )
    assert wa.body == tickets[0].message and wa.sender_name == "Ana Ruiz" and wa.provider_message_id == "SMabc"
    mail = email_inbound(tickets[1], customers["E1"], gmail_id="18c0ffee", now=NOW)
    assert (mail.event_id, mail.channel, mail.email, mail.phone) == ("gmail:18c0ffee", "email", "e1@example.com", None)
    assert mail.subject == "How do I export all my data to CSV?"  # no subject: the first words of the message
