"""Serve a Litestar app with uvicorn inside this event loop (the stack and the provider stand-ins)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import uvicorn
from litestar import Litestar

from shared.embedded import free_port


class _QuietServer(uvicorn.Server):
    """Uvicorn without its own signal handling: whoever runs it drains and stops it."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def, override]
        yield


async def serve(
    app: Litestar, *, host: str = "127.0.0.1", port: int | None = None, stop_timeout: float = 5.0
) -> tuple[str, Callable[[], Awaitable[None]]]:
    """Start ``app``; returns its base URL and a coroutine function that stops it."""
    port = port or free_port(host)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=75,  # longer than the idle timeout of the usual load balancers
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the HTTP server stopped during start-up")
        await asyncio.sleep(0.01)

    async def stop() -> None:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=stop_timeout)

    return f"http://{host}:{port}", stop
