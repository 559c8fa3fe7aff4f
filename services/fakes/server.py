"""Serve a stand-in's Litestar app on a free port in this event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import uvicorn
from litestar import Litestar

from shared.embedded import free_port


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def, override]
        yield


async def serve(
    app: Litestar, *, host: str = "127.0.0.1", port: int | None = None
) -> tuple[str, Callable[[], Awaitable[None]]]:
    """Start ``app``; returns its base URL and a coroutine function that stops it."""
    port = port or free_port(host)
    server = _QuietServer(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("stand-in server stopped during start-up")
        await asyncio.sleep(0.01)

    async def stop() -> None:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=5)

    return f"http://{host}:{port}", stop
