"""Delivery statuses only move forwards. Plain functions: providers report late, twice and out of order."""

from __future__ import annotations

from collections.abc import Iterable

PROGRESS: tuple[str, ...] = ("queued", "sending", "sent", "delivered", "read")
FAILURES: tuple[str, ...] = ("failed", "undelivered")
_RANK = {status: rank for rank, status in enumerate(PROGRESS)}
# Once the customer has the message, a later failure report cannot take that back.
_REACHED = ("delivered", "read")


def advance(current: str | None, new: str) -> str:
    """The status after a report of ``new``: forwards only; a failure is terminal but never
    overwrites delivered or read; unknown statuses change nothing."""
    if current is None:
        return new
    if current == new or current in FAILURES:
        return current
    if new in FAILURES:
        return current if current in _REACHED else new
    if new not in _RANK:
        return current
    if current not in _RANK:
        return new
    return new if _RANK[new] > _RANK[current] else current


def aggregate(statuses: Iterable[str]) -> str:
    """One reply sent as several parts: failed when a part failed, otherwise as far as the slowest part."""
    found = list(statuses)
    if not found:
        return "queued"
    for failure in FAILURES:
        if failure in found:
            return failure
    return min(found, key=lambda status: _RANK.get(status, 0))


def is_final(status: str | None) -> bool:
    """The outcome a customer-facing count cares about: it reached the customer, or it never will."""
    return status in _REACHED or status in FAILURES
