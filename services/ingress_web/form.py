"""Validation of a support-form submission: plain rules, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from shared.tickets import CATEGORIES

FIELDS = ("name", "email", "phone", "subject", "category", "message")
MESSAGE_MIN, MESSAGE_MAX = 10, 5000

_EMAIL = re.compile(r"^[^@\s<>\"(),;:]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")
_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-]{7,24}$")


@dataclass(frozen=True, slots=True)
class Submission:
    name: str
    email: str
    subject: str
    category: str
    message: str
    phone: str | None = None


def validate_submission(data: Mapping[str, object]) -> tuple[Submission | None, dict[str, str]]:
    """Return the submission, or None and a message per invalid field."""
    errors: dict[str, str] = {}
    values = {key: _text(data.get(key)) for key in FIELDS}
    for key in data:
        if key in FIELDS and data[key] is not None and not isinstance(data[key], str):
            errors[key] = "Must be text."

    name = values["name"]
    if "name" not in errors and len(name) < 2:
        errors["name"] = "Enter your name (at least 2 characters)."
    elif len(name) > 200:
        errors["name"] = "Name is too long (at most 200 characters)."

    email = values["email"]
    if "email" not in errors and (len(email) > 254 or not _EMAIL.match(email)):
        errors["email"] = "Enter a valid email address, like name@example.com."

    phone = values["phone"] or None
    if phone and "phone" not in errors and not (_PHONE_CHARS.match(phone) and _digits(phone) >= 7):
        errors["phone"] = "Enter a valid phone number, like +1 415 555 0100, or leave it empty."

    subject = values["subject"]
    if "subject" not in errors and len(subject) < 5:
        errors["subject"] = "Enter a subject (at least 5 characters)."
    elif len(subject) > 200:
        errors["subject"] = "Subject is too long (at most 200 characters)."

    category = values["category"] or "general"
    if "category" not in errors and category not in {value for value, _ in CATEGORIES}:
        errors["category"] = "Choose one of: " + ", ".join(value for value, _ in CATEGORIES) + "."

    message = values["message"]
    if "message" not in errors and not MESSAGE_MIN <= len(message) <= MESSAGE_MAX:
        errors["message"] = f"Write between {MESSAGE_MIN} and {MESSAGE_MAX} characters."

    if errors:
        return None, errors
    return Submission(name, email, subject, category, message, phone), {}


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _digits(value: str) -> int:
    return sum(ch.isdigit() for ch in value)
