"""Typed settings read from environment variables (documented in the README)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class _Reader:
    """Typed access to an environment mapping; empty strings count as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def __call__(self, name: str, default: str | None = None) -> str | None:
        value = self.environ.get(name)
        return value if value not in (None, "") else default

    def int(self, name: str, default: int) -> int:
        return _int(self(name), name, default)

    def float(self, name: str, default: float) -> float:
        return _float(self(name), name, default)


def _int(raw: str | None, name: str, default: int) -> int:
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _float(raw: str | None, name: str, default: float) -> float:
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
    # Twilio (WhatsApp)
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_whatsapp_from: str | None = None
    twilio_api_base_url: str | None = None
    twilio_template_sid: str | None = None
    # Gmail
    gmail_credentials_file: str | None = None
    gmail_mailbox: str | None = None
    gmail_api_base_url: str | None = None
    gmail_pubsub_audience: str | None = None
    gmail_pubsub_service_account: str | None = None
    gmail_pubsub_certs_url: str | None = None
    gmail_pubsub_topic: str | None = None
    gmail_poll_seconds: float = 60.0
    # The agent's brain and embeddings
    brain: str | None = None
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    model: str = "gpt-4o-mini"
    embeddings: str | None = None
    embedding_model: str = "text-embedding-3-small"
    embedding_threads: int = 1
    policy_file: str | None = None

    @property
    def whatsapp_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_whatsapp_from)

    @property
    def gmail_configured(self) -> bool:
        return bool(self.gmail_credentials_file and self.gmail_mailbox)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (default: the process environment)."""
        _env = _Reader(os.environ if environ is None else environ)
        return cls(
            nats_url=_env("NATS_URL"),
            database_url=_env("DATABASE_URL"),
            host=_env("FTE_HOST", "127.0.0.1") or "127.0.0.1",
            port=_env.int("FTE_PORT", 8000),
            data_dir=Path(_env("FTE_DATA_DIR", ".fte") or ".fte"),
            log_level=(_env("FTE_LOG_LEVEL", "INFO") or "INFO").upper(),
            log_format=_env("FTE_LOG_FORMAT", "json") or "json",
            worker_concurrency=_env.int("FTE_WORKER_CONCURRENCY", 8),
            db_pool_size=_env.int("FTE_DB_POOL_SIZE", 10),
            public_base_url=_env("FTE_PUBLIC_BASE_URL"),
            otlp_endpoint=_env("OTEL_EXPORTER_OTLP_ENDPOINT"),
            service_name=_env("OTEL_SERVICE_NAME", "fte") or "fte",
            max_body_bytes=_env.int("FTE_MAX_BODY_BYTES", 64 * 1024),
            conversation_window_hours=_env.float("FTE_CONVERSATION_WINDOW_HOURS", 24.0),
            default_region=_env("FTE_DEFAULT_REGION", "US") or "US",
            staff_token=_env("FTE_STAFF_TOKEN"),
            brand=_env("FTE_BRAND", "Orbitly Support") or "Orbitly Support",
            twilio_account_sid=_env("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=_env("TWILIO_AUTH_TOKEN"),
            twilio_whatsapp_from=_env("TWILIO_WHATSAPP_FROM"),
            twilio_api_base_url=_env("TWILIO_API_BASE_URL"),
            twilio_template_sid=_env("TWILIO_TEMPLATE_SID"),
            gmail_credentials_file=_env("GMAIL_CREDENTIALS_FILE"),
            gmail_mailbox=_env("GMAIL_MAILBOX"),
            gmail_api_base_url=_env("GMAIL_API_BASE_URL"),
            gmail_pubsub_audience=_env("GMAIL_PUBSUB_AUDIENCE"),
            gmail_pubsub_service_account=_env("GMAIL_PUBSUB_SERVICE_ACCOUNT"),
            gmail_pubsub_certs_url=_env("GMAIL_PUBSUB_CERTS_URL"),
            gmail_pubsub_topic=_env("GMAIL_PUBSUB_TOPIC"),
            gmail_poll_seconds=_env.float("FTE_GMAIL_POLL_SECONDS", 60.0),
            brain=_env("FTE_BRAIN"),
            openai_api_key=_env("OPENAI_API_KEY"),
            openai_base_url=_env("OPENAI_BASE_URL"),
            model=_env("FTE_MODEL", "gpt-4o-mini") or "gpt-4o-mini",
            embeddings=_env("FTE_EMBEDDINGS"),
            embedding_model=_env("FTE_EMBEDDING_MODEL", "text-embedding-3-small") or "text-embedding-3-small",
            policy_file=_env("FTE_POLICY_FILE"),
            embedding_threads=_env.int("FTE_EMBEDDING_THREADS", 1),
        )
