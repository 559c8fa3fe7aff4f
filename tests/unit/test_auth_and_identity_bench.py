"""The bearer-token helpers, and the identity benchmark's generator (its variants must be what the
channels really send and must normalise to the person's identifiers)."""

from __future__ import annotations

from collections import Counter

import pytest

from services.bench_identity import generate, phone_variants, whatsapp_sender
from services.identity.normalize import normalize_email, normalize_phone
from services.ingress_web.form import validate_submission
from shared.auth import bearer_token, token_matches


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("BEARER abc", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        ("abc", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


def test_token_matches() -> None:
    assert token_matches("s3cret", "s3cret")
    assert not token_matches("s3cre", "s3cret")
    assert not token_matches(None, "s3cret")
    assert not token_matches("sécret", "s3cret")  # non-ASCII input does not raise


def test_the_workload_has_every_variant_the_issue_names() -> None:
    workload = generate(300, seed=3)
    stats = workload.stats
    assert stats["people"] == 300 and stats["messages"] > 600
    assert stats["colleagues on a shared company domain"] > 10
    assert stats["people sharing a first name with someone"] > 100
    assert stats["people sharing a full name with someone"] >= 2
    assert Counter(p.journey for p in workload.people).keys() >= {
        "web, whatsapp, email",
        "web and whatsapp at the same moment, then email",
        "whatsapp then email, nothing links them",
    }
    days = {m.at.date() for ms in workload.messages for m in ms}
    assert len(days) >= 7


def test_every_generated_identifier_normalises_to_its_person_and_passes_the_form() -> None:
    workload = generate(200, seed=11)
    for person, messages in zip(workload.people, workload.messages, strict=True):
        for message in messages:
            if message.phone:
                assert normalize_phone(message.phone) == person.phone
            if message.email:
                assert normalize_email(message.email) == person.email
            if message.channel == "whatsapp":
                assert message.phone and message.phone.startswith("whatsapp:+")
            if message.channel == "web":
                fields = {"name": message.name, "email": message.email, "phone": message.phone or ""}
                fields |= {"subject": "A question", "message": message.body, "category": "general"}
                assert validate_submission(fields)[1] == {}


def test_five_phone_formats_and_the_whatsapp_forms() -> None:
    assert phone_variants("+14155550123") == [
        "+14155550123",
        "+1 415-555-0123",
        "(415) 555-0123",
        "+1.4155550123",
        "+1-415-555-0123",
    ]
    assert phone_variants("+447400123456")[2] == "00 44 7400 123456"  # no national form abroad
    assert whatsapp_sender("+522221234567") == "whatsapp:+5212221234567"  # WhatsApp's legacy Mexican form
