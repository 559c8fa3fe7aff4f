"""Twilio webhook signatures (known-answer vectors) and parsing of what Twilio posts."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from twilio.request_validator import RequestValidator

from services.ingress_whatsapp.twilio_form import (
    InvalidWebhook,
    compute_signature,
    inbound_form,
    parse_inbound,
    parse_status,
    signature_is_valid,
    status_form,
    webhook_url,
)
from subjects import Subjects, consumer, decode_event, encode_event, stream_for_subject

# Twilio's own documented example (https://www.twilio.com/docs/usage/security).
DOC_TOKEN = "12345"
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+12349013030"),
    ("Digits", "1234"),
    ("From", "+12349013030"),
    ("To", "+18005551212"),
]
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="

# Ours: a WhatsApp webhook at a fixed URL, its signature computed once with the real validator.
TOKEN = "0123456789abcdef0123456789abcdef"
URL = "https://support.example.com/webhooks/whatsapp"
SID = "SM" + "0123456789abcdef" * 2
FORM = inbound_form(
    account_sid="AC" + "1" * 32,
    message_sid=SID,
    sender="+15550100123",
    to="whatsapp:+14155238886",
    body="Hola, ¿cómo cambio mi contraseña?",
    profile_name="Ana",
)
SIGNATURE = "axPTCMnic88dj2ECYxVCj96rvd8="
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_twilio_documented_vector() -> None:
    assert compute_signature(DOC_TOKEN, DOC_URL, DOC_PARAMS) == DOC_SIGNATURE
    assert signature_is_valid(DOC_TOKEN, DOC_URL, DOC_PARAMS, DOC_SIGNATURE)


def test_whatsapp_vector_matches_the_real_validator() -> None:
    assert compute_signature(TOKEN, URL, FORM) == SIGNATURE
    # The algorithm spelled out: HMAC-SHA1 over the URL and the sorted name+value pairs, base64.
    signed = URL + "".join(name + FORM[name] for name in sorted(FORM))
    assert base64.b64encode(hmac.new(TOKEN.encode(), signed.encode(), hashlib.sha1).digest()).decode() == SIGNATURE
    assert RequestValidator(TOKEN).validate(URL, FORM, SIGNATURE)
    assert signature_is_valid(TOKEN, URL, list(FORM.items()), SIGNATURE)


@pytest.mark.parametrize(
    ("token", "url", "change", "signature"),
    [
        ("wrong-token", URL, {}, SIGNATURE),
        (TOKEN, URL.replace("https", "http"), {}, SIGNATURE),
        (TOKEN, URL + "/status", {}, SIGNATURE),
        (TOKEN, URL, {"Body": "Send me everyone's invoices"}, SIGNATURE),
        (TOKEN, URL, {"From": "whatsapp:+15550100999"}, SIGNATURE),
        (TOKEN, URL, {}, SIGNATURE.replace("a", "b", 1)),
        (TOKEN, URL, {}, ""),
        (TOKEN, URL, {}, None),
    ],
)
def test_forged_or_altered_requests_fail(token: str, url: str, change: dict[str, str], signature: str | None) -> None:
    params = list({**FORM, **change}.items())
    assert not signature_is_valid(token, url, params, signature)


def test_a_repeated_field_is_signed_with_every_value() -> None:
    params = [("MediaUrl0", "https://a"), ("Tag", "x"), ("Tag", "y")]
    signature = compute_signature(TOKEN, URL, params)
    assert signature_is_valid(TOKEN, URL, params, signature)
    assert not signature_is_valid(TOKEN, URL, params[:2], signature)


@pytest.mark.parametrize(
    ("public", "request_url", "expected"),
    [
        (None, "http://10.0.0.7:8000/webhooks/whatsapp", "http://10.0.0.7:8000/webhooks/whatsapp"),
        ("https://support.example.com", "http://10.0.0.7:8000/webhooks/whatsapp", URL),
        ("https://support.example.com/", "http://10.0.0.7:8000/webhooks/whatsapp?x=1", URL + "?x=1"),
    ],
)
def test_the_signed_url_is_the_public_one_behind_a_proxy(public: str | None, request_url: str, expected: str) -> None:
    assert webhook_url(public, request_url) == expected


def test_parse_inbound_message() -> None:
    event = parse_inbound(list(FORM.items()), received_at=NOW)
    assert event.event_id == f"twilio:{SID}"
    assert event.channel == "whatsapp"
    assert event.phone == "+15550100123"
    assert event.sender_name == "Ana"
    assert event.body == "Hola, ¿cómo cambio mi contraseña?"
    assert event.provider_message_id == SID
    assert event.attachments == ()


def test_media_without_text_is_kept_and_described() -> None:
    form = inbound_form(
        account_sid="AC" + "1" * 32,
        message_sid=SID,
        sender="+15550100123",
        to="whatsapp:+14155238886",
        body="",
        media=[("https://api.twilio.com/media/ME1", "image/jpeg"), ("https://api.twilio.com/media/ME2", "audio/ogg")],
    )
    event = parse_inbound(list(form.items()), received_at=NOW)
    assert [(a.content_type, a.url) for a in event.attachments] == [
        ("image/jpeg", "https://api.twilio.com/media/ME1"),
        ("audio/ogg", "https://api.twilio.com/media/ME2"),
    ]
    assert "2 attachment(s)" in event.body and "image/jpeg" in event.body
    assert event.sender_name is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"MessageSid": "", "SmsSid": ""}, "MessageSid"),
        ({"MessageSid": "SM' OR 1=1", "SmsSid": ""}, "MessageSid"),
        ({"From": "+15550100123"}, "From"),
        ({"From": "whatsapp:"}, "From"),
        ({"NumMedia": "many"}, "NumMedia"),
        ({"NumMedia": "11"}, "NumMedia"),
    ],
)
def test_unusable_inbound_webhooks_are_rejected_without_naming_the_customer(
    change: dict[str, str], reason: str
) -> None:
    with pytest.raises(InvalidWebhook) as raised:
        parse_inbound(list({**FORM, **change}.items()), received_at=NOW)
    assert reason in str(raised.value)
    assert "5550100123" not in str(raised.value)


def test_parse_status_callbacks() -> None:
    form = status_form(
        account_sid="AC" + "1" * 32,
        message_sid=SID,
        sender="whatsapp:+14155238886",
        to="whatsapp:+15550100123",
        status="undelivered",
        error_code="63016",
    )
    event = parse_status(list(form.items()), received_at=NOW)
    assert event is not None
    assert event.event_id == f"twilio-status:{SID}:undelivered"
    assert (event.status, event.error_code, event.provider_message_id) == ("undelivered", "63016", SID)
    accepted = parse_status(list({**form, "MessageStatus": "accepted"}.items()), received_at=NOW)
    assert accepted is None  # says nothing about delivery


def test_status_callbacks_travel_on_the_events_stream_to_the_dispatcher() -> None:
    form = status_form(
        account_sid="AC" + "1" * 32, message_sid=SID, sender="whatsapp:+1", to="whatsapp:+2", status="read"
    )
    event = parse_status(list(form.items()), received_at=NOW)
    assert event is not None and decode_event(encode_event(event)) == event
    subject = Subjects.delivery_callback("whatsapp")
    assert stream_for_subject(subject).name == "FTE_EVENTS"
    spec = consumer("dispatcher-callbacks")
    assert (spec.stream, spec.filter_subject) == ("FTE_EVENTS", Subjects.delivery_callback_all)
