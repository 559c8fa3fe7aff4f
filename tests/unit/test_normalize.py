"""Unit and property tests for services.identity.normalize."""

from __future__ import annotations

import pickle

import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from services.identity.normalize import (
    PUBLIC_EMAIL_DOMAINS,
    InvalidIdentifier,
    email_domain,
    is_shared_company_domain,
    normalize_email,
    normalize_phone,
)

PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# --------------------------------------------------------------------------- phone: valid inputs

# (raw input, default_region, expected E.164)
PHONE_CASES: list[tuple[str, str, str]] = [
    # US / CA
    ("+1 (415) 555-0100", "US", "+14155550100"),
    ("(415) 555-0100", "US", "+14155550100"),
    ("415.555.0100", "US", "+14155550100"),
    ("415-555-0100", "US", "+14155550100"),
    ("415/555/0100", "US", "+14155550100"),
    ("1-415-555-0100", "US", "+14155550100"),
    ("14155550100", "US", "+14155550100"),
    ("whatsapp:+14155550100", "US", "+14155550100"),
    ("WhatsApp:+1 415 555 0100", "GB", "+14155550100"),
    ("tel:+1-415-555-0100", "DE", "+14155550100"),
    ("TEL:+1.415.555.0100", "US", "+14155550100"),
    ("(212) 555-0199", "US", "+12125550199"),  # fictional 555-01xx exchange
    ("555-010-0123", "US", "+15550100123"),  # area code 555: possible but not valid
    ("(506) 234-5678", "CA", "+15062345678"),
    ("011 44 20 7946 0958", "US", "+442079460958"),  # North American IDD
    ("\u00a0+1 415 555 0100\u200b", "US", "+14155550100"),  # NBSP and zero-width space
    # GB
    ("+44 20 7946 0958", "US", "+442079460958"),
    ("020 7946 0958", "GB", "+442079460958"),
    ("020 7946 0958", "gb", "+442079460958"),  # region code is case-insensitive
    ("07400 123456", "GB", "+447400123456"),
    ("0044 7400 123456", "DE", "+447400123456"),
    ("0044 7400 123456", "US", "+447400123456"),  # 00 accepted even where the IDD is 011
    ("+44 (0) 20 7946 0958", "US", "+442079460958"),
    ("whatsapp:+447400123456", "US", "+447400123456"),
    # DE
    ("+49 30 123456", "US", "+4930123456"),
    ("030 123456", "DE", "+4930123456"),
    ("01512 3456789", "DE", "+4915123456789"),
    ("0049 30 123456", "FR", "+4930123456"),
    # FR
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("06.12.34.56.78", "FR", "+33612345678"),
    ("+33 1 23 45 67 89", "US", "+33123456789"),
    # IN
    ("+91 81234 56789", "US", "+918123456789"),
    ("081234 56789", "IN", "+918123456789"),
    ("81234-56789", "IN", "+918123456789"),
    ("whatsapp:+918123456789", "US", "+918123456789"),
    # BR
    ("+55 11 96123-4567", "US", "+5511961234567"),
    ("(11) 96123-4567", "BR", "+5511961234567"),
    # MX
    ("+52 222 123 4567", "US", "+522221234567"),
    ("222 123 4567", "MX", "+522221234567"),
    ("whatsapp:+5212221234567", "US", "+522221234567"),  # WhatsApp's legacy +52 1 mobile form
    # AR (WhatsApp mobile form with the 9)
    ("+54 9 11 2345-6789", "US", "+5491123456789"),
    # AU
    ("0412 345 678", "AU", "+61412345678"),
    ("(02) 1234 5678", "AU", "+61212345678"),
    ("+61 2 1234 5678", "US", "+61212345678"),
    # JP
    ("090-1234-5678", "JP", "+819012345678"),
    ("+81 3-1234-5678", "US", "+81312345678"),
    (
        "\uff10\uff19\uff10-\uff11\uff12\uff13\uff14-\uff15\uff16\uff17\uff18",
        "JP",
        "+819012345678",
    ),  # full-width
    # ES
    ("612 34 56 78", "ES", "+34612345678"),
    ("0034 612 345 678", "GB", "+34612345678"),
    # NG
    ("0802 123 4567", "NG", "+2348021234567"),
    ("+234 802 123 4567", "US", "+2348021234567"),
    # ZA
    ("071 123 4567", "ZA", "+27711234567"),
    ("+27 10 123 4567", "US", "+27101234567"),
    # AE, copied from a right-to-left UI (bidi embedding marks)
    ("\u202a+971 50 123 4567\u202c", "US", "+971501234567"),
    ("050 123 4567", "AE", "+971501234567"),
]


@pytest.mark.parametrize(("raw", "region", "expected"), PHONE_CASES)
def test_normalize_phone_formats(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, default_region=region) == expected


def test_phone_table_covers_many_regions() -> None:
    regions = {phonenumbers.region_code_for_number(phonenumbers.parse(e164)) for _, _, e164 in PHONE_CASES}
    assert {"US", "CA", "GB", "DE", "FR", "IN", "BR", "MX", "AU", "JP", "ES", "NG", "ZA"} <= regions
    assert len(PHONE_CASES) >= 30


def test_default_region_is_us() -> None:
    assert normalize_phone("(415) 555-0100") == "+14155550100"


def test_fictional_555_numbers_are_accepted_although_not_valid() -> None:
    parsed = phonenumbers.parse("+15550100123")
    assert phonenumbers.is_possible_number(parsed)
    assert not phonenumbers.is_valid_number(parsed)
    assert normalize_phone("(555) 010-0123") == "+15550100123"
    assert normalize_phone("whatsapp:+15550100123") == "+15550100123"


# --------------------------------------------------------------------------- phone: invalid inputs

# (raw input, default_region, word expected in the reason)
INVALID_PHONES: list[tuple[str, str, str]] = [
    ("", "US", "empty"),
    ("   \u00a0\u200b", "US", "empty"),
    ("whatsapp:", "US", "prefix"),
    ("tel:", "US", "prefix"),
    ("whatsapp:  ", "US", "prefix"),
    ("+", "US", "digits"),
    ("() - .", "US", "digits"),
    ("00", "US", ""),
    ("abc", "US", "letters"),
    ("call me", "US", "letters"),
    ("1-800-FLOWERS", "US", "letters"),  # vanity letters are not translated
    ("12", "US", "short"),
    ("0", "GB", ""),
    ("555-0100", "US", "area code"),  # local-only number: no meaningful E.164
    ("+999 1234567", "US", "country"),
    ("+1 415 555 01000000", "US", "long"),
    ("+1 415 555 0100 ext. 12", "US", "extension"),
    ("+1 415 555 0100 x12", "US", "extension"),
    ("415-555-0100 extension 7", "US", "extension"),
    ("tel:+1-415-555-0100;ext=12", "US", "extension"),
    ("415 555 0100 #12", "US", "extension"),
    ("+1 415+555 0100", "US", "+"),
    ("415_555_0100", "US", "U+005F"),
    ("tel:+1-415-555-0100;phone-context=example.com", "US", ""),
    ("+52 1 222 123 45678", "US", "long"),
    ("4" * 80, "US", "long"),
]


@pytest.mark.parametrize(("raw", "region", "reason_word"), INVALID_PHONES)
def test_normalize_phone_rejects(raw: str, region: str, reason_word: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        normalize_phone(raw, default_region=region)
    assert info.value.field == "phone"
    assert info.value.reason
    assert reason_word.lower() in info.value.reason.lower()


def test_unknown_default_region_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="default_region") as info:
        normalize_phone("+14155550100", default_region="XX")
    assert not isinstance(info.value, InvalidIdentifier)


def test_phone_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        normalize_phone(14155550100)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- email: valid inputs

# (raw input, expected) with default options: plus tags and dots are kept
EMAIL_CASES: list[tuple[str, str]] = [
    ("ana@example.com", "ana@example.com"),
    ("Ana@Example.COM", "ana@example.com"),
    ("  ana@example.com\t\n", "ana@example.com"),
    ("\u00a0ana@example.com\u200b", "ana@example.com"),
    ("\ufeffana@exam\u200dple.com", "ana@example.com"),  # BOM and zero-width joiner
    ('"Ana Ruiz" <Ana.Ruiz@Example.com>', "ana.ruiz@example.com"),
    ("Ana Ruiz <ana@example.com>", "ana@example.com"),
    ('"Ruiz, Ana <sales>" <ana@example.com>', "ana@example.com"),
    ("<ana@example.com>", "ana@example.com"),
    (" < ana@example.com > ", "ana@example.com"),
    ("mailto:ana@example.com", "ana@example.com"),
    ("MAILTO:Ana@Example.com", "ana@example.com"),
    ("<mailto:ana@example.com>", "ana@example.com"),
    ('"Ana" <mailto:ana@example.com>', "ana@example.com"),
    ("mailto:ana%2Bsales@example.com?subject=Hello", "ana+sales@example.com"),
    ("ana+sales@example.com", "ana+sales@example.com"),
    ("a.n.a@gmail.com", "a.n.a@gmail.com"),
    ("Ana.Ruiz+Promo@GMail.com", "ana.ruiz+promo@gmail.com"),
    ("o'brien@example.ie", "o'brien@example.ie"),
    ("first_last-1{x}@sub.example.co.uk", "first_last-1{x}@sub.example.co.uk"),
    ("ana@my-company.io", "ana@my-company.io"),
    ("ana@münchen.de", "ana@xn--mnchen-3ya.de"),
    ("ANA@MÜNCHEN.DE", "ana@xn--mnchen-3ya.de"),
    ("ana@xn--mnchen-3ya.de", "ana@xn--mnchen-3ya.de"),
    ("ana@bücher.example.com", "ana@xn--bcher-kva.example.com"),
    ("ana@例え.jp", "ana@xn--r8jz45g.jp"),
    ("José@Example.com", "josé@example.com"),  # internationalised local part, case-folded
    ("x" * 64 + "@example.com", "x" * 64 + "@example.com"),
]


@pytest.mark.parametrize(("raw", "expected"), EMAIL_CASES)
def test_normalize_email(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


# (raw input, fold_plus, fold_gmail_dots, expected)
EMAIL_FOLD_CASES: list[tuple[str, bool, bool, str]] = [
    ("ana+sales@example.com", True, False, "ana@example.com"),
    ("ana+a+b@example.com", True, False, "ana@example.com"),
    ("ana+sales@gmail.com", True, False, "ana@gmail.com"),
    ("a.n.a+x@gmail.com", True, True, "ana@gmail.com"),
    ("a.n.a+x@gmail.com", False, True, "ana+x@gmail.com"),
    ("A.N.A@GoogleMail.com", False, True, "ana@googlemail.com"),
    ("a.n.a@example.com", False, True, "a.n.a@example.com"),  # dots only folded for Gmail
    ("a.n.a@gmail.com.au", False, True, "a.n.a@gmail.com.au"),
    ("a.n.a+x@example.com", True, True, "a.n.a@example.com"),
    ("+tag@example.com", True, False, "+tag@example.com"),  # nothing to fold onto
    ("ana.+tag@example.com", True, False, "ana.+tag@example.com"),  # "ana." is not a local part
    ('"Ana" <Ana.Ruiz+News@Gmail.com>', True, True, "anaruiz@gmail.com"),
]


@pytest.mark.parametrize(("raw", "fold_plus", "fold_dots", "expected"), EMAIL_FOLD_CASES)
def test_normalize_email_fold_options(raw: str, fold_plus: bool, fold_dots: bool, expected: str) -> None:
    assert normalize_email(raw, fold_plus=fold_plus, fold_gmail_dots=fold_dots) == expected


# --------------------------------------------------------------------------- email: invalid inputs

INVALID_EMAILS: list[str] = [
    "",
    "   \u200b",
    "ana",
    "ana@",
    "@example.com",
    "ana@@example.com",
    "a@b@example.com",
    "ana@localhost",
    "ana@example..com",
    "ana..ruiz@example.com",
    ".ana@example.com",
    "ana.@example.com",
    "ana ruiz@example.com",
    "ana@exam ple.com",
    "ana@-example.com",
    "ana@example-.com",
    "ana@exa_mple.com",
    "ana@[192.168.0.1]",
    "ana@192.168.0.1",
    '"ana ruiz"@example.com',
    "ana(comment)@example.com",
    "ana@example.com.",
    "ana@xn--zz.com",
    "x" * 65 + "@example.com",
    "ana@" + "a" * 64 + ".com",  # label longer than 63
    "x" * 64 + "@" + ".".join(["a" * 63] * 3) + ".com",  # address longer than 254
    "mailto:",
    "<>",
    "Ana Ruiz",
    "ana@example.com, bob@example.com",
    "ana@example.com>",
]


@pytest.mark.parametrize("raw", INVALID_EMAILS)
def test_normalize_email_rejects(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        normalize_email(raw)
    assert info.value.field == "email"
    assert info.value.reason


def test_email_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        normalize_email(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- InvalidIdentifier


def test_invalid_identifier_is_value_error_and_does_not_leak_input() -> None:
    secret = "ana.secret@@example.com"
    with pytest.raises(ValueError) as info:
        normalize_email(secret)
    err = info.value
    assert isinstance(err, InvalidIdentifier)
    assert secret not in str(err)
    assert str(err) == f"invalid email: {err.reason}"


def test_invalid_identifier_pickles() -> None:
    err = InvalidIdentifier("phone", "too short")
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.field, clone.reason, str(clone)) == ("phone", "too short", "invalid phone: too short")


# --------------------------------------------------------------------------- domains


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        ("ana@example.com", "example.com"),
        ("ana@xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
        ("ana+x@sub.example.co.uk", "sub.example.co.uk"),
    ],
)
def test_email_domain(address: str, domain: str) -> None:
    assert email_domain(address) == domain
    assert email_domain(normalize_email(address)) == domain


@pytest.mark.parametrize("bad", ["", "ana", "ana@"])
def test_email_domain_rejects(bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        email_domain(bad)


def test_public_domains_are_normalised() -> None:
    assert isinstance(PUBLIC_EMAIL_DOMAINS, frozenset)
    required = {"gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "icloud.com", "proton.me"}
    assert required <= PUBLIC_EMAIL_DOMAINS
    for domain in PUBLIC_EMAIL_DOMAINS:
        assert email_domain(normalize_email(f"user@{domain}")) == domain


@pytest.mark.parametrize(
    ("domain", "shared"),
    [
        ("gmail.com", False),
        ("GMail.COM", False),
        ("outlook.com.", False),
        (" proton.me ", False),
        ("googlemail.com", False),
        ("acme.io", True),
        ("example.co.uk", True),
        ("münchen.de", True),
        ("xn--mnchen-3ya.de", True),
        ("gmail.com.au", True),
    ],
)
def test_is_shared_company_domain(domain: str, shared: bool) -> None:
    assert is_shared_company_domain(domain) is shared


@pytest.mark.parametrize("bad", ["  ", "localhost", "not a domain", "ana@acme.io", "-acme.io"])
def test_is_shared_company_domain_rejects_non_domains(bad: str) -> None:
    with pytest.raises(InvalidIdentifier):
        is_shared_company_domain(bad)


def test_colleagues_share_company_domain_but_not_identity() -> None:
    ana = normalize_email('"Ana" <Ana@Acme.io>')
    bob = normalize_email("bob@acme.io")
    assert email_domain(ana) == email_domain(bob) == "acme.io"
    assert is_shared_company_domain(email_domain(ana))
    assert ana != bob


# --------------------------------------------------------------------------- property tests

_PHONE_REGIONS = sorted(
    r
    for r in phonenumbers.SUPPORTED_REGIONS
    if phonenumbers.example_number_for_type(r, phonenumbers.PhoneNumberType.MOBILE)
)
# Regions our customers mostly come from. National formatting round trips are only
# asserted here: a few exotic metadata entries (e.g. GA) format national numbers in a
# way phonenumbers itself does not parse back to the same number.
_CORE_REGIONS = [
    "US",
    "CA",
    "GB",
    "DE",
    "FR",
    "IN",
    "BR",
    "MX",
    "AU",
    "JP",
    "ES",
    "NG",
    "ZA",
    "IT",
    "NL",
    "AE",
]
_PHONE_TYPES = [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]


@st.composite
def e164_numbers(draw: st.DrawFn, regions: list[str] = _PHONE_REGIONS) -> tuple[str, str]:
    """A possible E.164 number (example number with randomised tail digits) and its region."""
    region = draw(st.sampled_from(regions))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(_PHONE_TYPES)))
    assume(example is not None)
    national = str(example.national_number)
    keep = draw(st.integers(min_value=min(3, len(national)), max_value=len(national)))
    tail = draw(st.text(alphabet="0123456789", min_size=len(national) - keep, max_size=len(national) - keep))
    number = phonenumbers.PhoneNumber(
        country_code=example.country_code, national_number=int(national[:keep] + tail)
    )
    assume(phonenumbers.is_possible_number_with_reason(number) == phonenumbers.ValidationResult.IS_POSSIBLE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), region


@PROPERTY_SETTINGS
@given(e164_numbers(), st.sampled_from(["US", "GB", "DE", "IN", "BR", "JP"]))
def test_phone_normalisation_is_idempotent(case: tuple[str, str], region: str) -> None:
    e164, _ = case
    once = normalize_phone(e164, default_region=region)
    assert once == e164
    assert normalize_phone(once, default_region=region) == once
    assert normalize_phone(once, default_region="ZA") == once


@PROPERTY_SETTINGS
@given(e164_numbers())
def test_phone_presentation_variants_agree(case: tuple[str, str]) -> None:
    e164, _ = case
    expected = normalize_phone(e164)
    parsed = phonenumbers.parse(e164)
    international = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    assert normalize_phone(international) == expected
    assert normalize_phone(f"whatsapp:{e164}") == expected
    assert normalize_phone(f"tel:{e164}") == expected
    assert normalize_phone("00" + e164[1:], default_region="GB") == expected


@PROPERTY_SETTINGS
@given(e164_numbers(_CORE_REGIONS))
def test_valid_numbers_round_trip_through_national_format(case: tuple[str, str]) -> None:
    e164, region = case
    parsed = phonenumbers.parse(e164)
    assume(phonenumbers.is_valid_number(parsed))
    assume(phonenumbers.region_code_for_number(parsed) == region)
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    assume(national.strip())
    try:
        result = normalize_phone(national, default_region=region)
    except InvalidIdentifier:
        # Some national formats are only dialable locally (no area code); rejecting them is fine.
        return
    assert result == normalize_phone(e164)


_ATOM = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-'!#", min_size=1, max_size=8
)
_LABEL = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", fullmatch=True)
_IDN_LABEL = st.sampled_from(["münchen", "bücher", "例え", "пример", "café", "ΔΟΚΙΜΉ", "straße"])
_TLD = st.from_regex(r"[a-zA-Z]{2,6}", fullmatch=True)


@st.composite
def email_addresses(draw: st.DrawFn) -> str:
    """A syntactically valid address, possibly with mixed case, a plus tag, dots and IDN labels."""
    local = ".".join(draw(st.lists(_ATOM, min_size=1, max_size=4)))
    if draw(st.booleans()):
        local += "+" + draw(_ATOM)
    labels = draw(st.lists(st.one_of(_LABEL, _IDN_LABEL), min_size=1, max_size=3))
    domain = draw(
        st.one_of(st.just(".".join([*labels, draw(_TLD)])), st.sampled_from(["gmail.com", "GoogleMail.com"]))
    )
    return f"{local}@{domain}"


@st.composite
def wrapped(draw: st.DrawFn, address: str) -> str:
    """The same address as people paste it: display names, brackets, mailto:, stray whitespace."""
    form = draw(st.sampled_from(["{a}", "<{a}>", "mailto:{a}", '"Ana Ruiz" <{a}>', "Ana <mailto:{a}>"]))
    pad = draw(st.sampled_from(["", " ", "\u00a0", "\u200b", "\t", "\ufeff "]))
    return pad + form.format(a=address) + pad


@PROPERTY_SETTINGS
@given(email_addresses(), st.booleans(), st.booleans(), st.data())
def test_email_normalisation_is_idempotent(
    address: str, fold_plus: bool, fold_dots: bool, data: st.DataObject
) -> None:
    once = normalize_email(address, fold_plus=fold_plus, fold_gmail_dots=fold_dots)
    assert normalize_email(once, fold_plus=fold_plus, fold_gmail_dots=fold_dots) == once
    assert once == once.casefold()
    assert email_domain(once).isascii()
    pasted = data.draw(wrapped(address))
    assert normalize_email(pasted, fold_plus=fold_plus, fold_gmail_dots=fold_dots) == once


@PROPERTY_SETTINGS
@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes(text: str) -> None:
    for func in (normalize_email, normalize_phone):
        try:
            once = func(text)
        except InvalidIdentifier:
            continue
        assert func(once) == once
