"""The identity rules as plain functions: verified flags, resolution, conflicts, mentions,
confirmations and names."""

from __future__ import annotations

import uuid

import pytest

from services.identity.linking import (
    Claim,
    Mention,
    OpenSuggestion,
    Owner,
    claims_of,
    confirming,
    linked_by_message,
    mention_suggestions,
    name_key,
    resolve,
    strongest_first,
)
from services.identity.mentions import self_mentions

A, B = uuid.uuid4(), uuid.uuid4()
EMAIL = Claim("email", "ana@example.com", False)
PHONE = Claim("phone", "+14155550123", False)


@pytest.mark.parametrize(
    ("channel", "email", "phone", "expected"),
    [
        ("web", " Ana@Example.com ", "(415) 555-0123", {("email", False), ("phone", False)}),
        ("whatsapp", None, "whatsapp:+14155550123", {("phone", True)}),
        ("email", "Ana <ANA@example.com>", None, {("email", True)}),
        ("whatsapp", "ana@example.com", "whatsapp:+14155550123", {("email", False), ("phone", True)}),
    ],
)
def test_verified_flag_per_channel(channel: str, email: str | None, phone: str | None, expected: set) -> None:
    claims, dropped = claims_of(channel, email=email, phone=phone, default_region="US")
    assert dropped == []
    assert {(c.kind, c.verified) for c in claims} == expected
    assert {c.value for c in claims} <= {"ana@example.com", "+14155550123"}


def test_unusable_identifiers_are_dropped_and_reported_by_field() -> None:
    claims, dropped = claims_of("web", email="ana@example.com", phone="call me", default_region="US")
    assert [c.kind for c in claims] == ["email"]
    assert [d.field for d in dropped] == ["phone"]


def test_the_strongest_identifier_depends_on_the_channel() -> None:
    assert [c.kind for c in strongest_first([PHONE, EMAIL], "web")] == ["email", "phone"]
    assert [c.kind for c in strongest_first([EMAIL, PHONE], "whatsapp")] == ["phone", "email"]
    verified_phone = Claim("phone", PHONE.value, True)
    assert strongest_first([EMAIL, verified_phone], "web")[0] == verified_phone  # verified first


def test_unknown_identifiers_make_a_new_customer_with_all_of_them() -> None:
    resolution = resolve([EMAIL, PHONE], {}, "web")
    assert resolution.customer_id is None
    assert set(resolution.attach) == {EMAIL, PHONE}
    assert resolution.conflicts == ()


def test_identifiers_given_together_join_the_owner_of_the_known_one() -> None:
    resolution = resolve([EMAIL, PHONE], {PHONE.key: Owner(A, True)}, "web")
    assert resolution.customer_id == A
    assert resolution.attach == (EMAIL,)
    assert resolution.conflicts == ()


@pytest.mark.parametrize(("channel", "winner", "loser"), [("web", A, B), ("whatsapp", B, A), ("email", A, B)])
def test_a_conflict_goes_to_the_strongest_identifier_and_moves_nothing(
    channel: str, winner: uuid.UUID, loser: uuid.UUID
) -> None:
    owners = {EMAIL.key: Owner(A, False), PHONE.key: Owner(B, False)}
    resolution = resolve([EMAIL, PHONE], owners, channel)
    assert resolution.customer_id == winner
    assert resolution.attach == ()
    assert [other for _, other in resolution.conflicts] == [loser]


def _suggestion(customer: uuid.UUID, key: tuple[str, str]) -> OpenSuggestion:
    return OpenSuggestion(1, customer, key, "mention", sender_verified=True)


def test_mutual_verified_claims_confirm_a_suggestion() -> None:
    claimed = Claim("email", "ana@example.com", True)  # this message is verified from the address
    mention = Mention("phone", "+14155550123", "my whatsapp is ...")
    owners = {mention.key: Owner(A, True)}  # A's phone, verified by Twilio
    suggestion = _suggestion(A, claimed.key)  # A claimed the address on WhatsApp earlier
    assert confirming([suggestion], [claimed], [mention], owners) == [suggestion]


@pytest.mark.parametrize(
    "case",
    ["message not verified", "mentioned identifier not verified", "mention owned by someone else", "no mention"],
)
def test_anything_less_than_mutual_verified_claims_confirms_nothing(case: str) -> None:
    claimed = Claim("email", "ana@example.com", case != "message not verified")
    mention = Mention("phone", "+14155550123", "")
    owner = B if case == "mention owned by someone else" else A
    owners = {mention.key: Owner(owner, case != "mentioned identifier not verified")}
    mentions = [] if case == "no mention" else [mention]
    assert confirming([_suggestion(A, claimed.key)], [claimed], mentions, owners) == []


@pytest.mark.parametrize(
    "suggestion",
    [
        OpenSuggestion(1, A, ("email", "ana@example.com"), "mention", sender_verified=False),  # typed in the form
        OpenSuggestion(1, A, ("email", "ana@example.com"), "conflict", sender_verified=True),
    ],
)
def test_claims_not_made_from_a_verified_identifier_are_never_confirmed_by_mentions(
    suggestion: OpenSuggestion,
) -> None:
    """Otherwise: type a victim's email and your phone into the form (a conflict), then say on
    WhatsApp "my email is <victim's>" and be merged into the victim."""
    claimed = Claim("email", "ana@example.com", True)
    mention = Mention("phone", "+14155550123", "")
    assert confirming([suggestion], [claimed], [mention], {mention.key: Owner(A, True)}) == []


def test_a_suggestion_is_confirmed_when_the_message_links_its_identifier_to_the_claimant() -> None:
    suggestion = _suggestion(A, EMAIL.key)
    assert linked_by_message([suggestion], A, [EMAIL.key]) == [1]
    assert linked_by_message([suggestion], B, [EMAIL.key]) == []
    assert linked_by_message([suggestion], A, [PHONE.key]) == []


def test_mentions_of_the_customers_own_identifiers_suggest_nothing() -> None:
    mine = Mention("email", "ana@example.com", "")
    theirs = Mention("phone", "+14155550123", "")
    nobodys = Mention("email", "new@example.com", "")
    owners = {mine.key: Owner(A, False), theirs.key: Owner(B, True)}
    assert mention_suggestions([mine, theirs, nobodys], owners, A) == [(theirs, B), (nobodys, None)]


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Ana Ruiz", "ana ruiz"),
        ("  ANA   RUIZ ", "ana ruiz"),
        ("Ána Ruíz", "ana ruiz"),
        ("Ana-María O'Brien", "ana maria obrien"),
        ("Zoë Quintero", "zoe quintero"),
        ("Ana", None),  # a first name alone is never evidence
        ("Ana R.", None),
        ("J. Smith", None),
        ("", None),
        (None, None),
    ],
)
def test_name_key(name: str | None, key: str | None) -> None:
    assert name_key(name) == key


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi, my email is Ana.Ruiz@Example.com. Thanks", [("email", "ana.ruiz@example.com")]),
        ("You can reach me at +44 7911 123456", [("phone", "+447911123456")]),
        ("I also wrote on WhatsApp from (415) 555-0123.", [("phone", "+14155550123")]),
        ("I wrote from whatsapp:+14155550123 yesterday", [("phone", "+14155550123")]),
        ("I wrote on WhatsApp from 00 44 7400 123456.", [("phone", "+447400123456")]),
        ("my WhatsApp: whatsapp:+5212221234567", [("phone", "+522221234567")]),
        ("ana@example.com is my email", [("email", "ana@example.com")]),
        ("I’m ana@example.com", [("email", "ana@example.com")]),
        (
            "my number is 415 555 0123 and my email is ana@example.com",
            [("phone", "+14155550123"), ("email", "ana@example.com")],
        ),
        ("my colleague's email is bob@example.com", []),
        ("Please CC my boss at boss@example.com", []),
        ("Our office number is 415-555-0199", []),
        ("call 415 555 0123", []),
        ("my order number is 4155550123", []),
        ("my old email was ana@example.com", []),
        ("this is not my email: ana@example.com", []),
        ("Sent from my iPhone. Reply to support@example.com", []),
        ("", []),
    ],
)
def test_self_mentions(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(m.kind, m.value) for m in self_mentions(text, default_region="US")] == expected


def test_a_mention_keeps_its_sentence_as_evidence() -> None:
    [mention] = self_mentions("Hello team! By the way, my email is ana@example.com. Bye", default_region="US")
    assert mention.excerpt == "By the way, my email is ana@example.com"
