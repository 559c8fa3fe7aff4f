"""Validation of the support form."""

from __future__ import annotations

import pytest

from services.ingress_web.form import validate_submission

VALID = {
    "name": "Ana Ruiz",
    "email": "ana@example.com",
    "subject": "Cannot log in",
    "message": "I cannot log in since this morning.",
    "category": "technical",
}


def test_a_valid_submission_is_trimmed() -> None:
    submission, errors = validate_submission({**VALID, "name": "  Ana Ruiz  ", "phone": " +1 415 555 0100 "})
    assert errors == {}
    assert submission is not None
    assert submission.name == "Ana Ruiz" and submission.phone == "+1 415 555 0100"


def test_category_defaults_to_general_and_phone_is_optional() -> None:
    submission, errors = validate_submission({k: v for k, v in VALID.items() if k != "category"})
    assert errors == {} and submission is not None
    assert submission.category == "general" and submission.phone is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", " A "),
        ("email", "ana.example.com"),
        ("email", "ana@localhost"),
        ("email", "a b@example.com"),
        ("subject", "Hi"),
        ("message", "123456789"),
        ("message", "m" * 5001),
        ("category", "other"),
        ("phone", "12"),
        ("phone", "phone me"),
        ("email", ["a@example.com"]),
    ],
)
def test_each_rule_names_its_field(field: str, value: object) -> None:
    submission, errors = validate_submission({**VALID, field: value})
    assert submission is None
    assert list(errors) == [field]


def test_limits_are_inclusive() -> None:
    for message in ("m" * 10, "m" * 5000):
        assert validate_submission({**VALID, "message": message})[1] == {}
