"""Typed settings read from environment variables (documented in the README)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _float(name: str, default: float) -> float:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


@dataclass(frozen=True, kw_only=True)
class Settings:
    nats_url: str | None = None
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".fte")
    log_level: str = "INFO"
    log_format: str = "json"
    worker_concurrency: int = 8
    db_pool_size: int = 10
    public_base_url: str | None = None
    otlp_endpoint: str | None = None
    service_name: str = "fte"
    max_body_bytes: int = 64 * 1024
    conversation_window_hours: float = 24.0
    default_region: str = "US"
    staff_token: str | None = field(default=None, repr=False)
    brand: str = "Orbitly Support"

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            nats_url=_env("NATS_URL"),
            database_url=_env("DATABASE_URL"),
            host=_env("FTE_HOST", "127.0.0.1") or "127.0.0.1",
            port=_int("FTE_PORT", 8000),
            data_dir=Path(_env("FTE_DATA_DIR", ".fte") or ".fte"),
            log_level=(_env("FTE_LOG_LEVEL", "INFO") or "INFO").upper(),
            log_format=_env("FTE_LOG_FORMAT", "json") or "json",
            worker_concurrency=_int("FTE_WORKER_CONCURRENCY", 8),
            db_pool_size=_int("FTE_DB_POOL_SIZE", 10),
            public_base_url=_env("FTE_PUBLIC_BASE_URL"),
            otlp_endpoint=_env("OTEL_EXPORTER_OTLP_ENDPOINT"),
            service_name=_env("OTEL_SERVICE_NAME", "fte") or "fte",
            max_body_bytes=_int("FTE_MAX_BODY_BYTES", 64 * 1024),
            conversation_window_hours=_float("FTE_CONVERSATION_WINDOW_HOURS", 24.0),
            default_region=_env("FTE_DEFAULT_REGION", "US") or "US",
            staff_token=_env("FTE_STAFF_TOKEN"),
            brand=_env("FTE_BRAND", "Orbitly Support") or "Orbitly Support",
        )
