"""Helpers shared by the tests."""

from __future__ import annotations

import asyncio
import uuid


async def eventually(check, *, timeout: float = 20.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll an async ``check`` until it returns something truthy; fail with its last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = None
    while loop.time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


def unique_email(prefix: str = "customer") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def submission(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": "Ana Ruiz",
        "email": unique_email(),
        "subject": "Password reset",
        "message": "How do I reset my password? I forgot it and cannot sign in.",
        "category": "technical",
    }
    body.update(overrides)
    return body
