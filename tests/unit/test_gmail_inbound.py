"""A Gmail API message -> InboundMessage (or why it is skipped), the watch renewal rule, credentials files, and the
fake mailbox's Gmail semantics the ingress depends on."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from services.fakes.gmail_mailbox import BadMessage, FakeMailbox, HistoryGone, UnknownThread
from services.fakes.oidc import OidcSigner
from services.ingress_gmail.inbound import MAX_BODY_CHARS, Skipped, to_inbound
from services.ingress_gmail.sync import watch_due
from shared.gmail_api import load_credentials
from subjects import InboundMessage

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mime"
MAILBOX = "support@orbitly.example"


def api_message(raw: bytes, *, labels: tuple[str, ...] = ("INBOX", "UNREAD"), gmail_id: str = "18c2f0a1b2c3d4e5"):
    return {
        "id": gmail_id,
        "threadId": "18c2f0a1b2c30000",
        "labelIds": list(labels),
        "internalDate": "1767225600000",
        "raw": base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


def mail(headers: dict[str, str], body: str = "How do I export my invoices?") -> bytes:
    base = {
        "From": "Ana Ruiz <ana@example.com>",
        "To": MAILBOX,
        "Subject": "Invoices",
        "Message-ID": "<q1@example.com>",
    }
    lines = [f"{k}: {v}" for k, v in {**base, **headers}.items()]
    return "\r\n".join([*lines, "Content-Type: text/plain; charset=utf-8", "", body]).encode()


def test_a_customer_mail_becomes_an_inbound_message() -> None:
    event = to_inbound(api_message(mail({})), mailbox=MAILBOX)
    assert isinstance(event, InboundMessage)
    assert event.event_id == "gmail:18c2f0a1b2c3d4e5"
    assert event.channel == "email"
    assert (event.email, event.sender_name, event.subject) == ("ana@example.com", "Ana Ruiz", "Invoices")
    assert event.body == "How do I export my invoices?"
    assert event.provider_message_id == "18c2f0a1b2c3d4e5"
    assert event.thread_id == "18c2f0a1b2c30000"
    assert event.references == ("<q1@example.com>",)
    assert event.received_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_references_are_its_own_message_id_then_the_chain_oldest_first() -> None:
    raw = mail({"In-Reply-To": "<r2@orbitly.example>", "References": "<q0@example.com> <r2@orbitly.example>"})
    event = to_inbound(api_message(raw), mailbox=MAILBOX)
    assert isinstance(event, InboundMessage)
    assert event.references == ("<q1@example.com>", "<q0@example.com>", "<r2@orbitly.example>")
    # An In-Reply-To the References forgot still joins the chain.
    event = to_inbound(api_message(mail({"In-Reply-To": "<r9@orbitly.example>"})), mailbox=MAILBOX)
    assert isinstance(event, InboundMessage)
    assert event.references == ("<q1@example.com>", "<r9@orbitly.example>")


@pytest.mark.parametrize("fixture", ["gmail_reply.eml", "outlook_underscores.eml", "outlook_original_message.eml"])
def test_quoted_history_does_not_reach_the_agent(fixture: str) -> None:
    event = to_inbound(api_message((FIXTURES / fixture).read_bytes()), mailbox=MAILBOX)
    assert isinstance(event, InboundMessage)
    assert "wrote:" not in event.body and "From:" not in event.body
    assert not any(line.startswith(">") for line in event.body.splitlines())


def test_attachments_are_kept_as_metadata() -> None:
    event = to_inbound(api_message((FIXTURES / "mixed_pdf.eml").read_bytes()), mailbox=MAILBOX)
    assert isinstance(event, InboundMessage)
    assert event.attachments and event.attachments[0].content_type == "application/pdf"
    assert event.attachments[0].size and event.attachments[0].size > 0


@pytest.mark.parametrize(
    ("raw", "labels", "reason"),
    [
        (mail({"From": f"Orbitly Support <{MAILBOX}>"}), ("INBOX",), "own mailbox"),
        (mail({"From": "Other <other@orbitly.example>", "Message-ID": "<fte-123@orbitly.example>"}), ("INBOX",), "own"),
        (mail({"Auto-Submitted": "auto-replied"}), ("INBOX",), "automatic"),
        ((FIXTURES / "out_of_office.eml").read_bytes(), ("INBOX",), "automatic"),
        ((FIXTURES / "bounce.eml").read_bytes(), ("INBOX",), "automatic"),
        ((FIXTURES / "mailing_list.eml").read_bytes(), ("INBOX",), "automatic"),
        (mail({}), ("SENT",), "inbox"),
        (mail({}), ("INBOX", "SPAM"), "SPAM"),
        (mail({}), ("INBOX", "DRAFT"), "DRAFT"),
        (mail({"From": "undisclosed-recipients:;"}), ("INBOX",), "sender"),
    ],
)
def test_loops_and_noise_are_skipped(raw: bytes, labels: tuple[str, ...], reason: str) -> None:
    result = to_inbound(api_message(raw, labels=labels), mailbox=MAILBOX)
    assert isinstance(result, Skipped) and reason in result.reason


def test_an_unparseable_message_is_skipped() -> None:
    message = api_message(b"")
    assert isinstance(to_inbound(message, mailbox=MAILBOX), Skipped)


def test_an_attachment_only_mail_still_says_something() -> None:
    raw = (
        b"From: ana@example.com\r\nTo: support@orbitly.example\r\nSubject: \r\nMessage-ID: <a@example.com>\r\n"
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b'Content-Type: image/png\r\nContent-Disposition: attachment; filename="shot.png"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n"
    )
    event = to_inbound(api_message(raw), mailbox=MAILBOX)
    assert isinstance(event, InboundMessage) and "shot.png" in event.body


def test_a_huge_body_is_cut() -> None:
    event = to_inbound(api_message(mail({}, body="word " * 10_000)), mailbox=MAILBOX)
    assert isinstance(event, InboundMessage) and len(event.body) <= MAX_BODY_CHARS + 5


def test_the_watch_is_renewed_daily_or_before_it_lapses() -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    week = now + timedelta(days=7)
    assert watch_due(None, None, now)
    assert not watch_due(now - timedelta(hours=23), week, now)
    assert watch_due(now - timedelta(hours=24), week, now)
    assert watch_due(now - timedelta(hours=2), now + timedelta(minutes=30), now)


def test_credentials_files_of_both_kinds_load(tmp_path: Path) -> None:
    user = tmp_path / "user.json"
    user.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "id",
                "client_secret": "secret",
                "refresh_token": "refresh",
                "token_uri": "http://127.0.0.1:1/token",
            }
        )
    )
    loaded = load_credentials(str(user), mailbox=MAILBOX)
    assert isinstance(loaded, user_credentials.Credentials)
    assert loaded.token_uri == "http://127.0.0.1:1/token"  # a stand-in's token endpoint is honoured

    robot = tmp_path / "robot.json"
    robot.write_text(
        json.dumps(
            {
                "type": "service_account",
                "client_email": "fte@project.iam.gserviceaccount.com",
                "private_key": OidcSigner().private_key_pem,
                "private_key_id": "k1",
                "token_uri": "https://oauth2.googleapis.com/token",
                "project_id": "project",
            }
        )
    )
    delegated = load_credentials(str(robot), mailbox=MAILBOX)
    assert isinstance(delegated, service_account.Credentials)
    assert delegated._subject == MAILBOX  # domain-wide delegation: acting as the support mailbox

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"type": "authorized_user", "client_id": "id"}))
    with pytest.raises(ValueError, match="refresh_token"):
        load_credentials(str(broken), mailbox=MAILBOX)
    broken.write_text(json.dumps({"type": "external_account"}))
    with pytest.raises(ValueError, match="external_account"):
        load_credentials(str(broken), mailbox=MAILBOX)


# ---------------------------------------------------------------------- the fake mailbox


def test_fake_history_is_incremental_and_expires() -> None:
    box = FakeMailbox(MAILBOX)
    start = box.history_id
    first = box.deliver(mail({"Message-ID": "<h1@example.com>"}))
    second = box.deliver(mail({"Message-ID": "<h2@example.com>"}))
    page = box.history(start, label_id="INBOX")
    assert [h["messagesAdded"][0]["message"]["id"] for h in page["history"]] == [first.id, second.id]
    assert "history" not in box.history(second.history_id)
    paged = box.history(start, max_results=1)
    assert paged["nextPageToken"] and len(paged["history"]) == 1
    box.expire_history()
    with pytest.raises(HistoryGone):
        box.history(start)
    assert box.history(box.history_id)["historyId"] == str(box.history_id)


def test_fake_threads_and_search() -> None:
    box = FakeMailbox(MAILBOX)
    original = box.deliver(mail({"Message-ID": "<t1@example.com>"}))
    reply = mail({"From": MAILBOX, "To": "ana@example.com", "Message-ID": "<fte-1@orbitly.example>"})
    sent = box.send(reply, thread_id=original.thread_id)
    follow_up = box.deliver(
        mail({"Message-ID": "<t2@example.com>", "References": "<t1@example.com> <fte-1@orbitly.example>"})
    )
    assert sent.thread_id == follow_up.thread_id == original.thread_id
    assert sent.labels == ["SENT"]
    assert [m.id for m in box.search("rfc822msgid:fte-1@orbitly.example")] == [sent.id]
    assert [m.id for m in box.search("rfc822msgid:<fte-1@orbitly.example>")] == [sent.id]
    assert [m.id for m in box.search("in:inbox newer_than:1d")] == [follow_up.id, original.id]
    assert [m.id for m in box.search("in:sent")] == [sent.id]
    with pytest.raises(ValueError):
        box.search("has:attachment")
    with pytest.raises(UnknownThread):
        box.send(reply, thread_id="nope")
    with pytest.raises(BadMessage):
        box.send(b"Subject: no recipient\r\n\r\nhello")
