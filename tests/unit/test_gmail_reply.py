"""The Gmail reply: subject, threading headers, deterministic Message-ID, multipart/alternative, safe HTML, and
how Gmail API failures map onto the dispatcher's retry rules."""

from __future__ import annotations

import base64
import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from services.dispatcher.gmail import original_gmail_id, send_error
from services.dispatcher.gmail_mime import (
    MAX_REFERENCES,
    InvalidReply,
    Threading,
    build_reply,
    encode_raw,
    message_ids,
    recipient_address,
    reply_message_id,
    reply_references,
    reply_subject,
    text_to_html,
)
from services.ingress_gmail.mime import is_own_message, parse_raw
from shared.gmail_api import GmailApiError, parse_retry_after

MAILBOX = "support@orbitly.example"
THREADING = Threading("thread-1", "<m2@example.com>", ("<m1@example.com>", "<m2@example.com>"))


def reply(**overrides: object) -> EmailMessage:
    fields: dict[str, object] = {
        "mailbox": MAILBOX,
        "sender_name": "Orbitly Support",
        "recipient": "ana@example.com",
        "subject": "Re: Password reset",
        "body_text": "Hi Ana,\n\nUse <Settings> & then reset.\nThanks",
        "body_html": None,
        "message_id": reply_message_id("1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed", MAILBOX),
        "threading": THREADING,
    }
    fields.update(overrides)
    return build_reply(**fields)  # type: ignore[arg-type]


def reparse(msg: EmailMessage) -> EmailMessage:
    raw = base64.urlsafe_b64decode(encode_raw(msg))
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("Password reset", "Re: Password reset"),
        ("Re: Password reset", "Re: Password reset"),
        ("RE: re:  Password reset", "Re: Password reset"),
        ("Re[2]: Password reset", "Re: Password reset"),
        ("AW: Passwort", "Re: Passwort"),
        ("Fwd: Invoice", "Re: Fwd: Invoice"),
        ("Reset\r\nBcc: evil@example.com", "Re: Reset Bcc: evil@example.com"),
        ("", "Re: (no subject)"),
        (None, "Re: (no subject)"),
    ],
)
def test_reply_subject_has_exactly_one_re(original: str | None, expected: str) -> None:
    assert reply_subject(original) == expected


def test_the_message_id_is_deterministic_and_ours() -> None:
    first = reply_message_id("abc", MAILBOX)
    assert first == reply_message_id("abc", MAILBOX) == "<fte-abc@orbitly.example>"
    assert first != reply_message_id("abd", MAILBOX)


def test_references_end_with_the_message_answered_and_stay_bounded() -> None:
    assert reply_references(("<a@x>", "<b@x>"), "<c@x>") == ("<a@x>", "<b@x>", "<c@x>")
    # the inbound chain already ends with the message answered, possibly in another order: no duplicates
    assert reply_references(("<c@x>", "<a@x>", "<b@x>"), "<c@x>") == ("<a@x>", "<b@x>", "<c@x>")
    assert reply_references(("<a@x> <b@x>",), None) == ("<a@x>", "<b@x>")
    chain = tuple(f"<m{i}@x>" for i in range(40))
    bounded = reply_references(chain[:-1], chain[-1])
    assert len(bounded) == MAX_REFERENCES and bounded[0] == "<m0@x>" and bounded[-1] == "<m39@x>"


def test_message_ids_accept_bare_and_bracketed_ids() -> None:
    assert message_ids(["<a@x> <b@x>", "c@x", "", "not an id"]) == ("<a@x>", "<b@x>", "<c@x>")


def test_the_reply_is_threaded_multipart_alternative_and_marked_automatic() -> None:
    msg = reparse(reply())
    assert msg["To"] == "ana@example.com"
    assert msg["From"] == f"Orbitly Support <{MAILBOX}>"
    assert msg["Subject"] == "Re: Password reset"
    assert msg["Message-ID"] == "<fte-1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed@orbitly.example>"
    assert msg["In-Reply-To"] == "<m2@example.com>"
    assert msg["References"] == "<m1@example.com> <m2@example.com>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert plain.get_content().replace("\r\n", "\n").strip() == "Hi Ana,\n\nUse <Settings> & then reset.\nThanks"
    assert "&lt;Settings&gt; &amp; then reset.<br>" in html.get_content()
    assert "<Settings>" not in html.get_content()


def test_our_reply_coming_back_would_be_recognised_as_ours() -> None:
    parsed = parse_raw(encode_raw(reply()))
    assert is_own_message(parsed, MAILBOX)
    assert parsed.is_auto_reply  # Auto-Submitted: another instance would not answer it either


def test_an_html_body_from_the_agent_is_used_as_is() -> None:
    msg = reparse(reply(body_html="<p>Hi <b>Ana</b></p>"))
    html = msg.get_body(preferencelist=("html",))
    assert html is not None and html.get_content().strip() == "<p>Hi <b>Ana</b></p>"


def test_without_threading_the_reply_still_goes_out_with_the_original_subject() -> None:
    msg = reparse(reply(subject=None, threading=Threading(None, None, (), original_subject="Invoices")))
    assert msg["Subject"] == "Re: Invoices"
    assert msg["In-Reply-To"] is None and msg["References"] is None


def test_utf8_text_survives() -> None:
    msg = reparse(reply(body_text="Olá Ana — já está resolvido. 你好", sender_name="Équipe Orbitly"))
    plain = msg.get_body(preferencelist=("plain",))
    assert plain is not None and "já está resolvido. 你好" in plain.get_content()
    assert msg["From"].addresses[0].display_name == "Équipe Orbitly"


@pytest.mark.parametrize("recipient", [None, "", "not an address", "a@b", "ana@example.com\r\nBcc: x@evil.example"])
def test_a_reply_without_a_valid_recipient_is_refused(recipient: str | None) -> None:
    with pytest.raises(InvalidReply):
        reply(recipient=recipient)


def test_recipient_address_takes_the_address_of_a_display_form() -> None:
    assert recipient_address("Ana Ruiz <ana@example.com>") == "ana@example.com"


def test_text_to_html_escapes_everything() -> None:
    html = text_to_html('<script>alert("x")</script>\n\nsecond & last')
    assert "<script>" not in html
    assert "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</p>" in html
    assert "<p>second &amp; last</p>" in html


@pytest.mark.parametrize(
    ("event_id", "expected"),
    [("reply:gmail:18c2f0a1b2", "18c2f0a1b2"), ("reply:web:abc", None), ("reply:gmail:", None), ("gmail:1", None)],
)
def test_the_answered_gmail_id_comes_from_the_reply_event_id(event_id: str, expected: str | None) -> None:
    assert original_gmail_id(event_id) == expected


@pytest.mark.parametrize(
    ("error", "retry_after", "permanent"),
    [
        (GmailApiError("x", status=429, retry_after=7.0), 7.0, False),
        (GmailApiError("x", status=429), None, False),
        (GmailApiError("x", status=403, reasons=("userRateLimitExceeded",), retry_after=2.0), 2.0, False),
        (GmailApiError("x", status=403, reasons=("insufficientPermissions",)), None, False),
        (GmailApiError("x", status=500), None, False),
        (GmailApiError("x", status=503, retry_after=1.0), 1.0, False),
        (GmailApiError("x", status=401), None, False),
        (GmailApiError("x", status=400), None, True),
        (GmailApiError("x", status=404), None, True),
        (GmailApiError("timed out", unknown_outcome=True), None, False),
    ],
)
def test_gmail_failures_map_to_retry_rules(error: GmailApiError, retry_after: float | None, permanent: bool) -> None:
    mapped = send_error(error)
    assert (mapped.retry_after, mapped.permanent) == (retry_after, permanent)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now=now) == 0.0
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
