"""Local stand-ins for the providers we cannot reach (Twilio, Google), served over real HTTP.

The real client libraries talk to them through the configurable base URLs. Used by the tests, by
`fte up --fake-providers` (a full local demo of all three channels, clearly labelled) and by
`fte simulate`. Never used in production: a stand-in only runs when it is asked for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class RunningFake:
    """A started stand-in: its base URL, the environment that points our code at it, how to stop it."""

    name: str
    base_url: str
    env: dict[str, str] = field(default_factory=dict)
    stop: Callable[[], Awaitable[None]] | None = None
    state: object | None = None
