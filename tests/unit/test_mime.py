"""Unit tests for services.ingress_gmail.mime (Gmail raw message parsing)."""

from __future__ import annotations

import base64
import email
import email.policy
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingress_gmail.mime import (
    AttachmentMeta,
    ParsedEmail,
    html_to_text,
    is_own_message,
    parse_message,
    parse_raw,
    strip_quoted,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mime"
ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.eml"))
AUTO_FIXTURES = {"out_of_office.eml", "bounce.eml", "mailing_list.eml"}


def load(name: str) -> ParsedEmail:
    return parse_raw((FIXTURES / name).read_bytes())


def message(headers: dict[str, str], body: str = "Hello, I need help with my invoice.\n") -> ParsedEmail:
    base = {"From": "Customer <customer@example.com>", "To": "support@example.com", "Subject": "Question"}
    lines = [f"{k}: {v}" for k, v in {**base, **headers}.items()]
    raw = "\r\n".join([*lines, "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", body])
    return parse_raw(raw.encode("utf-8"))


# --------------------------------------------------------------------------- fixtures


def test_fixture_set_is_complete() -> None:
    assert len(ALL_FIXTURES) >= 14


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_every_fixture_parses(name: str) -> None:
    parsed = load(name)
    assert parsed.message_id is not None and parsed.message_id.startswith("<") and parsed.message_id.endswith(">")
    assert parsed.thread_key is None
    assert parsed.from_address and "@" in parsed.from_address
    assert parsed.body.strip()
    assert parsed.body in parsed.full_text
    assert parsed.is_auto_reply is (name in AUTO_FIXTURES)
    assert (parsed.auto_reply_reason is not None) is parsed.is_auto_reply


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_fixture_via_gmail_api_encoding(name: str) -> None:
    raw = (FIXTURES / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    encoded = base64.urlsafe_b64encode(raw).decode("ascii")
    assert parse_raw(encoded) == load(name)
    assert parse_raw(encoded.rstrip("=")) == load(name)


def test_plain_text() -> None:
    parsed = load("plain.eml")
    expected = (
        "Hello,\n\n"
        'When I click "Export to CSV" on the invoices page nothing happens.\n'
        "Could you take a look? Our account is ACME-1042.\n\n"
        "Thanks,\nMaria"
    )
    assert parsed.body == expected
    assert parsed.full_text == expected
    assert parsed.message_id == "<CAF1234abcd@mail.example.com>"
    assert parsed.from_name == "Maria Lopez"
    assert parsed.from_address == "maria.lopez@example.com"
    assert parsed.to == ("support@example.com", "billing@example.com")
    assert parsed.subject == "Cannot export invoices to CSV"
    assert parsed.date == datetime(2024, 6, 3, 8, 2, 11, tzinfo=UTC)
    assert parsed.date.utcoffset() == timedelta(hours=2)
    assert parsed.in_reply_to is None
    assert parsed.references == ()
    assert parsed.attachments == ()


def test_html_only() -> None:
    parsed = load("html_only.eml")
    assert parsed.body == (
        "Hi support,\n\n"
        "I can't log in since this morning. Steps I tried:\n\n"
        "- Reset my password\n"
        "- Cleared cookies & cache\n\n"
        'Error shown: "Session expired"\n'
        "Details: status page says everything is fine.\n\n"
        "Thanks,\nKen"
    )
    for leaked in ("trackOpen", "font-family", "<p>", "&amp;", "Login problem", "https://"):
        assert leaked not in parsed.full_text
    assert parsed.from_name == "Ken Ito"


def test_alternative_prefers_plain_and_decodes_base64_utf8() -> None:
    parsed = load("alternative.eml")
    assert parsed.body == "Hi Acme team,\n\nThe new dashboard looks great. Grüße aus Berlin!\n\nLena"
    assert "HTML VERSION" not in parsed.full_text


def test_mixed_with_pdf_attachment() -> None:
    parsed = load("mixed_pdf.eml")
    assert parsed.body == (
        "Hello,\n\nInvoice 1042 charges us for 12 seats but we only have 10. PDF attached,\n"
        "plus the export log.\n\nOmar"
    )
    assert parsed.attachments == (
        AttachmentMeta(filename="invoice-1042.pdf", content_type="application/pdf", size=73),
        AttachmentMeta(filename="export.log", content_type="text/plain", size=50),
    )
    assert "ERROR export failed" not in parsed.full_text
    assert "%PDF" not in parsed.full_text


def test_gmail_reply_with_wrapped_attribution() -> None:
    parsed = load("gmail_reply.eml")
    assert parsed.body == "That worked, thank you! One more thing: can I schedule the export weekly?"
    assert "Please clear the browser cache" in parsed.full_text
    assert parsed.in_reply_to == "<reply-0001@support.example.com>"
    assert parsed.references == ("<CAF1234abcd@mail.example.com>", "<reply-0001@support.example.com>")
    assert parsed.subject == "Re: Cannot export invoices to CSV"


def test_outlook_original_message() -> None:
    parsed = load("outlook_original_message.eml")
    assert parsed.body == (
        "Hi team,\n\nThe sync is still failing after the update. It stops at 42% every time.\n\n"
        "Regards,\nTom Becker\nOperations Lead"
    )
    assert "-----Original Message-----" in parsed.full_text
    assert "connector" not in parsed.body


def test_outlook_underscores_separator() -> None:
    parsed = load("outlook_underscores.eml")
    assert parsed.body == "Yes, please go ahead and cancel the duplicate order #55120.\n\nBest,\nPriya"
    assert "\r" not in parsed.full_text
    assert "two identical orders" in parsed.full_text
    assert "____" not in parsed.body


def test_signature_after_dash_dash_space() -> None:
    parsed = load("signature_dashes.eml")
    assert parsed.body == "Could you add two more seats to our plan?\n\nCheers,\nJonas"
    assert "IT Manager" in parsed.full_text


def test_sent_from_my_iphone() -> None:
    parsed = load("iphone.eml")
    assert parsed.body == "Is the outage over? Our dashboard is still blank."
    assert "Sent from my iPhone" in parsed.full_text


def test_french_reply() -> None:
    parsed = load("french_reply.eml")
    assert parsed.body == (
        "Bonjour,\n\nMerci pour votre réponse rapide. Le problème est résolu.\n\nCordialement,\nCamille"
    )
    assert parsed.subject == "Re: Problème de facturation"
    assert parsed.from_name == "Camille Lefèvre"
    assert "Nous avons corrigé la facture." in parsed.full_text


def test_iso_8859_1_quoted_printable() -> None:
    parsed = load("latin1_qp.eml")
    assert parsed.body == (
        "Guten Tag,\n\nich möchte meine Rechnungsadresse ändern: Müllerstraße 5, 50667 Köln.\n\nVielen Dank\nJürgen"
    )
    assert parsed.from_name == "Jürgen Müller"
    assert parsed.subject == "Rechnungsadresse ändern"


def test_out_of_office() -> None:
    parsed = load("out_of_office.eml")
    assert parsed.is_auto_reply
    assert parsed.auto_reply_reason == "Auto-Submitted: auto-replied"
    assert parsed.body.startswith("I am out of the office until 17 June")


def test_bounce() -> None:
    parsed = load("bounce.eml")
    assert parsed.is_auto_reply
    assert parsed.auto_reply_reason == "Content-Type: multipart/report"
    assert "could not be delivered" in parsed.body
    assert "550 5.1.1 User unknown" in parsed.body
    assert "we have an update" not in parsed.full_text  # the returned original is not our customer's text
    assert "Final-Recipient" not in parsed.full_text
    assert parsed.attachments == ()
    assert parsed.from_address == "MAILER-DAEMON@mx.example.com"  # as written


def test_mailing_list() -> None:
    parsed = load("mailing_list.eml")
    assert parsed.is_auto_reply
    assert parsed.auto_reply_reason == "List-Id"
    assert parsed.body == "This month we shipped dark mode and faster search."


def test_forwarded_message_keeps_forwarded_content() -> None:
    parsed = load("forwarded.eml")
    assert parsed.body.startswith("Please see the message below from our bank.")
    assert "Your card payment of 49.00 EUR to ACME was declined." in parsed.body
    assert "From: Example Bank" in parsed.body


# --------------------------------------------------------------------------- parse_raw input forms

RAW = (
    "From: Zoë <zoe@example.com>\r\nTo: support@example.com\r\nSubject: Café ☕ order\r\n"
    "Message-ID: <raw-1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n\r\nMy order ~~ ??? >>> hasn't arrived ü ÿ\r\n"
).encode()


def test_parse_raw_base64url_with_padding() -> None:
    encoded = base64.urlsafe_b64encode(RAW).decode()
    assert encoded.endswith("=") and ("-" in encoded or "_" in encoded)
    parsed = parse_raw(encoded)
    assert parsed.body == "My order ~~ ??? >>> hasn't arrived ü ÿ"
    assert parsed.subject == "Café ☕ order"
    assert parsed.from_name == "Zoë"


def test_parse_raw_base64url_without_padding() -> None:
    encoded = base64.urlsafe_b64encode(RAW).decode().rstrip("=")
    assert parse_raw(encoded) == parse_raw(RAW)


def test_parse_raw_accepts_bytes_of_base64url_and_wrapped_lines() -> None:
    encoded = base64.urlsafe_b64encode(RAW)
    wrapped = b"\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    assert parse_raw(encoded) == parse_raw(RAW)
    assert parse_raw(wrapped) == parse_raw(RAW)


def test_parse_raw_accepts_standard_base64_alphabet() -> None:
    assert parse_raw(base64.b64encode(RAW)) == parse_raw(RAW)


def test_parse_raw_accepts_raw_text() -> None:
    assert parse_raw(RAW.decode()).message_id == "<raw-1@example.com>"


@pytest.mark.parametrize("bad", ["", "   ", b"", "QUJDRA-_x"])
def test_parse_raw_rejects_garbage(bad: str | bytes) -> None:
    with pytest.raises(ValueError):
        parse_raw(bad)


def test_parse_message_accepts_email_message() -> None:
    msg = EmailMessage()
    msg["From"] = "Ana Pérez <ana@example.com>"
    msg["To"] = "support@example.com, sales@example.com"
    msg["Subject"] = "Hola"
    msg["Message-ID"] = "<built-1@example.com>"
    msg.set_content(
        "¿Pueden ayudarme?\n\nEl lun, 3 jun 2024 a las 10:02, Soporte (<support@example.com>) escribió:\n> x"
    )
    msg.add_attachment(b"\x89PNG....", maintype="image", subtype="png", filename="captura.png")
    parsed = parse_message(msg)
    assert parsed.body == "¿Pueden ayudarme?"
    assert parsed.to == ("support@example.com", "sales@example.com")
    assert parsed.attachments == (AttachmentMeta("captura.png", "image/png", 8),)


def test_parse_message_accepts_compat32_message() -> None:
    msg = email.message_from_bytes(RAW)  # legacy policy: headers are plain strings
    parsed = parse_message(msg)
    assert parsed.from_address == "zoe@example.com"
    assert parsed.body.startswith("My order")
    legacy = parse_message(email.message_from_bytes((FIXTURES / "latin1_qp.eml").read_bytes()))
    assert legacy == load("latin1_qp.eml")


def test_broken_encoded_words_do_not_crash() -> None:
    raw = b"From: =?x-bogus?Q?Ana?= <ana@example.com>\r\nSubject: =?utf-8?B?###?=\r\n\r\nHi\r\n"
    parsed = parse_raw(raw)
    assert parsed.from_address == "ana@example.com"
    assert parsed.body == "Hi"


def test_missing_and_malformed_headers() -> None:
    raw = b"Date: not a date\r\nIn-Reply-To: <a@x> <b@x>\r\nTo: undisclosed-recipients:;\r\n\r\nHi\r\n"
    parsed = parse_raw(raw)
    assert parsed.date is None
    assert parsed.from_name is None and parsed.from_address is None
    assert parsed.message_id is None
    assert parsed.subject == ""
    assert parsed.to == ()
    assert parsed.in_reply_to == "<a@x>"
    assert parsed.body == "Hi"
    assert not parsed.is_auto_reply


def test_date_without_timezone_information() -> None:
    parsed = message({"Date": "Fri, 07 Jun 2024 11:11:11 -0000"})
    assert parsed.date == datetime(2024, 6, 7, 11, 11, 11)


def test_date_with_offset() -> None:
    parsed = message({"Date": "Fri, 07 Jun 2024 11:11:11 -0530"})
    assert parsed.date == datetime(2024, 6, 7, 11, 11, 11, tzinfo=timezone(-timedelta(hours=5, minutes=30)))


def test_undeclared_charset_falls_back_to_windows_1252() -> None:
    raw = b"From: a@example.com\r\nContent-Type: text/plain\r\n\r\nPrix: 10\x80 \x93ok\x94\r\n"
    assert parse_raw(raw).body == "Prix: 10€ “ok”"


def test_unknown_charset_does_not_crash() -> None:
    raw = b"From: a@example.com\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\nplain words\r\n"
    assert parse_raw(raw).body == "plain words"


def test_rfc2231_attachment_filename() -> None:
    raw = (
        b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: text/plain\r\n\r\nSee file\r\n--b\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename*=UTF-8''%C3%9Cbersicht%202024.xlsx\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b--\r\n"
    )
    parsed = parse_raw(raw)
    assert parsed.attachments == (AttachmentMeta("Übersicht 2024.xlsx", "application/octet-stream", 4),)
    assert parsed.body == "See file"


def test_inline_image_without_filename_is_listed_but_not_text() -> None:
    raw = (
        b"From: a@example.com\r\nContent-Type: multipart/related; boundary=r\r\n\r\n--r\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Logo below</p><img src=cid:logo>\r\n--r\r\n"
        b"Content-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"iVBORw0KGgo=\r\n--r--\r\n"
    )
    parsed = parse_raw(raw)
    assert parsed.body == "Logo below"
    assert parsed.attachments == (AttachmentMeta(None, "image/png", 8),)


def test_attached_email_is_metadata_only() -> None:
    raw = (
        b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\n"
        b"Content-Type: text/plain\r\n\r\nOriginal attached\r\n--m\r\nContent-Type: message/rfc822\r\n"
        b"Content-Disposition: attachment; filename=original.eml\r\n\r\n"
        b"From: b@example.com\r\nSubject: inner\r\n\r\ninner body\r\n--m--\r\n"
    )
    parsed = parse_raw(raw)
    assert parsed.body == "Original attached"
    assert len(parsed.attachments) == 1
    assert parsed.attachments[0].filename == "original.eml"
    assert parsed.attachments[0].content_type == "message/rfc822"
    assert parsed.attachments[0].size > 0


def test_html_alternative_used_when_plain_part_is_empty() -> None:
    raw = (
        b"From: a@example.com\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\n"
        b"Content-Type: text/plain\r\n\r\n\r\n--a\r\nContent-Type: text/html\r\n\r\n<p>Only in HTML</p>\r\n--a--\r\n"
    )
    assert parse_raw(raw).body == "Only in HTML"


def test_gmail_html_only_reply_is_stripped() -> None:
    gmail_html = (FIXTURES / "gmail_reply.eml").read_text().split('Content-Type: text/html; charset="UTF-8"\n\n')[1]
    raw = "From: m@example.com\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + gmail_html.split("--0000")[0]
    parsed = parse_raw(raw.encode())
    assert parsed.body == "That worked, thank you! One more thing: can I schedule the export weekly?"
    assert "> Please clear the browser cache and try again." in parsed.full_text


# --------------------------------------------------------------------------- html_to_text


def test_html_nested_lists() -> None:
    html = """
    <ul>
      <li>One</li>
      <li>Two
        <ul><li>Two A</li><li>Two B<ol><li>deep</li></ol></li></ul>
      </li>
      <li>Three</li>
    </ul>
    <ol><li>First</li><li>Second</li></ol>
    """
    assert html_to_text(html) == "- One\n- Two\n  - Two A\n  - Two B\n    1. deep\n- Three\n\n1. First\n2. Second"


def test_html_entities() -> None:
    html = "<p>Fish &amp; chips &lt;3&nbsp;&nbsp;now &eacute;t&eacute; &#8364;5 &#x27;q&#x27; &quot;d&quot; &copy;</p>"
    assert html_to_text(html) == "Fish & chips <3 now été €5 'q' \"d\" ©"


def test_html_drops_script_style_head_and_comments() -> None:
    html = (
        "<html><head><title>Secret title</title><meta name=x><style>.a{color:red}</style></head>"
        "<body><script type='text/javascript'>var a = '<p>no</p>';</script><!-- hidden comment -->"
        "<p>Visible</p><style>p{}</style></body></html>"
    )
    assert html_to_text(html) == "Visible"


def test_html_unclosed_head() -> None:
    assert html_to_text("<html><head><title>T</title><body><p>Body text</p>") == "Body text"


def test_html_breaks_paragraphs_divs_and_whitespace() -> None:
    html = "<div>Line one<br>Line   two\n continues</div><div><br></div><div>After gap</div><p>Para</p>text"
    assert html_to_text(html) == "Line one\nLine two continues\n\nAfter gap\n\nPara\n\ntext"


def test_html_keeps_link_text_only() -> None:
    html = '<p>Please see <a href="https://help.example.com/a?b=1&amp;c=2">the help article</a>.</p>'
    assert html_to_text(html) == "Please see the help article."


def test_html_tables() -> None:
    html = "<table><tr><th>Plan</th><th>Seats</th></tr><tr><td>Pro</td><td>12</td></tr></table>"
    assert html_to_text(html) == "Plan Seats\nPro 12"


def test_html_blockquote_and_pre() -> None:
    html = "<p>Answer</p><blockquote>quoted<br>lines<blockquote>deeper</blockquote></blockquote><pre>a  b\n  c</pre>"
    assert html_to_text(html) == "Answer\n\n> quoted\n> lines\n>\n> > deeper\n\na  b\n  c"


def test_html_edge_inputs() -> None:
    assert html_to_text("") == ""
    assert html_to_text("   <br><br>  ") == ""
    assert html_to_text("plain & simple") == "plain & simple"
    assert html_to_text("<p>unclosed <b>bold") == "unclosed bold"
    assert html_to_text("<li>orphan item</li>") == "- orphan item"


# --------------------------------------------------------------------------- strip_quoted


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thanks!\n\nOn Mon, 3 Jun 2024 at 10:02, Ana <ana@example.com> wrote:\n> hi", "Thanks!"),
        ("Thanks!\nOn Mon, 3 Jun 2024 at 10:02, Ana Pérez <\nana@example.com> wrote:\n\n> hi", "Thanks!"),
        ("Thanks!\nOn Mon, Jun 3, 2024 at 10:02 AM Ana Pérez\n<ana@example.com> wrote:\nunquoted history", "Thanks!"),
        ("Danke!\n\nAm Mo., 3. Juni 2024 um 10:02 Uhr schrieb Ana <ana@example.com>:\n> hallo", "Danke!"),
        ("Danke!\n\nAm 03.06.2024 um 10:02 schrieb Ana Müller:\n> hallo", "Danke!"),
        ("¡Gracias!\n\nEl lun, 3 jun 2024 a las 10:02, Ana (<ana@example.com>) escribió:\n> hola", "¡Gracias!"),
        ("Merci\n\nLe 3 juin 2024 à 10:02, Ana <ana@example.com> a écrit :\n> salut", "Merci"),
        ("Obrigado\n\nEm seg., 3 de jun. de 2024 às 10:02, Ana <ana@example.com> escreveu:\n> oi", "Obrigado"),
        ("Ok\n\n-----Original Message-----\nFrom: x\nrest", "Ok"),
        ("Ok\n\n-----Ursprüngliche Nachricht-----\nVon: x\nrest", "Ok"),
        ("Ok\n\nVon: Ana <ana@example.com>\nGesendet: Montag, 3. Juni 2024 10:02\nAn: b@example.com\nBetreff: x", "Ok"),
        ("Ok\n\nDe : Ana <ana@example.com>\nEnvoyé : lundi 3 juin 2024 10:02\nÀ : b@example.com\nObjet : x", "Ok"),
        ("Ok\n\n*From:* Ana <ana@example.com>\n*Sent:* Monday\n*To:* b@example.com\n*Subject:* x\nold", "Ok"),
        ("Ok\n\n________________________________\n\nFrom: Ana\nSent: Monday\nTo: b\nSubject: x", "Ok"),
        ("Sure.\n\n-- \nAna\nCEO", "Sure."),
        ("Sure.\n--\nAna", "Sure."),
        ("Sure.\n\nGet Outlook for iOS<https://aka.ms/o0ukef>", "Sure."),
        ("Sure.\n\nGet Outlook for Android", "Sure."),
        ("Sure.\n\nSent from Mail for Windows", "Sure."),
        ("Sure.\n\nSent from my iPad\n", "Sure."),
        ("Sure.\r\n\r\nOn Mon, 3 Jun 2024 at 10:02, Ana <ana@example.com> wrote:\r\n> hi\r\n", "Sure."),
    ],
)
def test_strip_quoted_removes_history_and_signatures(text: str, expected: str) -> None:
    assert strip_quoted(text) == expected


def test_strip_quoted_inline_replies_keep_answers() -> None:
    text = "> Which browser?\nFirefox 126\n> Which OS?\nmacOS 14\n\nThanks"
    assert strip_quoted(text) == "Firefox 126\nmacOS 14\n\nThanks"


def test_strip_quoted_never_empty_when_everything_is_quoted() -> None:
    top = "On Mon, 3 Jun 2024 at 10:02, Ana <ana@example.com> wrote:\n> The whole thing is quoted\n"
    assert strip_quoted(top) == top.strip()
    assert strip_quoted("> only quoted\n> lines\n") == "> only quoted\n> lines"
    assert strip_quoted("-- \nsignature only") == "-- \nsignature only"


def test_strip_quoted_empty_and_plain() -> None:
    assert strip_quoted("") == ""
    assert strip_quoted("  \n\n ") == ""
    assert strip_quoted("\n\nJust a message.\n\n") == "Just a message."


@pytest.mark.parametrize(
    "text",
    [
        "On Monday the export broke again.\nCan you help?",
        "On the forum someone wrote:\nuse the CLI",
        "Step one\n---\nStep two",
        "From: the billing page\nI cannot pay.",
        "Sent from my iPhone the screenshots did not arrive, resending them now with more detail attached.",
    ],
)
def test_strip_quoted_leaves_ordinary_text(text: str) -> None:
    assert strip_quoted(text) == text


def test_strip_quoted_keeps_gmail_forward() -> None:
    text = (
        "FYI, see below.\n\n---------- Forwarded message ---------\nFrom: Bank <b@example.com>\n"
        "Date: Fri, 7 Jun 2024 at 18:00\nSubject: Declined\nTo: <m@example.com>\n\nCard declined.\n"
        "> quoted inside the forward stays\n-- \nBank signature stays"
    )
    assert strip_quoted(text) == text


def test_strip_quoted_keeps_apple_forward_but_drops_sender_signature() -> None:
    forwarded = "Begin forwarded message:\n\nFrom: Ana <ana@example.com>\nSubject: Hi\n\nBody"
    assert strip_quoted(f"Look at this\n-- \nBob\n\n{forwarded}") == f"Look at this\n\n{forwarded}"


def test_strip_quoted_forward_inside_history_is_history() -> None:
    text = (
        "Thanks\n\nOn Mon, 3 Jun 2024 at 10:02, Ana <a@example.com> wrote:\n"
        "> ---------- Forwarded message ---------\n> x"
    )
    assert strip_quoted(text) == "Thanks"


def test_strip_quoted_does_not_join_attribution_with_quoted_line() -> None:
    assert strip_quoted("On 3 June we had an outage\n> Someone wrote:\nok") == "On 3 June we had an outage\nok"


def test_outlook_html_reply_is_stripped() -> None:
    html = (
        '<html><head><style type="text/css"> P {margin-top:0;} </style></head><body dir="ltr">'
        "<div>Please refund the second charge.</div><div><br></div><div>Thanks,</div><div>Luis</div>"
        '<div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1">'
        '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt">'
        "<b>From:</b> Acme Billing &lt;billing@example.com&gt;<br><b>Sent:</b> Monday, June 3, 2024 10:02 AM<br>"
        "<b>To:</b> Luis Garcia &lt;luis.garcia@example.com&gt;<br><b>Subject:</b> Re: Double charge</font>"
        "<div>&nbsp;</div></div><div><p>Hi Luis, we see two charges.</p></div></body></html>"
    )
    assert strip_quoted(html_to_text(html)) == "Please refund the second charge.\n\nThanks,\nLuis"


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_strip_quoted_never_empties_real_text(text: str) -> None:
    result = strip_quoted(text)
    assert bool(result) == bool(text.strip().lstrip("\ufeff").strip())


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=&;#!- \n\"'abpdivlulis0123")), max_size=300))
def test_html_to_text_never_crashes_or_leaks_tags(html: str) -> None:
    text = html_to_text(html)
    assert "<script" not in text.lower()
    assert "\x00" not in text


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_strip_quoted_is_idempotent(name: str) -> None:
    body = load(name).body
    assert strip_quoted(body) == body


# --------------------------------------------------------------------------- auto-replies


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
        ({"Auto-Submitted": "auto-generated"}, "Auto-Submitted: auto-generated"),
        ({"X-Autoreply": "yes"}, "X-Autoreply: yes"),
        ({"X-Autorespond": "Out of office"}, "X-Autorespond: Out of office"),
        ({"X-Auto-Response-Suppress": "All"}, "X-Auto-Response-Suppress: All"),
        ({"X-Auto-Response-Suppress": "DR, OOF"}, "X-Auto-Response-Suppress: DR, OOF"),
        ({"X-Auto-Response-Suppress": "AutoReply"}, "X-Auto-Response-Suppress: AutoReply"),
        ({"Precedence": "bulk"}, "Precedence: bulk"),
        ({"Precedence": "junk"}, "Precedence: junk"),
        ({"Precedence": "List"}, "Precedence: list"),
        ({"Precedence": "auto_reply"}, "Precedence: auto_reply"),
        ({"List-Id": "<news.example.com>"}, "List-Id"),
        ({"List-Unsubscribe": "<https://example.com/u>"}, "List-Unsubscribe"),
        ({"Return-Path": "<>"}, "Return-Path: <>"),
        ({"From": "Mailer <MAILER-DAEMON@example.com>"}, "From: MAILER-DAEMON"),
        ({"From": "postmaster@example.com"}, "From: postmaster"),
        ({"From": "Shop <no-reply@example.com>"}, "From: no-reply"),
        ({"From": "noreply@example.com"}, "From: noreply"),
        ({"From": "DoNotReply@example.com"}, "From: DoNotReply"),
        ({"Subject": "Out of Office: back Monday"}, "Subject: Out of Office: back Monday"),
        ({"Subject": "Automatic reply: Question"}, "Subject: Automatic reply: Question"),
        ({"Subject": "Auto: Question"}, "Subject: Auto: Question"),
        ({"Subject": "AutoReply: Question"}, "Subject: AutoReply: Question"),
        ({"Subject": "Abwesenheitsnotiz: Frage"}, "Subject: Abwesenheitsnotiz: Frage"),
        ({"Subject": "=?UTF-8?Q?R=C3=A9ponse_automatique_:_Question?="}, "Subject: Réponse automatique : Question"),
        ({"Subject": "=?UTF-8?Q?Respuesta_autom=C3=A1tica:_Pregunta?="}, "Subject: Respuesta automática: Pregunta"),
    ],
)
def test_auto_reply_detection(headers: dict[str, str], reason: str) -> None:
    parsed = message(headers)
    assert parsed.is_auto_reply
    assert parsed.auto_reply_reason == reason


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Auto-Submitted": "no"},
        {"X-Autoreply": "no"},
        {"X-Auto-Response-Suppress": "DR, RN, NRN"},
        {"Precedence": "first-class"},
        {"Return-Path": "<customer@example.com>"},
        {"From": "reply@example.com"},
        {"Subject": "Re: Out of office question"},
        {"Subject": "Automation question"},
    ],
)
def test_human_mail_is_not_auto_reply(headers: dict[str, str]) -> None:
    parsed = message(headers)
    assert not parsed.is_auto_reply
    assert parsed.auto_reply_reason is None


def test_multipart_report_reason_wins_over_sender() -> None:
    assert load("bounce.eml").auto_reply_reason == "Content-Type: multipart/report"


# --------------------------------------------------------------------------- is_own_message


@pytest.mark.parametrize(
    ("mailbox", "expected"),
    [
        ("support@example.com", True),
        ("SUPPORT@Example.COM", True),
        ("  support@example.com ", True),
        ("Acme Support <support@example.com>", True),
        ("sales@example.com", False),
        ("", False),
    ],
)
def test_is_own_message(mailbox: str, expected: bool) -> None:
    parsed = message({"From": "Acme Support <Support@Example.com>"})
    assert is_own_message(parsed, mailbox) is expected


def test_is_own_message_without_sender() -> None:
    parsed = parse_raw(b"To: support@example.com\r\n\r\nno sender\r\n")
    assert not is_own_message(parsed, "support@example.com")


def test_customer_mail_is_not_own() -> None:
    assert not is_own_message(load("plain.eml"), "support@example.com")
