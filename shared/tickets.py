"""Ticket vocabulary every service shares."""

from __future__ import annotations

#: Ticket categories: (value, label shown to customers).
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("general", "General question"),
    ("technical", "Technical problem"),
    ("billing", "Billing"),
    ("feedback", "Feedback"),
    ("bug_report", "Bug report"),
)
CATEGORY_VALUES: tuple[str, ...] = tuple(value for value, _ in CATEGORIES)
