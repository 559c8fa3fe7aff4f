"""Redaction of personal identifiers before they reach logs or traces."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"(?i)\b([a-z0-9._%+-])[a-z0-9._%+-]*@([a-z0-9-]+\.)+[a-z]{2,}\b")
# A phone-looking run: optional + or whatsapp: prefix, then 7+ digits with separators.
_PHONE = re.compile(r"(?:whatsapp:)?\+?\d[\d\s().-]{5,}\d")


def redact(text: str) -> str:
    """Mask emails (keep the first letter) and phone numbers (keep the last two digits)."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@***", text)
    return _PHONE.sub(_mask_phone, text)


def _mask_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if len(digits) < 7:
        return match.group(0)
    return f"***{digits[-2:]}"
