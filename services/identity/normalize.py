"""Normalisation of customer identifiers (email addresses and phone numbers).

Every identifier is normalised before it is stored or looked up, so that the
same customer writing from ``"Ana Ruiz" <Ana@Example.COM>`` and from
``mailto:ana@example.com`` - or from ``whatsapp:+44 7911 123456`` and
``07911 123456`` - resolves to one key.

The functions are pure (no I/O, no global state) and idempotent: feeding a
normalised value back in returns it unchanged.

Policy decisions worth knowing:

* Emails are case-folded as a whole (local part included) and NFC-normalised.
  Quoted local parts (``"john doe"@x.com``), comments and IP-literal domains
  are rejected. A trailing dot on the domain (``ana@x.com.``) is rejected.
  Non-ASCII domains are converted to punycode with Python's ``idna`` codec
  (IDNA 2003); non-ASCII letters are allowed in the local part (RFC 6531).
* Plus tags and dots are kept by default, because for most providers they
  address distinct mailboxes; ``fold_plus`` / ``fold_gmail_dots`` opt in.
  ``fold_plus`` leaves the tag in place when the part before ``+`` would not
  be a valid local part on its own (``+tag@x.com``, ``ana.+tag@x.com``).
* Phone numbers with an extension (``ext. 12``, ``x12``, ``;ext=12``) are
  **rejected**, not dropped: an extension usually means a shared switchboard,
  and dropping it would silently link colleagues to one identity.
* Phone numbers only need to be *possible* (right length for the country),
  not *valid*, so fictional 555-01xx demo numbers work. Numbers that are only
  possible locally (no area code, e.g. ``555-0100``) are rejected, since they
  have no meaningful E.164 form. Vanity letters (``1-800-FLOWERS``) are
  rejected. The legacy Mexican mobile form +52 1 XXXXXXXXXX (still used by
  WhatsApp) is mapped to +52 XXXXXXXXXX.
* Error messages never contain the raw identifier, so they are safe to log.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal
from urllib.parse import unquote

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

__all__ = [
    "PUBLIC_EMAIL_DOMAINS",
    "InvalidIdentifier",
    "email_domain",
    "is_shared_company_domain",
    "normalize_email",
    "normalize_phone",
]

Field = Literal["email", "phone"]


class InvalidIdentifier(ValueError):
    """Raised when an email address or phone number cannot be normalised.

    ``field`` is ``"email"`` or ``"phone"``; ``reason`` is human-readable text
    that never includes the rejected value (it may be personal data).
    """

    def __init__(self, field: Field, reason: str) -> None:
        super().__init__(f"invalid {field}: {reason}")
        self.field: Field = field
        self.reason: str = reason

    def __reduce__(self) -> tuple[type[InvalidIdentifier], tuple[Field, str]]:
        """Keep the exception picklable despite the custom constructor."""
        return (type(self), (self.field, self.reason))


# --------------------------------------------------------------------------- shared helpers

# Invisible characters commonly pasted along with identifiers: zero-width
# spaces/joiners, word joiner, BOM, soft hyphen and bidi controls (phone
# numbers copied from right-to-left UIs are wrapped in U+202A ... U+202C).
_INVISIBLE = dict.fromkeys(
    map(
        ord,
        "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    )
)

_MAX_RAW_LENGTH = 1024


def _clean(raw: str, field: Field) -> str:
    """Type-check, drop invisible characters and strip surrounding whitespace."""
    if not isinstance(raw, str):
        raise TypeError(f"{field} must be a str, not {type(raw).__name__}")
    if len(raw) > _MAX_RAW_LENGTH:
        raise InvalidIdentifier(field, "input is too long")
    text = raw.translate(_INVISIBLE).strip()
    if not text:
        raise InvalidIdentifier(field, "empty value")
    return text


def _strip_prefix(text: str, prefix: str) -> str | None:
    """Return ``text`` without a case-insensitive ``prefix``, or None if absent."""
    if text[: len(prefix)].casefold() == prefix:
        return text[len(prefix) :].strip()
    return None


# --------------------------------------------------------------------------- email

PUBLIC_EMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        # Google
        "gmail.com",
        "googlemail.com",
        # Microsoft
        "outlook.com",
        "outlook.fr",
        "outlook.de",
        "outlook.es",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.de",
        "hotmail.es",
        "hotmail.it",
        "live.com",
        "live.co.uk",
        "live.fr",
        "msn.com",
        # Yahoo / AOL
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yahoo.de",
        "yahoo.es",
        "yahoo.it",
        "yahoo.com.br",
        "yahoo.com.mx",
        "yahoo.co.in",
        "yahoo.co.jp",
        "ymail.com",
        "rocketmail.com",
        "aol.com",
        # Apple
        "icloud.com",
        "me.com",
        "mac.com",
        # Privacy-focused and independent providers
        "proton.me",
        "protonmail.com",
        "protonmail.ch",
        "pm.me",
        "tutanota.com",
        "tuta.io",
        "fastmail.com",
        "hey.com",
        "zoho.com",
        "mail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "t-online.de",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
        "yandex.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        "rediffmail.com",
        "uol.com.br",
        "bol.com.br",
        # ISP mailboxes
        "comcast.net",
        "att.net",
        "sbcglobal.net",
        "verizon.net",
        "btinternet.com",
    }
)

_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})

# RFC 5322 "atext" (ASCII) for an unquoted dot-atom local part.
_ASCII_ATEXT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-")
_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")

_MAX_LOCAL_OCTETS = 64
_MAX_DOMAIN_OCTETS = 253
_MAX_ADDRESS_OCTETS = 254


def _unwrap_email(text: str) -> str:
    """Remove a display name, angle brackets and ``mailto:`` wrappers."""
    for _ in range(4):  # wrappers can nest: "Ana" <mailto:ana@x.com>
        if text.endswith(">") and "<" in text:
            # Display-name form; the address is the last <...> group.
            text = text[text.rindex("<") + 1 : -1].strip()
            continue
        rest = _strip_prefix(text, "mailto:")
        if rest is not None:
            # mailto: URIs may carry ?subject=... and percent-encoding.
            text = unquote(rest.split("?", 1)[0]).strip()
            continue
        break
    return text


def _fold_case(text: str) -> str:
    """Case-fold and NFC-normalise until stable (keeps the result idempotent)."""
    for _ in range(4):
        folded = unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())
        if folded == text:
            break
        text = folded
    return text


def _local_char_ok(ch: str) -> bool:
    """True for characters allowed in an unquoted local part (ASCII atext or a Unicode letter/digit)."""
    if ch in _ASCII_ATEXT:
        return True
    return not ch.isascii() and unicodedata.category(ch)[0] in "LMN"


def _check_local(local: str) -> None:
    """Validate an (already case-folded) local part."""
    if not local:
        raise InvalidIdentifier("email", "empty local part")
    if len(local.encode("utf-8")) > _MAX_LOCAL_OCTETS:
        raise InvalidIdentifier("email", "local part longer than 64 characters")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidIdentifier("email", "misplaced dot in local part")
    if local.startswith('"'):
        raise InvalidIdentifier("email", "quoted local parts are not supported")
    bad = next((ch for ch in local if ch != "." and not _local_char_ok(ch)), None)
    if bad is not None:
        what = "whitespace" if bad.isspace() else f"character U+{ord(bad):04X}"
        raise InvalidIdentifier("email", f"{what} not allowed in local part")


def _is_valid_local(local: str) -> bool:
    """Boolean form of :func:`_check_local`."""
    try:
        _check_local(local)
    except InvalidIdentifier:
        return False
    return True


def _domain_to_ascii(domain: str) -> str:
    """Convert a case-folded domain to validated ASCII (punycode for IDN labels)."""
    if not domain:
        raise InvalidIdentifier("email", "empty domain")
    if domain.startswith("["):
        raise InvalidIdentifier("email", "IP-literal domains are not supported")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise InvalidIdentifier("email", "domain is not a valid internationalised name") from exc
    if domain.endswith("."):
        raise InvalidIdentifier("email", "domain must not end with a dot")
    labels = domain.split(".")
    if len(labels) < 2:
        raise InvalidIdentifier("email", "domain has no dot")
    if "" in labels:
        raise InvalidIdentifier("email", "domain has an empty label")
    for label in labels:
        if not _LABEL_RE.fullmatch(label):
            raise InvalidIdentifier("email", "domain labels must be letters, digits or inner hyphens")
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError as exc:
                raise InvalidIdentifier("email", "domain has an invalid punycode label") from exc
    if labels[-1].isdigit():
        raise InvalidIdentifier("email", "top-level domain cannot be numeric")
    if len(domain) > _MAX_DOMAIN_OCTETS:
        raise InvalidIdentifier("email", "domain longer than 253 characters")
    return domain


def normalize_email(raw: str, *, fold_plus: bool = False, fold_gmail_dots: bool = False) -> str:
    """Return the canonical form of an email address or raise InvalidIdentifier(field="email").

    Accepts surrounding whitespace (incl. non-breaking / zero-width), ``<...>``,
    ``mailto:`` and display-name forms (``"Ana Ruiz" <ana@x.com>``). The result
    is case-folded with an ASCII (punycode) domain. ``fold_plus`` drops a
    ``+tag`` from the local part (any domain); ``fold_gmail_dots`` removes dots
    from the local part for gmail.com / googlemail.com only.
    """
    text = _fold_case(_unwrap_email(_clean(raw, "email")))
    if not text:
        raise InvalidIdentifier("email", "empty value")
    if text.count("@") != 1:
        raise InvalidIdentifier("email", "address must contain exactly one @")
    local, _, domain = text.partition("@")
    _check_local(local)
    domain = _domain_to_ascii(domain)

    if fold_plus and "+" in local:
        base = local.split("+", 1)[0]
        if _is_valid_local(base):  # "+tag@x.com" / "ana.+tag@x.com": nothing sane to fold onto
            local = base
    if fold_gmail_dots and domain in _GMAIL_DOMAINS:
        local = local.replace(".", "")

    address = f"{local}@{domain}"
    if len(address.encode("utf-8")) > _MAX_ADDRESS_OCTETS:
        raise InvalidIdentifier("email", "address longer than 254 characters")
    return address


def email_domain(normalized: str) -> str:
    """Return the domain of an address already returned by :func:`normalize_email`."""
    _, at, domain = normalized.rpartition("@")
    if not at or not domain:
        raise InvalidIdentifier("email", "address must contain a domain after @")
    return domain


def is_shared_company_domain(domain: str) -> bool:
    """True when ``domain`` is not a public mailbox provider (i.e. an organisation's own domain).

    Colleagues share such a domain, so it must never be used on its own to
    link two people. Accepts any case, a trailing dot and Unicode (IDN) names;
    raises InvalidIdentifier(field="email") for something that is not a domain.
    """
    text = _domain_to_ascii(_fold_case(_clean(domain, "email")).removesuffix("."))
    return text not in PUBLIC_EMAIL_DOMAINS


# --------------------------------------------------------------------------- phone

# Characters people use to group digits; everything else except digits and a
# leading "+" is rejected before phonenumbers sees it (it would otherwise turn
# vanity letters into digits and swallow trailing junk).
_PHONE_SEPARATORS = frozenset(" \t-.()/[]\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
_EXTENSION_RE = re.compile(r"(?i)(?<![a-z])(?:extension|ext|x)\s*[.:=]?\s*\d|#\s*\d")
_MAX_PHONE_LENGTH = 64

_POSSIBILITY_REASONS: dict[int, str] = {
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country calling code",
    ValidationResult.TOO_SHORT: "too short for its country",
    ValidationResult.TOO_LONG: "too long for its country",
    ValidationResult.INVALID_LENGTH: "impossible length for its country",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "local number without an area code",
}


_PARSE_REASONS: dict[int, str] = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country calling code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


def _region(default_region: str) -> str:
    """Validate and upper-case a CLDR region code (a programming error if unknown)."""
    region = default_region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unsupported default_region {default_region!r}")
    return region


def _compact_phone(text: str) -> str:
    """Strip URI prefixes and separators; map a leading 00 to +; reject anything else."""
    for _ in range(3):  # "whatsapp:tel:+1..." style nesting
        for prefix in ("whatsapp:", "tel:"):
            rest = _strip_prefix(text, prefix)
            if rest is not None:
                text = rest
                break
        else:
            break
    if not text:
        raise InvalidIdentifier("phone", "no digits after prefix")
    if _EXTENSION_RE.search(text):
        raise InvalidIdentifier("phone", "extensions are not supported")

    out: list[str] = []
    for ch in text:
        if ch.isdecimal():
            out.append(ch)
        elif ch == "+" or ch == "\uff0b":  # plus, incl. full-width
            if out:
                raise InvalidIdentifier("phone", "'+' is only allowed at the start")
            out.append("+")
        elif ch in _PHONE_SEPARATORS or ch.isspace():
            continue
        elif ch.isalpha():
            raise InvalidIdentifier("phone", "letters are not allowed")
        else:
            raise InvalidIdentifier("phone", f"character U+{ord(ch):04X} is not allowed")
    compact = "".join(out)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not compact.lstrip("+"):
        raise InvalidIdentifier("phone", "no digits")
    return compact


def _drop_mexican_mobile_one(number: phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber:
    """Map the legacy Mexican mobile form +52 1 XXXXXXXXXX to today's +52 XXXXXXXXXX.

    Mexico dropped the "1" mobile prefix in 2019, but WhatsApp (and so Twilio's
    ``whatsapp:`` senders) still reports Mexican numbers as +521 + 10 digits.
    Eleven-digit Mexican national numbers are otherwise impossible, so the
    mapping is unambiguous and lets the WhatsApp sender match the phone number.
    """
    national = str(number.national_number)
    if number.country_code == 52 and len(national) == 11 and national.startswith("1"):
        return phonenumbers.PhoneNumber(country_code=52, national_number=int(national[1:]))
    return number


def normalize_phone(raw: str, *, default_region: str = "US") -> str:
    """Return a phone number in E.164 form (``"+14155550100"``) or raise InvalidIdentifier(field="phone").

    Accepts ``whatsapp:`` / ``tel:`` prefixes (any case), spaces, dashes, dots,
    brackets, a leading ``+`` or ``00``, and national formats interpreted in
    ``default_region`` (ISO 3166 alpha-2, e.g. ``"GB"``). Extensions and
    vanity letters are rejected. The number must be *possible* for its
    country; it need not be *valid* (assigned), so 555-01xx demo numbers pass.
    An unknown ``default_region`` raises plain ValueError.
    """
    region = _region(default_region)
    text = _clean(raw, "phone")
    if len(text) > _MAX_PHONE_LENGTH:
        raise InvalidIdentifier("phone", "input is too long")
    compact = _compact_phone(text)
    try:
        number = phonenumbers.parse(compact, region)
    except NumberParseException as exc:
        reason = _PARSE_REASONS.get(exc.error_type, "unparseable number")
        raise InvalidIdentifier("phone", reason) from exc
    if number.extension:
        raise InvalidIdentifier("phone", "extensions are not supported")
    number = _drop_mexican_mobile_one(number)
    possibility = phonenumbers.is_possible_number_with_reason(number)
    if possibility != ValidationResult.IS_POSSIBLE:
        raise InvalidIdentifier("phone", _POSSIBILITY_REASONS.get(possibility, "impossible number"))
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
