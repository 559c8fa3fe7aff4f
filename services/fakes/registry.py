"""Where a running stand-in can be found by another process on this machine (`fte simulate` next to
`fte up --fake-providers`): a small JSON file per stand-in, keyed by the webhook base URL it serves."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _path(name: str, webhook_base_url: str) -> Path:
    key = hashlib.sha256(webhook_base_url.rstrip("/").encode()).hexdigest()[:16]
    user = getattr(os, "getuid", lambda: 0)()
    return Path(tempfile.gettempdir()) / f"fte-fakes-{user}" / f"{name}-{key}.json"


def register(name: str, webhook_base_url: str, info: dict[str, Any]) -> Callable[[], None]:
    """Record ``info``; returns the function that removes the record again."""
    path = _path(name, webhook_base_url)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(json.dumps(info), encoding="utf-8")

    def unregister() -> None:
        with contextlib.suppress(OSError):
            path.unlink()

    return unregister


def lookup(name: str, webhook_base_url: str) -> dict[str, Any] | None:
    try:
        found = json.loads(_path(name, webhook_base_url).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None
