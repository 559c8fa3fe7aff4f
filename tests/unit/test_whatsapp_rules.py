"""WhatsApp delivery rules: status ordering, parts, the 24-hour window, templates, provider errors."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest

from services.dispatcher.delivery_status import FAILURES, PROGRESS, advance, aggregate, is_final
from services.dispatcher.whatsapp_rules import (
    classify_error,
    normalise_parts,
    parse_retry_after,
    split_parts,
    template_variables,
    whatsapp_address,
    within_window,
)

ALL = PROGRESS + FAILURES
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        (None, "queued", "queued"),
        ("queued", "sent", "sent"),
        ("sent", "queued", "sent"),
        ("delivered", "sent", "delivered"),
        ("read", "delivered", "read"),
        ("sent", "failed", "failed"),
        ("queued", "undelivered", "undelivered"),
        ("delivered", "failed", "delivered"),
        ("read", "undelivered", "read"),
        ("failed", "delivered", "failed"),
        ("undelivered", "failed", "undelivered"),
        ("sent", "canceled", "sent"),
    ],
)
def test_advance(current: str | None, new: str, expected: str) -> None:
    assert advance(current, new) == expected


@pytest.mark.parametrize("order", list(itertools.permutations(["queued", "sent", "delivered", "read"])))
def test_any_arrival_order_ends_at_the_furthest_status_and_never_goes_back(order: tuple[str, ...]) -> None:
    status: str | None = None
    for report in order:
        before = status
        status = advance(status, report)
        if before is not None:
            assert ALL.index(status) >= ALL.index(before) or before in FAILURES
    assert status == "read"


def test_a_failure_after_delivery_is_ignored_and_before_it_is_final() -> None:
    status: str | None = None
    for report in ("sent", "failed", "delivered", "read"):
        status = advance(status, report)
    assert status == "failed"
    status = None
    for report in ("delivered", "failed", "undelivered"):
        status = advance(status, report)
    assert status == "delivered"


def test_aggregate_of_parts() -> None:
    assert aggregate([]) == "queued"
    assert aggregate(["delivered", "sent", "read"]) == "sent"
    assert aggregate(["read", "read"]) == "read"
    assert aggregate(["delivered", "undelivered"]) == "undelivered"
    assert aggregate(["queued", "delivered"]) == "queued"  # a part not sent yet holds the reply back
    assert is_final("delivered") and is_final("read") and is_final("failed") and not is_final("sent")


LONG_REPLY = (
    "Hi Ana, thanks for writing in. To reset your password, open the sign-in page and choose "
    "'Forgot password'. We will email you a link that works for 30 minutes. "
    "If the email does not arrive, check your spam folder and make sure the address matches your account.\n\n"
    "Steps:\n1. Open https://app.example.com/login\n2. Click 'Forgot password'\n3. Follow the link in the email\n\n"
    "If you use single sign-on, your administrator resets passwords for you instead. You can see whether SSO "
    "is on for your workspace under Settings > Security. Anything else? Just reply here and we will help. "
    "— Orbitly Support (ticket q3V0l1yJ6Xw1Ue0c8S7X5A)"
)


@pytest.mark.parametrize("limit", [60, 120, 300])
def test_split_parts_keeps_every_word_in_order_within_the_limit(limit: int) -> None:
    parts = split_parts(LONG_REPLY, limit)
    assert len(parts) > 1
    assert all(0 < len(part) <= limit for part in parts)
    assert re.sub(r"\s+", " ", " ".join(parts)) == re.sub(r"\s+", " ", LONG_REPLY)


def test_split_parts_cuts_between_sentences_when_it_can() -> None:
    sentences = [f"Sentence number {i} explains one more detail of the answer." for i in range(12)]
    parts = split_parts(" ".join(sentences), 300)
    assert all(part.endswith(".") for part in parts)
    assert all(len(part) <= 300 for part in parts)


def test_split_parts_keeps_paragraphs_and_lines() -> None:
    parts = split_parts(LONG_REPLY, 300)
    assert any("\n2. Click" in part for part in parts)
    assert not any(re.search(r"\b\d\.$", part) for part in parts)  # never cut after a list number


def test_a_word_longer_than_a_part_is_cut() -> None:
    url = "https://example.com/" + "a" * 700
    parts = split_parts(f"See {url} for details.", 300)
    assert all(len(p) <= 300 for p in parts)
    assert "".join(parts).replace(" ", "") == f"See{url}fordetails."


def test_short_and_empty_texts() -> None:
    assert split_parts("  Hello!  ") == ["Hello!"]
    assert split_parts("   ") == []


def test_normalise_parts_prefers_the_agents_parts_and_splits_only_overlong_ones() -> None:
    assert normalise_parts(("First part.", "Second part."), "ignored") == ["First part.", "Second part."]
    long = "A sentence that goes on. " * 20
    parts = normalise_parts(("Short.", long), "ignored")
    assert parts[0] == "Short." and len(parts) > 2 and all(len(p) <= 300 for p in parts)
    assert normalise_parts((), "Body text.") == ["Body text."]


def test_the_24_hour_window() -> None:
    assert within_window(NOW - timedelta(hours=23, minutes=59), NOW)
    assert not within_window(NOW - timedelta(hours=24), NOW)
    assert not within_window(None, NOW)


def test_template_variables() -> None:
    assert template_variables(brand="Orbitly", ticket_id="T1", public_base_url=None) == {"1": "Orbitly", "2": "T1"}
    assert template_variables(brand="Orbitly", ticket_id="T1", public_base_url="https://s.example.com/") == {
        "1": "Orbitly",
        "2": "https://s.example.com/support/ticket/T1",
    }


def test_whatsapp_address() -> None:
    assert whatsapp_address("+15550100123") == "whatsapp:+15550100123"
    assert whatsapp_address("whatsapp:+15550100123") == "whatsapp:+15550100123"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, "rate_limited"), (500, "retry"), (503, "retry"), (401, "retry"), (400, "permanent"), (422, "permanent")],
)
def test_classify_error(status: int, kind: str) -> None:
    assert classify_error(status) == kind


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("99999") == 300.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Tue, 24 Nov 2026 12:00:10 GMT", now=NOW) == 10.0
