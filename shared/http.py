"""One Litestar application for whatever services run in this process, plus health and readiness."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from litestar import Litestar, MediaType, Request, Response, get
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import Scope
from opentelemetry.trace import Span
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.runtime import Runtime, ServiceGroup, ServiceParts

UNTRACED_PATHS = ["/health", "/ready", "/metrics$", "/static"]


def _drop_query_string(span: Span, scope: Scope) -> None:
    """Query strings can carry emails and phone numbers (the staff lookup): spans keep the path only."""
    if not scope.get("query_string") or not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for key in ("http.url", "url.full"):
        url = attributes.get(key)
        if isinstance(url, str):
            span.set_attribute(key, url.split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "")


def web_dir() -> Path:
    return Path(str(resources.files("web")))


@get("/health", media_type=MediaType.JSON, include_in_schema=False)
async def health(request: Request) -> dict[str, object]:
    """Alive: the process answers."""
    return {"status": "ok", "services": request.app.state.service_names}


@get("/ready", media_type=MediaType.JSON, include_in_schema=False)
async def ready(request: Request) -> Response[dict[str, object]]:
    """Ready: NATS and the database answer. Disabled channels are listed, not failures."""
    runtime: Runtime = request.app.state.runtime
    group: ServiceGroup = request.app.state.group
    nats_ok = await runtime.bus.ping()
    try:
        db_ok = bool(await asyncio.wait_for(runtime.pool.fetchval("SELECT true"), timeout=2))
    except Exception:
        db_ok = False
    ok = nats_ok and db_ok
    body: dict[str, object] = {
        "status": "ready" if ok else "not_ready",
        "checks": {"nats": nats_ok, "database": db_ok},
        "channels": {c.name: {"enabled": c.enabled, "detail": c.detail} for c in group.channels},
    }
    return Response(body, status_code=200 if ok else 503)


@get("/metrics", media_type="text/plain", include_in_schema=False)
async def prometheus_metrics() -> Response[bytes]:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def build_app(runtime: Runtime, group: ServiceGroup, parts: Sequence[ServiceParts], *, debug: bool = False) -> Litestar:
    handlers: list[object] = [health, ready, prometheus_metrics]
    for part in parts:
        handlers.extend(part.routes)
    handlers.append(create_static_files_router(path="/static", directories=[web_dir() / "static"]))
    app = Litestar(
        route_handlers=handlers,
        template_config=TemplateConfig(directory=web_dir() / "templates", engine=JinjaTemplateEngine),
        request_max_body_size=runtime.settings.max_body_bytes,
        plugins=[
            OpenTelemetryPlugin(
                OpenTelemetryConfig(exclude=UNTRACED_PATHS, server_request_hook_handler=_drop_query_string)
            )
        ],
        openapi_config=OpenAPIConfig(title="Customer Success mesh", version="0.1.0", path="/schema"),
        debug=debug,
        logging_config=None,
    )
    app.state.runtime = runtime
    app.state.group = group
    app.state.service_names = [p.name for p in parts]
    return app
